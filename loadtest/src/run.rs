//! The measured phase: `concurrency` workers issuing calls back to back until the
//! deadline, over one shared keep-alive client.
//!
//! Closed-loop load (each worker waits for its answer before sending again) keeps the
//! number of requests in flight equal to `--concurrency`, so latency and throughput
//! describe the server at that level of parallelism rather than a queue we built.
//!
//! Each worker does its once-off preparation (a sign-in, temporary credentials) before
//! any phase, and a warm-up phase may run before the measured one with the same
//! workers and connections, so neither preparation nor connection set-up lands in the
//! figures; at `--concurrency 1` that leaves the plain request-to-answer latency.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use crate::api::{Api, CallError, TempCredentials};
use crate::setup::{PASSWORD, Target, sign_up_body};
use crate::stats::Recorder;

/// What the workers do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    /// Unsigned `SignUp` with unique user names.
    Signup,
    /// `InitiateAuth` `USER_PASSWORD_AUTH` over seeded users, round-robin.
    Signin,
    /// Alternates the two on every worker.
    Mixed,
    /// `USER_SRP_AUTH` then `PASSWORD_VERIFIER` over seeded users: two calls per
    /// sign-in, the client's SRP arithmetic done here (it costs this machine's CPU too).
    Srp,
    /// `REFRESH_TOKEN_AUTH`: each worker signs in once, unmeasured, then refreshes.
    Refresh,
    /// `POST /oauth2/token` `grant_type=client_credentials` with HTTP Basic: one RS256
    /// access token per call, no user.
    ClientCredentials,
    /// `POST /oauth2/token` `grant_type=refresh_token`: each worker signs in once,
    /// unmeasured, then refreshes at the token endpoint.
    RefreshGrant,
    /// `GetUser` with an access token (each worker signs in once, unmeasured): the
    /// token verified, the user and the app client read from the directory.
    GetUser,
    /// The identity pool's enhanced flow for a signed-in user: `GetId` then
    /// `GetCredentialsForIdentity` with the user's ID token (each worker signs in once,
    /// unmeasured).
    IdentityCredentials,
    /// The same for guests: every `GetId` creates an identity (an append to the log).
    GuestCredentials,
    /// `POST /authorize` signed by temporary credentials: verify the SigV4 signature,
    /// open the sealed session token, evaluate the role's policies (each worker gets
    /// guest credentials once, unmeasured).
    DecisionPoint,
    /// Unsigned `InitiateAuth` calls that the pool's web ACL blocks (an IP set rule on
    /// this machine's loopback addresses): what a blocked request costs.
    Blocked,
}

impl Scenario {
    /// Whether the scenario signs users in, and so needs seeded users.
    #[must_use]
    pub fn needs_users(self) -> bool {
        !matches!(
            self,
            Self::Signup
                | Self::ClientCredentials
                | Self::GuestCredentials
                | Self::DecisionPoint
                | Self::Blocked
        )
    }

    /// Whether the scenario needs an identity pool and a role.
    #[must_use]
    pub fn needs_identity_pool(self) -> bool {
        matches!(
            self,
            Self::IdentityCredentials | Self::GuestCredentials | Self::DecisionPoint
        )
    }

    /// Whether the scenario calls the pool domain's token endpoint.
    #[must_use]
    pub fn needs_oauth(self) -> bool {
        matches!(self, Self::ClientCredentials | Self::RefreshGrant)
    }

    /// Lower-case name as accepted on the command line.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Signup => "signup",
            Self::Signin => "signin",
            Self::Mixed => "mixed",
            Self::Srp => "srp",
            Self::Refresh => "refresh",
            Self::ClientCredentials => "client-credentials",
            Self::RefreshGrant => "refresh-grant",
            Self::GetUser => "get-user",
            Self::IdentityCredentials => "identity-credentials",
            Self::GuestCredentials => "guest-credentials",
            Self::DecisionPoint => "decision-point",
            Self::Blocked => "blocked",
        }
    }
}

