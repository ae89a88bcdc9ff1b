//! User import jobs: create, upload (pieces of the CSV file, kept in the import-files
//! bucket and never in the log), start, stop, describe, list, and the background runner
//! that creates each row's user through [`Directory::create_user`].
//!
//! Restarts: the runner records the rows it handled (`Progress`) after every chunk and
//! a restarted process resumes every running job from there. Rows of the chunk in
//! flight are handled again; each row's user has a sub derived from the job and the row
//! number, so a row whose user already exists under that sub was imported by this job
//! and counts as imported, not skipped.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use portcullis_errors::{ApiError, ErrorCode};
use portcullis_eventlog::{KeyValue, KvError};
use portcullis_proto::events::v1::UserPoolSettings;
use portcullis_proto::events::v1::{Actor, MfaOption, UserImportCounts, actor::Kind};

use super::csv::{self, CsvRecord};
use super::{AggregateStore, CommandMeta, Directory, kv_error, random_bytes};
use crate::domain::import_job::{
    ImportJob, ImportJobCommand, JobState, JobStatus, Upload, csv_header,
};
use crate::domain::import_row::Columns;
use crate::domain::user::{User, UserStatus};

/// Largest CSV file accepted (Cognito's limit is 100 MB).
pub const MAX_FILE_BYTES: u64 = 100 * 1024 * 1024;
/// Largest piece of an upload; under the JetStream key/value value limit (1 MiB).
pub const MAX_CHUNK_BYTES: usize = 512 * 1024;
const MAX_CHUNKS: u32 = (MAX_FILE_BYTES / MAX_CHUNK_BYTES as u64) as u32 + 1;
/// Rows handled between progress records: what a restart may redo.
const CHUNK_ROWS: usize = 256;
/// Rows imported at once: each its own writes, which the store commits together.
const PARALLEL_ROWS: usize = 64;
const SUCCEEDED: &str = "Import Job Completed Successfully.";

/// The runners of this process, by `<pool>/<job>`, so a job runs once here.
#[derive(Clone, Default)]
pub struct Runners(Arc<Mutex<HashSet<String>>>);

impl Runners {
    fn claim(&self, key: &str) -> bool {
        self.0
            .lock()
            .is_ok_and(|mut set| set.insert(key.to_owned()))
    }

    fn release(&self, key: &str) {
        if let Ok(mut set) = self.0.lock() {
            set.remove(key);
        }
    }
}

/// Where the import files and upload tokens are kept.
#[derive(Clone)]
pub struct ImportFiles {
    kv: Arc<dyn KeyValue>,
    /// The imported-passwords bucket: a row's password hash, under `<pool>/<sub>`, for
    /// authn-flow's first sign-in of the user (kept out of the event log).
    passwords: Arc<dyn KeyValue>,
    runners: Runners,
    /// This replica, as the holder of job leases: stable across its restarts, so a
    /// restarted replica resumes its own jobs at once.
    owner: Arc<str>,
}

/// How long a runner's lease on a job lasts without renewal; a replica that dies while
/// importing leaves its job to another after this.
const LEASE_MS: i64 = 30_000;
/// How often a directory looks for running jobs nobody holds (a replica died).
pub const ORPHAN_SCAN: Duration = Duration::from_secs(15);

/// Which process runs a job, until when: one runner per job across replicas.
#[derive(serde::Serialize, serde::Deserialize)]
struct Lease {
    owner: String,
    until_ms: i64,
}

fn lease_key(pool_id: &str, job_id: &str) -> String {
    format!("lease/{pool_id}/{job_id}")
}

impl ImportFiles {
    pub fn new(kv: Arc<dyn KeyValue>, passwords: Arc<dyn KeyValue>, owner: &str) -> Self {
        Self {
            kv,
            passwords,
            runners: Runners::default(),
            owner: Arc::from(owner),
        }
    }

