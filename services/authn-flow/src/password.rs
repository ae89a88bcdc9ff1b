//! Password hashing, verification and Cognito's password policy.
//!
//! Argon2id costs ~16 ms of CPU per hash on this kind of machine, so it must never
//! run on the async runtime's threads: a handful of logins would stall every other
//! request. [`PasswordHasherPool`] runs it on a fixed set of OS threads (one per core),
//! each reusing its 19 MiB argon2 memory (fresh allocation per hash costs ~35% of
//! throughput) while it has work, and giving it back after [`IDLE_RELEASE`] without any
//! (an idle server holds no hashing memory), behind a bounded queue that refuses work immediately when full. Shedding
//! early keeps latency bounded for the requests we do accept, instead of letting a burst
//! queue up seconds of work that clients will have abandoned.

use std::hint::black_box;
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, PoisonError};

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{ARGON2ID_IDENT, Algorithm, Argon2, Block, Params, Version};
use subtle::ConstantTimeEq as _;
use tokio::sync::oneshot;

use portcullis_password_hashes::{Argon2Hash, Imported};

/// argon2id memory cost in KiB (OWASP's first recommendation, the crate default).
pub const M_COST: u32 = 19_456;
/// argon2id iterations.
pub const T_COST: u32 = 2;
/// argon2id lanes. One lane: parallelism comes from hashing many passwords at once.
pub const P_COST: u32 = 1;
/// Salt length in bytes (RFC 9106 recommends 16).
const SALT_LEN: usize = 16;
/// Hash output length in bytes.
const OUTPUT_LEN: usize = 32;

/// A valid hash with our current parameters, of a random password nobody knows.
///
/// Verify against it when the user does not exist, so the response takes the same
/// time as for a real user and timing does not reveal who has an account. Always treat
/// the outcome as a failure.
#[must_use]
pub fn dummy_hash() -> &'static str {
    "$argon2id$v=19$m=19456,t=2,p=1$0kJi8Z4x/lMCzp1DvHBD9A$4loETqPLi+30BTOggUsVWmIDohV6Rte4khscjFBx9Oo"
}

/// Why the pool could not answer.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PoolError {
    /// The queue is full; the caller should answer "too many requests" now.
    #[error("password hashing is overloaded")]
    Overloaded,
    /// No hashing thread is running (they could not be started, or the pool is gone).
    #[error("password hashing pool is not running")]
    Closed,
    /// The stored hash is not a PHC string we can verify, or asks for excessive cost.
    #[error("stored password hash is malformed or unsupported")]
    InvalidHash,
    /// Random salt generation or argon2 itself failed.
    #[error("password hashing failed")]
    Hash,
}

/// A password (or other secret) that is overwritten when dropped, so it does not linger
/// in freed heap memory after the job. Best effort: copies made before it reached us
/// are outside our control.
struct Secret(Vec<u8>);

impl Drop for Secret {
    fn drop(&mut self) {
        self.0.fill(0);
        black_box(&self.0);
    }
}

enum Job {
    Hash {
        password: Secret,
        reply: oneshot::Sender<Result<String, PoolError>>,
    },
    Verify {
        password: Secret,
        phc: String,
        reply: oneshot::Sender<Result<bool, PoolError>>,
    },
}

/// A bounded pool of argon2id threads. Cheap to share behind an `Arc`; dropping the last
/// handle lets the threads finish queued jobs and exit.
pub struct PasswordHasherPool {
    jobs: SyncSender<Job>,
    threads: usize,
}

impl PasswordHasherPool {
    /// Starts `threads` hashing threads (0 means one per available core) with room for
    /// `queue_limit` jobs waiting in front of them.
    ///
    /// Size `queue_limit` from the latency target: a job waits about
    /// `queue_limit / threads × 16 ms`. Threads that cannot be spawned are logged and
    /// skipped; if none starts, every call answers [`PoolError::Closed`].
    #[must_use]
    pub fn new(threads: usize, queue_limit: usize) -> Self {
        let wanted = if threads == 0 {
            default_threads()
        } else {
            threads
        };
        let (jobs, receiver) = mpsc::sync_channel(queue_limit);
        let threads = match our_params() {
            Ok(params) => spawn_workers(wanted, &Arc::new(Mutex::new(receiver)), &params),
            Err(error) => {
                tracing::error!(%error, "invalid argon2 parameters; password hashing disabled");
                0
            }
        };
        Self { jobs, threads }
    }