/// Shared, read-only state of the workers.
struct Shared {
    api: Api,
    target: Target,
    users: Vec<String>,
    next_user: AtomicUsize,
    scenario: Scenario,
}

/// One closed-loop worker between phases: what its once-off preparation got it, and
/// how many operations it has sent (which keeps sign-up names unique across phases).
struct Worker {
    id: usize,
    n: usize,
    /// The worker's login: a refresh token, an ID token or an access token.
    token: Option<String>,
    credentials: Option<TempCredentials>,
    /// Failures of the preparation, reported with the first phase.
    setup: Recorder,
}

/// The workers of one run, prepared and ready for measured phases.
pub struct Load {
    shared: Arc<Shared>,
    workers: Vec<Worker>,
}

impl Load {
    /// Prepares `concurrency` workers: each does what its scenario needs once before
    /// the clock starts (signs in, or gets credentials), so that work is in no phase.
    pub async fn prepare(
        api: Api,
        target: Target,
        users: Vec<String>,
        scenario: Scenario,
        concurrency: usize,
    ) -> Self {
        let shared = Arc::new(Shared {
            api,
            target,
            users,
            next_user: AtomicUsize::new(0),
            scenario,
        });
        let workers =
            futures::future::join_all((0..concurrency).map(|id| prepare(&shared, id))).await;
        Self { shared, workers }
    }

    /// Runs every worker until `duration` has passed, or until `requests` operations
    /// were sent in all when given, and merges what they recorded.
    pub async fn phase(&mut self, duration: Duration, requests: Option<usize>) -> Recorder {
        let deadline = Instant::now() + duration;
        let budget = requests.map(|n| Arc::new(AtomicUsize::new(n)));
        let tasks: Vec<_> = self
            .workers
            .drain(..)
            .map(|worker| {
                let shared = Arc::clone(&self.shared);
                tokio::spawn(run_worker(shared, worker, deadline, budget.clone()))
            })
            .collect();
        let mut merged = Recorder::default();
        for result in futures::future::join_all(tasks).await {
            match result {
                Ok((worker, recorder)) => {
                    merged.merge(recorder);
                    self.workers.push(worker);
                }
                Err(error) => merged.error("worker", format!("worker task failed: {error}")),
            }
        }
        merged
    }
}

async fn prepare(shared: &Shared, id: usize) -> Worker {
    let mut worker = Worker {
        id,
        n: 0,
        token: None,
        credentials: None,
        setup: Recorder::default(),
    };
    let token_at = match shared.scenario {
        Scenario::Refresh | Scenario::RefreshGrant => "/AuthenticationResult/RefreshToken",
        // The ID token stands in the refresh token's place: the worker's login.
        Scenario::IdentityCredentials => "/AuthenticationResult/IdToken",
        Scenario::GetUser => "/AuthenticationResult/AccessToken",
        Scenario::DecisionPoint => {
            match identity_credentials(shared, None).await {
                Ok(c) => worker.credentials = Some(c),
                Err(error) => worker.setup.error("GetCredentialsForIdentity", error.0),
            }
            return worker;
        }
        _ => return worker,
    };
    match sign_in(shared).await {
        Ok(answer) => worker.token = string_at(&answer, token_at),
        Err(error) => worker.setup.error("InitiateAuth", error.0),
    }
    worker
}

/// Takes one operation from the budget; false once it is spent.
fn take(budget: Option<&AtomicUsize>) -> bool {
    budget.is_none_or(|left| {
        left.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
            .is_ok()
    })
}