    /// Takes or renews the lease on a job; `false` when another live process holds it.
    async fn lease(&self, pool_id: &str, job_id: &str, now_ms: i64) -> Result<bool, ApiError> {
        let key = lease_key(pool_id, job_id);
        let mine = Lease {
            owner: self.owner.to_string(),
            until_ms: now_ms + LEASE_MS,
        };
        let value = Bytes::from(serde_json::to_vec(&mine).map_err(|_| ApiError::internal())?);
        let Some(entry) = self.kv.get(&key).await.map_err(kv_error)? else {
            return match self.kv.create(&key, value).await {
                Ok(_) => Ok(true),
                Err(KvError::Conflict) => Ok(false),
                Err(err) => Err(kv_error(err)),
            };
        };
        let held: Option<Lease> = serde_json::from_slice(&entry.value).ok();
        if held.is_some_and(|h| h.owner != *self.owner && h.until_ms > now_ms) {
            return Ok(false);
        }
        match self.kv.update(&key, value, entry.revision).await {
            Ok(_) => Ok(true),
            Err(KvError::Conflict) => Ok(false),
            Err(err) => Err(kv_error(err)),
        }
    }

    async fn release_lease(&self, pool_id: &str, job_id: &str) {
        let key = lease_key(pool_id, job_id);
        if let Ok(Some(entry)) = self.kv.get(&key).await
            && serde_json::from_slice::<Lease>(&entry.value).is_ok_and(|l| l.owner == *self.owner)
            && let Err(err) = self.kv.delete(&key, entry.revision).await
        {
            tracing::warn!(error = %err, "could not release an import job lease");
        }
    }

    /// Writes `key`, replacing what is there.
    async fn put(&self, key: &str, value: Bytes) -> Result<(), ApiError> {
        put_into(&*self.kv, key, value).await
    }

    async fn get(&self, key: &str) -> Result<Option<Bytes>, ApiError> {
        Ok(self.kv.get(key).await.map_err(kv_error)?.map(|e| e.value))
    }

    async fn remove(&self, key: &str) {
        if let Ok(Some(entry)) = self.kv.get(key).await
            && let Err(err) = self.kv.delete(key, entry.revision).await
        {
            tracing::warn!(error = %err, "could not delete an import file piece");
        }
    }
}

/// Writes `key` in `kv`, replacing what is there.
async fn put_into(kv: &dyn KeyValue, key: &str, value: Bytes) -> Result<(), ApiError> {
    for _ in 0..4 {
        match kv.create(key, value.clone()).await {
            Ok(_) => return Ok(()),
            Err(KvError::Conflict) => {}
            Err(err) => return Err(kv_error(err)),
        }
        if let Some(entry) = kv.get(key).await.map_err(kv_error)? {
            match kv.update(key, value.clone(), entry.revision).await {
                Ok(_) => return Ok(()),
                Err(KvError::Conflict) => {}
                Err(err) => return Err(kv_error(err)),
            }
        }
    }
    Err(ApiError::internal())
}

fn token_key(pool_id: &str, job_id: &str) -> String {
    format!("{pool_id}/{job_id}/token")
}

fn chunk_key(pool_id: &str, job_id: &str, upload_id: &str, index: u32) -> String {
    format!("{pool_id}/{job_id}/file/{upload_id}/{index}")
}

fn system_meta(job_id: &str) -> CommandMeta {
    let actor = Actor {
        kind: Kind::System as i32,
        id: job_id.to_owned(),
    };
    CommandMeta::new(actor, job_id)
}

/// The sub of the user on `row` of `job_id`'s file: the same on every run of the job.
fn row_sub(job_id: &str, row: usize) -> String {
    let digest = aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        format!("portcullis-import/{job_id}/{row}").as_bytes(),
    );
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest.as_ref()[..16]);
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string()
}

fn alphanumeric(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    bytes
        .iter()
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect()
}

fn check_job_name(name: &str) -> Result<(), ApiError> {
    let valid = (1..=128).contains(&name.chars().count())
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || c.is_whitespace() || "_+=,.@-".contains(c));
    if valid {
        return Ok(());
    }
    Err(ApiError::invalid_parameter(format!(
        "1 validation error detected: Value '{name}' at 'jobName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w\\s+=,.@-]+"
    )))
}