    /// Number of hashing threads actually running.
    #[must_use]
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Hashes a new password into a PHC string
    /// `$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>` (self-describing, so parameters
    /// can change later without breaking old hashes).
    ///
    /// # Errors
    /// [`PoolError::Overloaded`] at once when the queue is full; [`PoolError::Closed`]
    /// or [`PoolError::Hash`] on internal failure.
    pub async fn hash(&self, password: String) -> Result<String, PoolError> {
        let password = Secret(password.into_bytes());
        let (reply, answer) = oneshot::channel();
        self.submit(Job::Hash { password, reply })?;
        answer.await.map_err(|_| PoolError::Closed)?
    }

    /// Checks `password` against a stored PHC hash, using the parameters recorded in the
    /// hash (so hashes made with older parameters still verify) and a constant-time
    /// comparison.
    ///
    /// # Errors
    /// As [`Self::hash`], plus [`PoolError::InvalidHash`] for a malformed, non-argon2 or
    /// over-expensive stored hash.
    pub async fn verify(
        &self,
        password: String,
        phc: impl Into<String>,
    ) -> Result<bool, PoolError> {
        let password = Secret(password.into_bytes());
        let phc = phc.into();
        let (reply, answer) = oneshot::channel();
        self.submit(Job::Verify {
            password,
            phc,
            reply,
        })?;
        answer.await.map_err(|_| PoolError::Closed)?
    }

    /// Enqueues without ever blocking: a full queue is load to shed, not to wait for.
    fn submit(&self, job: Job) -> Result<(), PoolError> {
        self.jobs.try_send(job).map_err(|error| match error {
            TrySendError::Full(_) => PoolError::Overloaded,
            TrySendError::Disconnected(_) => PoolError::Closed,
        })
    }
}

impl std::fmt::Debug for PasswordHasherPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordHasherPool")
            .field("threads", &self.threads)
            .finish_non_exhaustive()
    }
}

/// One per available core; 1 if that cannot be determined.
#[must_use]
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

fn our_params() -> Result<Params, argon2::Error> {
    Params::new(M_COST, T_COST, P_COST, Some(OUTPUT_LEN))
}

type SharedReceiver = Arc<Mutex<Receiver<Job>>>;

/// Spawns up to `count` workers and returns how many started.
fn spawn_workers(count: usize, receiver: &SharedReceiver, params: &Params) -> usize {
    let mut started = 0;
    for index in 0..count {
        let receiver = Arc::clone(receiver);
        let params = params.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("argon2-{index}"))
            .spawn(move || worker_loop(&receiver, params));
        match spawned {
            Ok(_) => started += 1,
            Err(error) => tracing::error!(%error, "could not start password hashing thread"),
        }
    }
    started
}

/// How long a hashing thread keeps its argon2 memory without work.
pub const IDLE_RELEASE: std::time::Duration = std::time::Duration::from_secs(1);

fn worker_loop(receiver: &SharedReceiver, params: Params) {
    let mut worker = Worker::new(params);
    loop {
        let idle_after = (!worker.memory.is_empty()).then_some(IDLE_RELEASE);
        match next_job(receiver, idle_after) {
            Next::Job(job) => worker.run(job),
            Next::Idle => worker.release(),
            Next::Closed => return,
        }
    }
}

enum Next {
    Job(Job),
    /// No job came within the time given.
    Idle,
    /// Every pool handle is gone.
    Closed,
}