async fn run_worker(
    shared: Arc<Shared>,
    mut worker: Worker,
    deadline: Instant,
    budget: Option<Arc<AtomicUsize>>,
) -> (Worker, Recorder) {
    let mut recorder = std::mem::take(&mut worker.setup);
    while Instant::now() < deadline && take(budget.as_deref()) {
        let (id, n) = (worker.id, worker.n);
        let op = pick_op(shared.scenario, id + n);
        let started = Instant::now();
        let outcome = match op {
            Op::Authorize => authorize(&shared, worker.credentials.as_ref(), n).await,
            _ => call(&shared, op, id, n, worker.token.as_deref()).await,
        };
        match outcome {
            Ok(()) => recorder.ok(op.name(), started.elapsed()),
            Err(error) => recorder.error(op.name(), error.0),
        }
        worker.n += 1;
    }
    (worker, recorder)
}

#[derive(Debug, Clone, Copy)]
enum Op {
    SignUp,
    SignIn,
    SrpSignIn,
    Refresh,
    ClientCredentials,
    RefreshGrant,
    GetUser,
    IdentityCredentials,
    GuestCredentials,
    Authorize,
    Blocked,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Self::SignUp => "SignUp",
            Self::SignIn => "InitiateAuth",
            Self::SrpSignIn => "SRP sign-in (2 calls)",
            Self::Refresh => "InitiateAuth REFRESH_TOKEN_AUTH",
            Self::ClientCredentials => "token client_credentials",
            Self::RefreshGrant => "token refresh_token",
            Self::GetUser => "GetUser",
            Self::IdentityCredentials => "GetId + GetCredentialsForIdentity (user)",
            Self::GuestCredentials => "GetId + GetCredentialsForIdentity (guest)",
            Self::Authorize => "POST /authorize",
            Self::Blocked => "InitiateAuth blocked by a web ACL",
        }
    }
}

/// Mixed alternates, offset by worker id so half the workers start with each operation.
fn pick_op(scenario: Scenario, step: usize) -> Op {
    match scenario {
        Scenario::Signup => Op::SignUp,
        Scenario::Signin => Op::SignIn,
        Scenario::Mixed if step.is_multiple_of(2) => Op::SignUp,
        Scenario::Mixed => Op::SignIn,
        Scenario::Srp => Op::SrpSignIn,
        Scenario::Refresh => Op::Refresh,
        Scenario::ClientCredentials => Op::ClientCredentials,
        Scenario::RefreshGrant => Op::RefreshGrant,
        Scenario::GetUser => Op::GetUser,
        Scenario::IdentityCredentials => Op::IdentityCredentials,
        Scenario::GuestCredentials => Op::GuestCredentials,
        Scenario::DecisionPoint => Op::Authorize,
        Scenario::Blocked => Op::Blocked,
    }
}

async fn call(
    shared: &Shared,
    op: Op,
    worker: usize,
    n: usize,
    login: Option<&str>,
) -> Result<(), CallError> {
    let answer = match op {
        Op::SignUp => return sign_up(shared, worker, n).await,
        Op::SignIn => sign_in(shared).await?,
        Op::SrpSignIn => srp_sign_in(shared).await?,
        Op::Refresh => {
            let token = login.ok_or_else(|| CallError("no refresh token".into()))?;
            let body = json!({
                "ClientId": shared.target.client_id,
                "AuthFlow": "REFRESH_TOKEN_AUTH",
                "AuthParameters": { "REFRESH_TOKEN": token },
            });
            shared.api.call("InitiateAuth", &body).await?
        }
        Op::ClientCredentials | Op::RefreshGrant => {
            return token_grant(shared, op, login).await;
        }
        Op::IdentityCredentials | Op::GuestCredentials => {
            return identity_credentials(shared, login).await.map(|_| ());
        }
        Op::GetUser => return get_user(shared, login).await,
        Op::Authorize => return Err(CallError("no credentials".into())),
        Op::Blocked => return blocked(shared).await,
    };
    // A 200 without tokens would be a server bug that looks like success; count it.
    match answer
        .pointer("/AuthenticationResult/AccessToken")
        .and_then(Value::as_str)
    {
        Some(_) => Ok(()),
        None => Err(CallError("NoAuthenticationResult".into())),
    }
}