fn check_role_arn(arn: &str) -> Result<(), ApiError> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    if (20..=2048).contains(&arn.len()) && parts.len() == 6 && parts[0] == "arn" {
        return Ok(());
    }
    Err(ApiError::invalid_parameter(format!(
        "1 validation error detected: Value '{arn}' at 'cloudWatchLogsRoleArn' failed to satisfy constraint: Member must satisfy regular expression pattern: arn:[\\w+=/,.@-]+:[\\w+=/,.@-]+:([\\w+=/,.@-]*)?:[0-9]+:[\\w+=/,.@-]+(:[\\w+=/,.@-]+)?(:[\\w+=/,.@-]+)?"
    )))
}

fn check_hashing(algorithm: &str) -> Result<(), ApiError> {
    const KNOWN: &[&str] = &["", "BCRYPT", "SCRYPT", "ARGON2ID", "PBKDF2_SHA256"];
    if KNOWN.contains(&algorithm) {
        return Ok(());
    }
    Err(ApiError::invalid_parameter(format!(
        "1 validation error detected: Value '{algorithm}' at 'passwordHashingAlgorithm' failed to satisfy constraint: Member must satisfy enum value set: [BCRYPT, SCRYPT, ARGON2ID, PBKDF2_SHA256]"
    )))
}

/// A job and the token of its pre-signed upload URL.
pub struct JobView {
    pub state: JobState,
    pub upload_token: String,
}

/// How a run of a job ends.
struct Ending {
    status: JobStatus,
    message: String,
    counts: UserImportCounts,
}

impl Ending {
    fn new(status: JobStatus, message: &str, counts: UserImportCounts) -> Self {
        Self {
            status,
            message: message.to_owned(),
            counts,
        }
    }
}

/// What became of one row.
enum RowOutcome {
    Imported,
    Skipped,
    Failed,
}

impl Directory {
    pub async fn csv_header(&self, pool_id: &str) -> Result<Vec<String>, ApiError> {
        let (pool, _) = self.pool(pool_id).await?;
        Ok(csv_header(&pool.settings))
    }

    pub async fn create_import_job(
        &self,
        pool_id: &str,
        job_name: &str,
        role_arn: &str,
        hashing_algorithm: &str,
        meta: &CommandMeta,
    ) -> Result<JobView, ApiError> {
        check_job_name(job_name)?;
        check_role_arn(role_arn)?;
        check_hashing(hashing_algorithm)?;
        self.pool_exists(pool_id).await?;
        let job_id = format!("import-{}", alphanumeric(&random_bytes::<10>()?));
        let token = hex::encode(random_bytes::<32>()?);
        self.imports
            .put(&token_key(pool_id, &job_id), Bytes::from(token.clone()))
            .await?;
        let stream = AggregateStore::stream::<ImportJob>(pool_id, &job_id)?;
        let command = ImportJobCommand::Create {
            pool_id: pool_id.to_owned(),
            job_id: job_id.clone(),
            job_name: job_name.to_owned(),
            role_arn: role_arn.to_owned(),
            hashing_algorithm: hashing_algorithm.to_owned(),
        };
        let done = self
            .store
            .execute::<ImportJob>(&stream, &command, meta)
            .await?;
        self.projection.wait_for(done.position).await?;
        let state = done.aggregate.existing()?.clone();
        Ok(JobView {
            state,
            upload_token: token,
        })
    }

    /// A job of an existing pool, with its upload token.
    pub async fn import_job(&self, pool_id: &str, job_id: &str) -> Result<JobView, ApiError> {
        self.pool_exists(pool_id).await?;
        let state = self.load_job(pool_id, job_id).await?;
        let token = self
            .imports
            .get(&token_key(pool_id, job_id))
            .await?
            .map(|t| String::from_utf8_lossy(&t).into_owned())
            .unwrap_or_default();
        Ok(JobView {
            state,
            upload_token: token,
        })
    }

    async fn load_job(&self, pool_id: &str, job_id: &str) -> Result<JobState, ApiError> {
        let not_found = || ApiError::not_found(format!("Import job {job_id} does not exist."));
        let stream =
            AggregateStore::stream::<ImportJob>(pool_id, job_id).map_err(|_| not_found())?;
        let job = self.store.load::<ImportJob>(&stream).await?.aggregate;
        job.state.ok_or_else(not_found)
    }