/// Waits for the next job, for at most `idle_after` when given.
fn next_job(receiver: &Mutex<Receiver<Job>>, idle_after: Option<std::time::Duration>) -> Next {
    // The lock is only held while waiting, never while hashing; a poisoned lock still
    // guards a usable receiver.
    let receiver = receiver.lock().unwrap_or_else(PoisonError::into_inner);
    match idle_after {
        Some(timeout) => match receiver.recv_timeout(timeout) {
            Ok(job) => Next::Job(job),
            Err(mpsc::RecvTimeoutError::Timeout) => Next::Idle,
            Err(mpsc::RecvTimeoutError::Disconnected) => Next::Closed,
        },
        None => receiver.recv().map_or(Next::Closed, Next::Job),
    }
}

/// A hashing thread's state: the argon2id instance and its reusable memory (empty
/// until the first job after start or after an idle release).
struct Worker {
    argon2: Argon2<'static>,
    memory: Vec<Block>,
}

impl Worker {
    fn new(params: Params) -> Self {
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        Self {
            argon2,
            memory: Vec::new(),
        }
    }

    /// The reusable memory, allocated if the worker holds none.
    fn memory(&mut self) -> &mut [Block] {
        if self.memory.is_empty() {
            self.memory = vec![Block::new(); self.argon2.params().block_count()];
        }
        &mut self.memory
    }

    /// Gives the memory back to the allocator (and, at this size, to the system).
    fn release(&mut self) {
        self.memory = Vec::new();
    }

    /// Runs a job unless its requester has gone away (timed out or disconnected), in
    /// which case the CPU is better spent on the next one.
    fn run(&mut self, job: Job) {
        match job {
            Job::Hash { password, reply } if !reply.is_closed() => {
                let _ = reply.send(self.hash(&password.0));
            }
            Job::Verify {
                password,
                phc,
                reply,
            } if !reply.is_closed() => {
                let _ = reply.send(self.verify(&password.0, &phc));
            }
            Job::Hash { .. } | Job::Verify { .. } => {}
        }
    }

    fn hash(&mut self, password: &[u8]) -> Result<String, PoolError> {
        let mut salt = [0u8; SALT_LEN];
        aws_lc_rs::rand::fill(&mut salt).map_err(|_| PoolError::Hash)?;
        let mut out = [0u8; OUTPUT_LEN];
        let argon2 = self.argon2.clone();
        argon2
            .hash_password_into_with_memory(password, &salt, &mut out, self.memory())
            .map_err(|_| PoolError::Hash)?;
        let phc = PasswordHash {
            algorithm: ARGON2ID_IDENT,
            version: Some(Version::V0x13.into()),
            params: ParamsString::try_from(self.argon2.params()).map_err(|_| PoolError::Hash)?,
            salt: Some(Salt::new(&salt).map_err(|_| PoolError::Hash)?),
            hash: Some(Output::new(&out).map_err(|_| PoolError::Hash)?),
        };
        Ok(phc.to_string())
    }

    fn verify(&mut self, password: &[u8], phc: &str) -> Result<bool, PoolError> {
        if let Some(imported) = Imported::parse(phc) {
            let imported = imported.map_err(|_| PoolError::InvalidHash)?;
            return imported
                .verify(password)
                .map_err(|_| PoolError::InvalidHash);
        }
        let stored = Argon2Hash::parse(phc).map_err(|_| PoolError::InvalidHash)?;
        let expected = stored.hash.as_bytes();
        let mut buffer = [0u8; Output::MAX_LENGTH];
        let out = buffer
            .get_mut(..expected.len())
            .ok_or(PoolError::InvalidHash)?;
        let block_count = stored.params.block_count();
        let argon2 = Argon2::new(stored.algorithm, stored.version, stored.params);
        let salt = stored.salt.as_ref();
        let result = match self.memory().get_mut(..block_count) {
            Some(memory) => argon2.hash_password_into_with_memory(password, salt, out, memory),
            // Older, larger parameters (within the crate's limits): a one-off buffer.
            None => argon2.hash_password_into(password, salt, out),
        };
        result.map_err(|_| PoolError::Hash)?;
        Ok(bool::from(out.ct_eq(expected)))
    }
}