/// An `InitiateAuth` the web ACL must refuse: `ForbiddenException` is the success.
async fn blocked(shared: &Shared) -> Result<(), CallError> {
    let body = json!({
        "ClientId": shared.target.client_id,
        "AuthFlow": "USER_PASSWORD_AUTH",
        "AuthParameters": { "USERNAME": "nobody", "PASSWORD": PASSWORD },
    });
    match shared.api.call("InitiateAuth", &body).await {
        Err(CallError(label)) if label == "ForbiddenException" => Ok(()),
        Err(other) => Err(other),
        Ok(_) => Err(CallError("NotBlocked".into())),
    }
}

/// `GetUser` with the worker's access token; an answer without `Username` counts as an
/// error.
async fn get_user(shared: &Shared, access_token: Option<&str>) -> Result<(), CallError> {
    let token = access_token.ok_or_else(|| CallError("no access token".into()))?;
    let answer = shared
        .api
        .call("GetUser", &json!({ "AccessToken": token }))
        .await?;
    match answer.get("Username").and_then(Value::as_str) {
        Some(_) => Ok(()),
        None => Err(CallError("NoUsername".into())),
    }
}

/// One call to the token endpoint; an answer without `access_token` counts as an error.
async fn token_grant(
    shared: &Shared,
    op: Op,
    refresh_token: Option<&str>,
) -> Result<(), CallError> {
    let oauth = shared
        .target
        .oauth
        .as_ref()
        .ok_or_else(|| CallError("no OAuth set-up".into()))?;
    let answer = if matches!(op, Op::ClientCredentials) {
        let basic = Some((oauth.machine_id.as_str(), oauth.machine_secret.as_str()));
        shared
            .api
            .oauth_form(
                &oauth.token_path,
                &[("grant_type", "client_credentials")],
                basic,
            )
            .await?
    } else {
        let token = refresh_token.ok_or_else(|| CallError("no refresh token".into()))?;
        let form = [
            ("grant_type", "refresh_token"),
            ("client_id", shared.target.client_id.as_str()),
            ("refresh_token", token),
        ];
        shared
            .api
            .oauth_form(&oauth.token_path, &form, None)
            .await?
    };
    match answer.get("access_token").and_then(Value::as_str) {
        Some(_) => Ok(()),
        None => Err(CallError("NoAccessToken".into())),
    }
}

/// `GetId` then `GetCredentialsForIdentity`, with the user's ID token if given.
async fn identity_credentials(
    shared: &Shared,
    id_token: Option<&str>,
) -> Result<TempCredentials, CallError> {
    let identity = shared
        .target
        .identity
        .as_ref()
        .ok_or_else(|| CallError("no identity pool".into()))?;
    let logins = match id_token {
        Some(token) => json!({ identity.provider.as_str(): token }),
        None => json!({}),
    };
    let body = json!({ "IdentityPoolId": identity.identity_pool_id, "Logins": logins });
    let id = shared.api.identity("GetId", &body, false).await?;
    let identity_id =
        string_at(&id, "/IdentityId").ok_or_else(|| CallError("NoIdentityId".into()))?;
    let body = json!({ "IdentityId": identity_id, "Logins": logins });
    let answer = shared
        .api
        .identity("GetCredentialsForIdentity", &body, false)
        .await?;
    let field = |name: &str| {
        string_at(&answer, &format!("/Credentials/{name}"))
            .ok_or_else(|| CallError("NoCredentials".into()))
    };
    Ok(TempCredentials {
        access_key_id: field("AccessKeyId")?,
        secret_key: field("SecretKey")?,
        session_token: field("SessionToken")?,
    })
}