    async fn on_job(
        &self,
        pool_id: &str,
        job_id: &str,
        command: &ImportJobCommand,
        meta: &CommandMeta,
    ) -> Result<JobState, ApiError> {
        self.load_job(pool_id, job_id).await?;
        let stream = AggregateStore::stream::<ImportJob>(pool_id, job_id)?;
        let done = self
            .store
            .execute::<ImportJob>(&stream, command, meta)
            .await?;
        Ok(done.aggregate.existing()?.clone())
    }

    /// Whether the job takes an upload with `token`: the pool and the job exist, the
    /// token is the job's (compared in constant time) and the job is still Created.
    pub async fn check_import_upload(
        &self,
        pool_id: &str,
        job_id: &str,
        token: &str,
    ) -> Result<(), ApiError> {
        let denied = || ApiError::not_authorized("The upload URL is not valid for this job.");
        let view = self.import_job(pool_id, job_id).await?;
        let expected = view.upload_token.as_bytes();
        if expected.is_empty()
            || aws_lc_rs::constant_time::verify_slices_are_equal(expected, token.as_bytes())
                .is_err()
        {
            return Err(denied());
        }
        if view.state.status != JobStatus::Created {
            return Err(ApiError::invalid_parameter(
                "The job is no longer accepting uploads.",
            ));
        }
        Ok(())
    }

    /// Stores one piece of an upload; the last piece completes it. Refused unless the
    /// token is the job's and the job is still Created.
    #[allow(clippy::too_many_arguments)]
    pub async fn upload_import_chunk(
        &self,
        pool_id: &str,
        job_id: &str,
        token: &str,
        upload_id: &str,
        index: u32,
        data: Bytes,
        last: Option<u64>,
        meta: &CommandMeta,
    ) -> Result<(), ApiError> {
        self.check_import_upload(pool_id, job_id, token).await?;
        let valid_upload = !upload_id.is_empty()
            && upload_id.len() <= 64
            && upload_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-');
        if !valid_upload || index >= MAX_CHUNKS || data.len() > MAX_CHUNK_BYTES {
            return Err(ApiError::invalid_parameter("Invalid upload piece."));
        }
        self.imports
            .put(&chunk_key(pool_id, job_id, upload_id, index), data)
            .await?;
        if let Some(size_bytes) = last {
            let upload = Upload {
                upload_id: upload_id.to_owned(),
                chunks: index + 1,
                size_bytes,
            };
            self.on_job(
                pool_id,
                job_id,
                &ImportJobCommand::RecordUpload(upload),
                meta,
            )
            .await?;
        }
        Ok(())
    }

    pub async fn start_import_job(
        &self,
        pool_id: &str,
        job_id: &str,
        meta: &CommandMeta,
    ) -> Result<JobView, ApiError> {
        let (pool, _) = self.pool(pool_id).await?;
        if pool.settings.auto_verified_attributes.is_empty() {
            return Err(ApiError::new(
                ErrorCode::PreconditionNotMetException,
                "The user pool has no auto-verified attributes (email or phone_number), so imported users could not reset their passwords.",
            ));
        }
        self.on_job(pool_id, job_id, &ImportJobCommand::Start, meta)
            .await?;
        self.spawn_import(pool_id, job_id);
        self.import_job(pool_id, job_id).await
    }

    pub async fn stop_import_job(
        &self,
        pool_id: &str,
        job_id: &str,
        meta: &CommandMeta,
    ) -> Result<JobView, ApiError> {
        self.pool_exists(pool_id).await?;
        self.on_job(pool_id, job_id, &ImportJobCommand::Stop, meta)
            .await?;
        // A job whose runner is gone (another replica stopped) still comes to rest.
        self.spawn_import(pool_id, job_id);
        self.import_job(pool_id, job_id).await
    }