/// Whether `phc` is an argon2id hash with the current parameters; anything else (an
/// imported hash, older parameters) is replaced at the next sign-in that proves the
/// password.
#[must_use]
pub fn is_current(phc: &str) -> bool {
    phc.strip_prefix("$argon2id$v=19$")
        .and_then(|rest| rest.split('$').next())
        .is_some_and(|params| params == format!("m={M_COST},t={T_COST},p={P_COST}"))
}

/// A user pool's password policy (Cognito's `PasswordPolicyType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Minimum length in characters (Unicode scalar values).
    pub minimum_length: usize,
    /// At least one of `A`–`Z`.
    pub require_uppercase: bool,
    /// At least one of `a`–`z`.
    pub require_lowercase: bool,
    /// At least one of `0`–`9`.
    pub require_numbers: bool,
    /// At least one of [`SYMBOLS`] (or an inner space).
    pub require_symbols: bool,
}

impl Default for Policy {
    /// Cognito's default policy: 8 characters and every character class.
    fn default() -> Self {
        Self {
            minimum_length: 8,
            require_uppercase: true,
            require_lowercase: true,
            require_numbers: true,
            require_symbols: true,
        }
    }
}

impl From<&portcullis_proto::events::v1::PasswordPolicy> for Policy {
    /// A literal copy: the stored policy is the resolved one (defaults already applied
    /// when the pool was created).
    fn from(policy: &portcullis_proto::events::v1::PasswordPolicy) -> Self {
        Self {
            minimum_length: usize::try_from(policy.minimum_length).unwrap_or(usize::MAX),
            require_uppercase: policy.require_uppercase,
            require_lowercase: policy.require_lowercase,
            require_numbers: policy.require_numbers,
            require_symbols: policy.require_symbols,
        }
    }
}

/// The characters Cognito documents as special characters. A space counts too, as long
/// as it is neither leading nor trailing (those are refused outright).
pub const SYMBOLS: &str = "^$*.[]{}()?\"!@#%&/\\,><':;|_~`=+-";

/// A random temporary password that satisfies `policy`: at least 12 characters, with one
/// of every character class whatever the policy requires, the rest mixed.
pub fn generate_temporary(policy: &Policy) -> Result<String, PoolError> {
    const CLASSES: [&str; 4] = [
        "ABCDEFGHJKLMNPQRSTUVWXYZ",
        "abcdefghijkmnopqrstuvwxyz",
        "23456789",
        "^$*.[]{}()?!@#%&/,><:;|_~=+-",
    ];
    let length = policy.minimum_length.max(12);
    let mut random = vec![0u8; length * 2];
    aws_lc_rs::rand::fill(&mut random).map_err(|_| PoolError::Hash)?;
    let pick = |set: &str, byte: u8| {
        let chars: Vec<char> = set.chars().collect();
        chars[usize::from(byte) % chars.len()]
    };
    let all: String = CLASSES.concat();
    let mut out: Vec<char> = CLASSES
        .iter()
        .zip(&random)
        .map(|(set, byte)| pick(set, *byte))
        .collect();
    out.extend(random[4..length].iter().map(|byte| pick(&all, *byte)));
    // Shuffle so the classes are not always in the same places (Fisher-Yates).
    for i in (1..out.len()).rev() {
        let j = usize::from(random[length + i % length]) % (i + 1);
        out.swap(i, j);
    }
    Ok(out.into_iter().collect())
}