/// One decision: alternately an allowed read and a denied delete, so both paths are
/// measured; a wrong answer counts as an error.
async fn authorize(
    shared: &Shared,
    credentials: Option<&TempCredentials>,
    n: usize,
) -> Result<(), CallError> {
    let credentials = credentials.ok_or_else(|| CallError("no credentials".into()))?;
    let (action, expected) = if n.is_multiple_of(2) {
        ("demo:Read", true)
    } else {
        ("demo:Delete", false)
    };
    let body = json!({ "Action": action, "Resource": format!("arn:demo:::public/doc-{n}") });
    let body = serde_json::to_vec(&body).map_err(|e| CallError(format!("encode: {e}")))?;
    let allowed = shared.api.authorize(credentials, &body).await?;
    if allowed == expected {
        Ok(())
    } else {
        Err(CallError(format!("WrongDecision({action})")))
    }
}

async fn sign_up(shared: &Shared, worker: usize, n: usize) -> Result<(), CallError> {
    let name = format!("lt-{worker}-{n}");
    shared
        .api
        .call("SignUp", &sign_up_body(&shared.target.client_id, &name))
        .await?;
    Ok(())
}

async fn sign_in(shared: &Shared) -> Result<Value, CallError> {
    let user = next_user(shared).ok_or_else(|| CallError("no seeded users".into()))?;
    let body = json!({
        "ClientId": shared.target.client_id,
        "AuthFlow": "USER_PASSWORD_AUTH",
        "AuthParameters": { "USERNAME": user, "PASSWORD": PASSWORD },
    });
    shared.api.call("InitiateAuth", &body).await
}

/// `USER_SRP_AUTH`, then the `PASSWORD_VERIFIER` answer computed as a client does.
async fn srp_sign_in(shared: &Shared) -> Result<Value, CallError> {
    use portcullis_authn_flow::srp;
    let user = next_user(shared).ok_or_else(|| CallError("no seeded users".into()))?;
    let a = srp::random_secret().ok_or_else(|| CallError("no randomness".into()))?;
    let body = json!({
        "ClientId": shared.target.client_id,
        "AuthFlow": "USER_SRP_AUTH",
        "AuthParameters": { "USERNAME": user, "SRP_A": srp::client::public(&a) },
    });
    let challenge = shared.api.call("InitiateAuth", &body).await?;
    let param = |name: &str| {
        string_at(&challenge, &format!("/ChallengeParameters/{name}"))
            .ok_or_else(|| CallError(format!("no {name} in the challenge")))
    };
    let (user_id, salt, big_b, block) = (
        param("USER_ID_FOR_SRP")?,
        param("SALT")?,
        param("SRP_B")?,
        param("SECRET_BLOCK")?,
    );
    let pool_id = &shared.target.pool_id;
    let key = srp::client::session_key(pool_id, &user_id, PASSWORD, &a, &salt, &big_b)
        .ok_or_else(|| CallError("bad SRP_B or SALT".into()))?;
    let block_bytes = STANDARD
        .decode(&block)
        .map_err(|_| CallError("SECRET_BLOCK is not base64".into()))?;
    let timestamp = srp::timestamp(time::OffsetDateTime::now_utc().unix_timestamp());
    let signature = srp::claim_signature(&key, pool_id, &user_id, &block_bytes, &timestamp);
    let body = json!({
        "ClientId": shared.target.client_id,
        "ChallengeName": "PASSWORD_VERIFIER",
        "Session": string_at(&challenge, "/Session"),
        "ChallengeResponses": {
            "USERNAME": user_id,
            "PASSWORD_CLAIM_SECRET_BLOCK": block,
            "PASSWORD_CLAIM_SIGNATURE": STANDARD.encode(signature),
            "TIMESTAMP": timestamp,
        },
    });
    shared.api.call("RespondToAuthChallenge", &body).await
}

fn string_at(value: &Value, pointer: &str) -> Option<String> {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .map(str::to_owned)
}

fn next_user(shared: &Shared) -> Option<&str> {
    let count = shared.users.len();
    if count == 0 {
        return None;
    }
    let index = shared.next_user.fetch_add(1, Ordering::Relaxed) % count;
    shared.users.get(index).map(String::as_str)
}