    /// The pool's jobs in creation order, after the pagination token.
    pub async fn list_import_jobs(
        &self,
        pool_id: &str,
        max_results: u32,
        token: Option<String>,
    ) -> Result<(Vec<JobView>, Option<String>), ApiError> {
        if !(1..=60).contains(&max_results) {
            return Err(ApiError::invalid_parameter(format!(
                "1 validation error detected: Value '{max_results}' at 'maxResults' failed to satisfy constraint: Member must have value {} than or equal to {}",
                if max_results < 1 { "greater" } else { "less" },
                if max_results < 1 { 1 } else { 60 },
            )));
        }
        self.pool_exists(pool_id).await?;
        self.wait_for_log().await?;
        let limit = max_results as usize;
        let mut entries = self
            .projection
            .import_jobs(pool_id, token, limit + 1)
            .await?;
        let next = portcullis_types::cut_page(&mut entries, limit, |e| e.sort_key.clone());
        let mut jobs = Vec::with_capacity(entries.len());
        for entry in entries {
            jobs.push(self.import_job(pool_id, &entry.job_id).await?);
        }
        Ok((jobs, next))
    }

    /// Resumes the jobs a previous process left running.
    pub async fn resume_imports(&self) -> Result<(), ApiError> {
        self.wait_for_log().await?;
        for entry in self.projection.all_import_jobs().await? {
            let running = self
                .load_job(&entry.pool_id, &entry.job_id)
                .await
                .is_ok_and(|job| job.status.is_running());
            if running {
                tracing::info!(job_id = %entry.job_id, "resuming a user import job");
                self.spawn_import(&entry.pool_id, &entry.job_id);
            }
        }
        Ok(())
    }

    /// Runs the job in the background unless it already runs here; retries after a
    /// failure of the log or the stores, from the last recorded progress.
    fn spawn_import(&self, pool_id: &str, job_id: &str) {
        let key = format!("{pool_id}/{job_id}");
        if !self.imports.runners.claim(&key) {
            return;
        }
        let (this, pool_id, job_id) = (self.clone(), pool_id.to_owned(), job_id.to_owned());
        tokio::spawn(async move {
            let mut pause = Duration::from_secs(1);
            loop {
                // Another replica holding the lease runs the job; this one stays out.
                match this
                    .imports
                    .lease(&pool_id, &job_id, this.store.now_ms())
                    .await
                {
                    Ok(true) => {}
                    Ok(false) => break,
                    Err(err) => {
                        tracing::warn!(%job_id, error = %err, "could not take an import lease");
                        tokio::time::sleep(pause).await;
                        continue;
                    }
                }
                match this.run_import(&pool_id, &job_id).await {
                    Ok(()) => {
                        this.imports.release_lease(&pool_id, &job_id).await;
                        break;
                    }
                    Err(err) => {
                        tracing::warn!(%job_id, error = %err, "user import interrupted; retrying");
                        tokio::time::sleep(pause).await;
                        pause = (pause * 2).min(Duration::from_secs(30));
                    }
                }
            }
            this.imports.runners.release(&key);
        });
    }

    #[tracing::instrument(name = "user_import", skip(self))]
    async fn run_import(&self, pool_id: &str, job_id: &str) -> Result<(), ApiError> {
        let job = self.load_job(pool_id, job_id).await?;
        if !job.status.is_running() {
            return Ok(());
        }
        let ending = if job.status == JobStatus::Stopping {
            Ending::new(JobStatus::Stopped, "", job.counts)
        } else {
            self.import_rows(&job).await?
        };
        self.finish(&job, ending).await
    }