/// Why a password was refused. `Display` is Cognito's exact message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PolicyViolation {
    /// Leading/trailing whitespace, a line break inside, or fewer than 2 characters:
    /// Cognito's API pattern `^[\S]+.*[\S]+$` rejects these before the policy applies,
    /// as an `InvalidParameterException`.
    #[error(
        "1 validation error detected: Value at 'password' failed to satisfy constraint: \
         Member must satisfy regular expression pattern: ^[\\S]+.*[\\S]+$"
    )]
    Pattern,
    /// Shorter than the policy's minimum length.
    #[error("Password did not conform with policy: Password not long enough")]
    TooShort,
    /// No lowercase letter.
    #[error("Password did not conform with policy: Password must have lowercase characters")]
    MissingLowercase,
    /// No uppercase letter.
    #[error("Password did not conform with policy: Password must have uppercase characters")]
    MissingUppercase,
    /// No digit.
    #[error("Password did not conform with policy: Password must have numeric characters")]
    MissingNumber,
    /// No symbol.
    #[error("Password did not conform with policy: Password must have symbol characters")]
    MissingSymbol,
}

impl PolicyViolation {
    /// The Cognito exception this violation is reported as.
    #[must_use]
    pub fn exception_name(self) -> &'static str {
        match self {
            Self::Pattern => "InvalidParameterException",
            _ => "InvalidPasswordException",
        }
    }
}

/// Checks `password` against `policy`, returning the first violation as Cognito would.
///
/// Order: the API pattern, then length, lowercase, uppercase, numbers, symbols. Cognito
/// reports one violation at a time and does not document its order; this is the order
/// observed in Cognito emulators and client code that mirrors Cognito, and it only
/// decides which message a password failing several rules gets.
///
/// # Errors
/// The first [`PolicyViolation`] found.
pub fn check_policy(password: &str, policy: &Policy) -> Result<(), PolicyViolation> {
    use PolicyViolation as V;
    if !matches_api_pattern(password) {
        return Err(V::Pattern);
    }
    if password.chars().count() < policy.minimum_length {
        return Err(V::TooShort);
    }
    require(
        policy.require_lowercase,
        has_lowercase(password),
        V::MissingLowercase,
    )?;
    require(
        policy.require_uppercase,
        has_uppercase(password),
        V::MissingUppercase,
    )?;
    require(
        policy.require_numbers,
        has_number(password),
        V::MissingNumber,
    )?;
    require(
        policy.require_symbols,
        has_symbol(password),
        V::MissingSymbol,
    )
}

fn require(
    required: bool,
    present: bool,
    violation: PolicyViolation,
) -> Result<(), PolicyViolation> {
    if required && !present {
        Err(violation)
    } else {
        Ok(())
    }
}

/// Cognito's `^[\S]+.*[\S]+$` (Java regex semantics): at least two characters, the
/// first and last not whitespace, and no line terminator in between.
fn matches_api_pattern(password: &str) -> bool {
    let mut chars = password.chars();
    let (Some(first), Some(last)) = (chars.next(), chars.next_back()) else {
        return false;
    };
    !is_java_whitespace(first) && !is_java_whitespace(last) && !chars.any(is_java_line_terminator)
}

/// Java's `\s`: `[ \t\n\x0B\f\r]`.
fn is_java_whitespace(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\u{0B}' | '\u{0C}' | '\r')
}