    /// Imports the rows not yet recorded as done; how the job ends.
    async fn import_rows(&self, job: &JobState) -> Result<Ending, ApiError> {
        let (pool_id, job_id) = (job.pool_id.as_str(), job.job_id.as_str());
        let pool = match self.pool(pool_id).await {
            Ok((pool, _)) => pool,
            Err(err) if err.code == ErrorCode::ResourceNotFoundException => {
                let message = "The user pool has been deleted.";
                return Ok(Ending::new(JobStatus::Failed, message, job.counts));
            }
            Err(err) => return Err(err),
        };
        let (columns, rows) = match self.read_rows(job, &pool.settings).await? {
            Ok(parsed) => parsed,
            Err(message) => return Ok(Ending::new(JobStatus::Failed, &message, job.counts)),
        };
        let meta = system_meta(job_id);
        let stream = AggregateStore::stream::<ImportJob>(pool_id, job_id)?;
        let mut counts = job.counts;
        let mut next = usize::try_from(counts.rows_done).unwrap_or(usize::MAX);
        while next < rows.len() {
            let end = (next + CHUNK_ROWS).min(rows.len());
            let outcomes: Vec<Result<RowOutcome, ApiError>> = futures::stream::iter(next..end)
                .map(|i| self.import_row(job, &pool.settings, &columns, &rows[i], i))
                .buffered(PARALLEL_ROWS)
                .collect()
                .await;
            for outcome in outcomes {
                match outcome? {
                    RowOutcome::Imported => counts.imported += 1,
                    RowOutcome::Skipped => counts.skipped += 1,
                    RowOutcome::Failed => counts.failed += 1,
                }
            }
            counts.rows_done = end as u64;
            if !self
                .imports
                .lease(pool_id, job_id, self.store.now_ms())
                .await?
            {
                // Another replica took the job over (this one was too slow to renew);
                // it continues from the last recorded progress.
                return Err(ApiError::new(
                    ErrorCode::ConcurrentModificationException,
                    "The import job is run by another replica.",
                ));
            }
            let progress = ImportJobCommand::Progress(counts);
            let done = self
                .store
                .execute::<ImportJob>(&stream, &progress, &meta.follow_up())
                .await?;
            if done.aggregate.existing()?.status == JobStatus::Stopping {
                return Ok(Ending::new(JobStatus::Stopped, "", counts));
            }
            next = end;
        }
        Ok(Ending::new(JobStatus::Succeeded, SUCCEEDED, counts))
    }

    /// The file's header and data rows, or why the job cannot use the file.
    async fn read_rows(
        &self,
        job: &JobState,
        settings: &UserPoolSettings,
    ) -> Result<Result<(Columns, Vec<CsvRecord>), String>, ApiError> {
        let data = self
            .read_upload(&job.pool_id, &job.job_id, job.upload.as_ref())
            .await?;
        let Some(data) = data else {
            return Ok(Err("The CSV file is missing.".into()));
        };
        let mut records = match csv::parse(&data) {
            Ok(records) => records,
            Err(err) => return Ok(Err(format!("Unable to parse the CSV file: {err}."))),
        };
        if records.is_empty() {
            return Ok(Err("The CSV file is empty.".into()));
        }
        let header = records.remove(0);
        Ok(Columns::new(settings, &header.fields).map(|columns| (columns, records)))
    }

    /// Records how the job ended and deletes its file.
    async fn finish(&self, job: &JobState, ending: Ending) -> Result<(), ApiError> {
        let (pool_id, job_id) = (job.pool_id.as_str(), job.job_id.as_str());
        let command = ImportJobCommand::Complete {
            status: ending.status,
            message: ending.message,
            counts: ending.counts,
        };
        self.on_job(pool_id, job_id, &command, &system_meta(job_id))
            .await?;
        if let Some(upload) = &job.upload {
            for index in 0..upload.chunks {
                let key = chunk_key(pool_id, job_id, &upload.upload_id, index);
                self.imports.remove(&key).await;
            }
        }
        tracing::info!(status = ending.status.as_str(), "user import finished");
        Ok(())
    }

    /// The uploaded file, or `None` when it is gone.
    async fn read_upload(
        &self,
        pool_id: &str,
        job_id: &str,
        upload: Option<&Upload>,
    ) -> Result<Option<Vec<u8>>, ApiError> {
        let Some(upload) = upload else {
            return Ok(None);
        };
        let mut data = Vec::with_capacity(usize::try_from(upload.size_bytes).unwrap_or(0));
        for index in 0..upload.chunks {
            let key = chunk_key(pool_id, job_id, &upload.upload_id, index);
            match self.imports.get(&key).await? {
                Some(piece) => data.extend_from_slice(&piece),
                None => return Ok(None),
            }
        }
        Ok(Some(data))
    }