/// Characters Java's `.` does not match.
fn is_java_line_terminator(c: char) -> bool {
    matches!(c, '\n' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

fn has_lowercase(password: &str) -> bool {
    password.chars().any(|c| c.is_ascii_lowercase())
}

fn has_uppercase(password: &str) -> bool {
    password.chars().any(|c| c.is_ascii_uppercase())
}

fn has_number(password: &str) -> bool {
    password.chars().any(|c| c.is_ascii_digit())
}

/// Leading and trailing spaces were refused by the pattern, so any space here is inner.
fn has_symbol(password: &str) -> bool {
    password.chars().any(|c| c == ' ' || SYMBOLS.contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A worker allocates its argon2 memory for its first job and gives it back when
    /// told it is idle; the next job allocates it again.
    #[test]
    fn a_worker_holds_its_memory_only_while_it_has_work() {
        let params = our_params().unwrap();
        let blocks = params.block_count();
        let mut worker = Worker::new(params);
        assert!(
            worker.memory.is_empty(),
            "nothing held before the first job"
        );
        let phc = worker.hash(b"correct horse").unwrap();
        assert_eq!(worker.memory.len(), blocks);
        worker.release();
        assert!(worker.memory.is_empty());
        assert!(worker.verify(b"correct horse", &phc).unwrap());
        assert!(!worker.verify(b"wrong horse", &phc).unwrap());
        assert_eq!(worker.memory.len(), blocks);
    }

    #[tokio::test]
    async fn imported_hashes_verify_and_are_not_current() {
        // PBKDF2-HMAC-SHA256("password", "salt", 1 iteration), the published vector.
        let stored = "$pbkdf2-sha256$i=1$c2FsdA$Eg+2z/z4syxD5yJSVsT4N6hlSMkszDVICAWYfLcL4Xs";
        assert!(portcullis_password_hashes::accepts(stored));
        let pool = pool();
        assert!(pool.verify("password".to_owned(), stored).await.unwrap());
        assert!(!pool.verify("passwore".to_owned(), stored).await.unwrap());
        assert!(!is_current(stored));
        let fresh = pool.hash("password".to_owned()).await.unwrap();
        assert!(is_current(&fresh), "{fresh}");
        assert!(!is_current(
            "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"
        ));
    }

    fn pool() -> PasswordHasherPool {
        PasswordHasherPool::new(1, 8)
    }

    #[tokio::test]
    async fn hash_then_verify() {
        let pool = pool();
        let phc = pool.hash("correct horse".to_owned()).await.unwrap();
        assert!(pool.verify("correct horse".to_owned(), &phc).await.unwrap());
        assert!(!pool.verify("wrong horse".to_owned(), phc).await.unwrap());
    }

    #[tokio::test]
    async fn hash_is_self_describing_phc_with_random_salt() {
        let pool = pool();
        let a = pool.hash("pw".to_owned()).await.unwrap();
        let b = pool.hash("pw".to_owned()).await.unwrap();
        assert!(a.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{a}");
        assert_ne!(a, b);
        let parsed = PasswordHash::new(&a).unwrap();
        assert_eq!(parsed.salt.unwrap().as_ref().len(), SALT_LEN);
        assert_eq!(parsed.hash.unwrap().len(), OUTPUT_LEN);
    }

    /// Hashes made with other parameters (here by the argon2 crate's own hasher) still
    /// verify, including ones larger than the worker's reusable memory.
    #[tokio::test]
    async fn verifies_hashes_with_other_parameters() {
        use argon2::PasswordHasher as _;
        let pool = pool();
        for (m, t, p) in [(8_192, 3, 1), (32_768, 1, 2)] {
            let params = Params::new(m, t, p, None).unwrap();
            let hasher = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
            let phc = hasher
                .hash_password_with_salt(b"pw", b"0123456789abcdef")
                .unwrap()
                .to_string();
            assert!(pool.verify("pw".to_owned(), &phc).await.unwrap(), "{phc}");
            assert!(!pool.verify("px".to_owned(), phc).await.unwrap());
        }
    }

    #[tokio::test]
    async fn malformed_or_excessive_hashes_are_refused() {
        let pool = pool();
        for phc in [
            "",
            "not a hash",
            "$2b$12$abcdefghijklmnopqrstuv",
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ",
            "$argon2id$v=19$m=4194304,t=2,p=1$c2FsdHNhbHRzYWx0$c2FsdHNhbHRzYWx0c2FsdHNhbHQ",
            "$argon2id$v=19$m=19456,t=1000,p=1$c2FsdHNhbHRzYWx0$c2FsdHNhbHRzYWx0c2FsdHNhbHQ",
        ] {
            let answer = pool.verify("pw".to_owned(), phc).await;
            assert_eq!(answer, Err(PoolError::InvalidHash), "{phc}");
        }
    }

    #[tokio::test]
    async fn dummy_hash_is_valid_with_current_parameters() {
        let parsed = PasswordHash::new(dummy_hash()).unwrap();
        assert_eq!(Params::try_from(&parsed).unwrap(), our_params().unwrap());
        assert_eq!(parsed.algorithm, ARGON2ID_IDENT);
        assert!(!pool().verify("pw".to_owned(), dummy_hash()).await.unwrap());
    }

    #[tokio::test]
    async fn full_queue_sheds_load() {
        let pool = Arc::new(PasswordHasherPool::new(1, 1));
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let pool = Arc::clone(&pool);
                tokio::spawn(async move { pool.hash(format!("pw{i}")).await })
            })
            .collect();
        let mut overloaded = 0;
        let mut hashed = 0;
        for task in tasks {
            match task.await.unwrap() {
                Ok(_) => hashed += 1,
                Err(PoolError::Overloaded) => overloaded += 1,
                Err(other) => panic!("unexpected {other}"),
            }
        }
        assert!(hashed >= 1, "the pool must still do work");
        assert!(
            overloaded >= 5,
            "1 running + 1 queued, the rest shed: {overloaded}"
        );
        assert!(
            pool.hash("after".to_owned()).await.is_ok(),
            "recovers once drained"
        );
    }

    #[tokio::test]
    async fn zero_threads_means_one_per_core() {
        assert_eq!(PasswordHasherPool::new(0, 1).threads(), default_threads());
    }

    fn check(password: &str) -> Result<(), PolicyViolation> {
        check_policy(password, &Policy::default())
    }

    #[test]
    fn policy_messages_match_cognito() {
        let prefix = "Password did not conform with policy: ";
        let cases = [
            ("Ab1!", "Password not long enough"),
            ("ABCDEFG1!", "Password must have lowercase characters"),
            ("abcdefg1!", "Password must have uppercase characters"),
            ("Abcdefgh!", "Password must have numeric characters"),
            ("Abcdefgh1", "Password must have symbol characters"),
        ];
        for (password, message) in cases {
            let violation = check(password).unwrap_err();
            assert_eq!(violation.to_string(), format!("{prefix}{message}"));
            assert_eq!(violation.exception_name(), "InvalidPasswordException");
        }
    }

    #[test]
    fn policy_reports_length_first_then_classes_in_order() {
        assert_eq!(check("abc"), Err(PolicyViolation::TooShort));
        assert_eq!(check("12345678"), Err(PolicyViolation::MissingLowercase));
        assert_eq!(check("abcdefgh"), Err(PolicyViolation::MissingUppercase));
        assert_eq!(check("abcdEFGH"), Err(PolicyViolation::MissingNumber));
    }

    #[test]
    fn policy_accepts_compliant_and_honours_flags() {
        assert_eq!(check("Abcdef1!"), Ok(()));
        assert_eq!(check("Abc def1"), Ok(()), "an inner space is a symbol");
        for symbol in SYMBOLS.chars() {
            assert_eq!(check(&format!("Abcdef1{symbol}")), Ok(()), "{symbol}");
        }
        let lax = Policy {
            minimum_length: 6,
            require_uppercase: false,
            require_lowercase: false,
            require_numbers: false,
            require_symbols: false,
        };
        assert_eq!(check_policy("aaaaaa", &lax), Ok(()));
        assert_eq!(check_policy("aaaaa", &lax), Err(PolicyViolation::TooShort));
    }

    #[test]
    fn length_counts_characters_not_bytes() {
        let policy = Policy {
            minimum_length: 8,
            ..Policy::default()
        };
        // 8 characters, 11 bytes.
        assert_eq!(check_policy("Aé1!aaaé", &policy), Ok(()));
        assert_eq!(
            check_policy("Aé1!aaé", &policy),
            Err(PolicyViolation::TooShort)
        );
    }

    #[test]
    fn leading_or_trailing_whitespace_is_refused() {
        for password in [
            " Abcdef1!",
            "Abcdef1! ",
            "\tAbcdef1!",
            "Abc\ndef1!",
            "A",
            "",
        ] {
            let violation = check(password).unwrap_err();
            assert_eq!(violation, PolicyViolation::Pattern, "{password:?}");
            assert_eq!(violation.exception_name(), "InvalidParameterException");
        }
    }
}