    /// Creates the user of one row. `Err` only for failures worth retrying the chunk
    /// for (the log or a store unavailable); a bad row is `Failed`.
    async fn import_row(
        &self,
        job: &JobState,
        settings: &UserPoolSettings,
        columns: &Columns,
        row: &CsvRecord,
        index: usize,
    ) -> Result<RowOutcome, ApiError> {
        let user = match columns.user(settings, &row.fields, &job.hashing_algorithm) {
            Ok(user) => user,
            Err(problem) => {
                tracing::info!(line = row.line, problem, "import row failed");
                return Ok(RowOutcome::Failed);
            }
        };
        let (pool_id, job_id) = (job.pool_id.as_str(), job.job_id.as_str());
        let sub = row_sub(job_id, index);
        let meta = system_meta(job_id);
        // A row with a password hash: the hash first (the sub is the row's, so a rerun
        // after a crash writes the same entry), then the user, confirmed.
        let status = match &user.password_hash {
            Some(hash) => {
                let key = format!("{pool_id}/{sub}");
                put_into(&*self.imports.passwords, &key, Bytes::from(hash.clone())).await?;
                UserStatus::Confirmed
            }
            None => UserStatus::ResetRequired,
        };
        let created = self
            .create_user(
                pool_id,
                &sub,
                &user.username,
                user.attributes,
                status,
                false,
                &meta,
            )
            .await;
        match created {
            Ok(_) => {}
            Err(err) if err.code == ErrorCode::UsernameExistsException => {
                let stream = AggregateStore::stream::<User>(pool_id, &sub)?;
                let ours = self.store.load::<User>(&stream).await?.aggregate.state;
                if ours.is_none() {
                    tracing::info!(
                        line = row.line,
                        "import row skipped: the user already exists"
                    );
                    return Ok(RowOutcome::Skipped);
                }
            }
            Err(err)
                if matches!(
                    err.code,
                    ErrorCode::ServiceUnavailableException
                        | ErrorCode::InternalErrorException
                        | ErrorCode::ConcurrentModificationException
                ) =>
            {
                return Err(err);
            }
            Err(err) => {
                tracing::info!(line = row.line, problem = %err.message, "import row failed");
                return Ok(RowOutcome::Failed);
            }
        }
        if user.mfa_enabled {
            let sms = MfaOption {
                delivery_medium: "SMS".into(),
                attribute_name: "phone_number".into(),
            };
            self.set_user_settings(pool_id, &sub, vec![sms], &meta.follow_up())
                .await?;
        }
        Ok(RowOutcome::Imported)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_replica_at_a_time_holds_a_job_until_its_lease_runs_out() {
        let dir = tempfile::tempdir().unwrap();
        let store = portcullis_eventlog::embedded::EmbeddedStore::open(&dir.path().join("kv.redb"))
            .await
            .unwrap();
        let (kv, passwords) = (
            store.bucket("import-files"),
            store.bucket("imported-passwords"),
        );
        let (a, b) = (
            ImportFiles::new(kv.clone(), passwords.clone(), "a"),
            ImportFiles::new(kv, passwords, "b"),
        );
        assert!(a.lease("p", "j", 1_000).await.unwrap());
        assert!(!b.lease("p", "j", 2_000).await.unwrap(), "a holds it");
        assert!(a.lease("p", "j", 2_000).await.unwrap(), "a renews");
        assert!(
            b.lease("p", "j", 2_000 + LEASE_MS + 1).await.unwrap(),
            "a's ran out"
        );
        assert!(
            !a.lease("p", "j", 3_000 + LEASE_MS).await.unwrap(),
            "now b holds it"
        );
        b.release_lease("p", "j").await;
        assert!(a.lease("p", "j", 3_000 + LEASE_MS).await.unwrap());
    }

    #[test]
    fn a_rows_sub_is_stable_and_distinct() {
        assert_eq!(row_sub("import-a", 1), row_sub("import-a", 1));
        assert_ne!(row_sub("import-a", 1), row_sub("import-a", 2));
        assert_ne!(row_sub("import-a", 1), row_sub("import-b", 1));
        assert!(uuid::Uuid::parse_str(&row_sub("import-a", 1)).is_ok());
    }
}
