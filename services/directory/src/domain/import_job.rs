//! The user import job aggregate (`<pool>/importjob/<job id>`): a CSV file of users is
//! uploaded, started, imported in the background and completed. Progress is recorded as
//! absolute counts of the rows handled, so a restarted process resumes where the last
//! recorded progress left off.

use portcullis_proto::events::v1::{
    UserImportCounts, UserImportJobCompleted, UserImportJobCreated, UserImportJobFileUploaded,
    UserImportJobProgressed, UserImportJobStarted, UserImportJobStopRequested, UserPoolSettings,
};

use super::{Aggregate, ApiError, Ctx, ErrorCode, Event};

/// Attributes Cognito leaves out of the CSV header: the sub is assigned on import and
/// identities come from federation.
const NOT_IMPORTED: &[&str] = &["sub", "identities"];

/// The pool's CSV header as Cognito's GetCSVHeader builds it: the schema's attributes in
/// schema order (standard, then custom), then `cognito:mfa_enabled` and
/// `cognito:username`.
pub fn csv_header(settings: &UserPoolSettings) -> Vec<String> {
    settings
        .schema
        .iter()
        .map(|a| a.name.as_str())
        .filter(|name| !NOT_IMPORTED.contains(name) && !name.starts_with("dev:"))
        .chain(["cognito:mfa_enabled", "cognito:username"])
        .map(str::to_owned)
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobStatus {
    Created,
    Pending,
    InProgress,
    Stopping,
    Expired,
    Stopped,
    Failed,
    Succeeded,
}

impl JobStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            JobStatus::Created => "Created",
            JobStatus::Pending => "Pending",
            JobStatus::InProgress => "InProgress",
            JobStatus::Stopping => "Stopping",
            JobStatus::Expired => "Expired",
            JobStatus::Stopped => "Stopped",
            JobStatus::Failed => "Failed",
            JobStatus::Succeeded => "Succeeded",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "Succeeded" => JobStatus::Succeeded,
            "Stopped" => JobStatus::Stopped,
            "Expired" => JobStatus::Expired,
            _ => JobStatus::Failed,
        }
    }

    /// Whether a runner has work to do: import rows, or finish stopping.
    pub fn is_running(&self) -> bool {
        matches!(
            self,
            JobStatus::Pending | JobStatus::InProgress | JobStatus::Stopping
        )
    }
}

/// Where the uploaded CSV file is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    pub upload_id: String,
    pub chunks: u32,
    pub size_bytes: u64,
}

#[derive(Debug, Clone)]
pub struct JobState {
    pub pool_id: String,
    pub job_id: String,
    pub job_name: String,
    pub role_arn: String,
    pub hashing_algorithm: String,
    pub status: JobStatus,
    pub created_ms: i64,
    pub started_ms: Option<i64>,
    pub completed_ms: Option<i64>,
    pub upload: Option<Upload>,
    pub counts: UserImportCounts,
    pub message: String,
}

#[derive(Debug, Default, Clone)]
pub struct ImportJob {
    pub state: Option<JobState>,
}

pub enum ImportJobCommand {
    Create {
        pool_id: String,
        job_id: String,
        job_name: String,
        role_arn: String,
        hashing_algorithm: String,
    },
    /// A complete upload of the CSV file; a later upload replaces an earlier one.
    RecordUpload(Upload),
    Start,
    /// The runner handled rows up to `rows_done`.
    Progress(UserImportCounts),
    Stop,
    /// The runner finished: Succeeded, Failed, or Stopped (after a stop request).
    Complete {
        status: JobStatus,
        message: String,
        counts: UserImportCounts,
    },
}

fn not_found() -> ApiError {
    ApiError::not_found("Import job not found.")
}

fn wrong_state(action: &str, status: JobStatus) -> ApiError {
    ApiError::invalid_parameter(format!(
        "Import job cannot be {action}: its status is {}.",
        status.as_str()
    ))
}

impl ImportJob {
    pub fn existing(&self) -> Result<&JobState, ApiError> {
        self.state.as_ref().ok_or_else(not_found)
    }
}

impl Aggregate for ImportJob {
    const KIND: &'static str = "importjob";
    type Command = ImportJobCommand;

    fn decide(&self, command: &ImportJobCommand, _ctx: &Ctx) -> Result<Vec<Event>, ApiError> {
        match command {
            ImportJobCommand::Create {
                pool_id,
                job_id,
                job_name,
                role_arn,
                hashing_algorithm,
            } => {
                if self.state.is_some() {
                    return Err(ApiError::new(
                        ErrorCode::LimitExceededException,
                        "Import job already exists.",
                    ));
                }
                Ok(vec![Event::UserImportJobCreated(UserImportJobCreated {
                    pool_id: pool_id.clone(),
                    job_id: job_id.clone(),
                    job_name: job_name.clone(),
                    cloud_watch_logs_role_arn: role_arn.clone(),
                    password_hashing_algorithm: hashing_algorithm.clone(),
                })])
            }
            ImportJobCommand::RecordUpload(upload) => {
                let state = self.existing()?;
                if state.status != JobStatus::Created {
                    return Err(wrong_state("uploaded to", state.status));
                }
                Ok(vec![Event::UserImportJobFileUploaded(
                    UserImportJobFileUploaded {
                        upload_id: upload.upload_id.clone(),
                        chunks: upload.chunks,
                        size_bytes: upload.size_bytes,
                    },
                )])
            }
            ImportJobCommand::Start => {
                let state = self.existing()?;
                if state.status != JobStatus::Created {
                    return Err(wrong_state("started", state.status));
                }
                if state.upload.is_none() {
                    return Err(ApiError::new(
                        ErrorCode::PreconditionNotMetException,
                        "The CSV file has not been uploaded to the pre-signed URL.",
                    ));
                }
                Ok(vec![Event::UserImportJobStarted(UserImportJobStarted {})])
            }
            ImportJobCommand::Progress(counts) => {
                let state = self.existing()?;
                // A slower runner (or a replay) never moves the counts back.
                if !state.status.is_running() || counts.rows_done < state.counts.rows_done {
                    return Ok(Vec::new());
                }
                if *counts == state.counts && state.status != JobStatus::Pending {
                    return Ok(Vec::new());
                }
                Ok(vec![Event::UserImportJobProgressed(
                    UserImportJobProgressed {
                        counts: Some(*counts),
                    },
                )])
            }
            ImportJobCommand::Stop => {
                let state = self.existing()?;
                match state.status {
                    JobStatus::Pending | JobStatus::InProgress => {
                        Ok(vec![Event::UserImportJobStopRequested(
                            UserImportJobStopRequested {},
                        )])
                    }
                    JobStatus::Stopping => Ok(Vec::new()),
                    other => Err(wrong_state("stopped", other)),
                }
            }
            ImportJobCommand::Complete {
                status,
                message,
                counts,
            } => {
                let state = self.existing()?;
                if !state.status.is_running() {
                    return Ok(Vec::new());
                }
                // A stop request wins over whatever the runner was about to report.
                let status = if state.status == JobStatus::Stopping {
                    JobStatus::Stopped
                } else {
                    *status
                };
                let message = if status == JobStatus::Stopped {
                    "Import Job Stopped.".to_owned()
                } else {
                    message.clone()
                };
                Ok(vec![Event::UserImportJobCompleted(
                    UserImportJobCompleted {
                        status: status.as_str().into(),
                        message,
                        counts: Some(*counts),
                    },
                )])
            }
        }
    }

    fn evolve(&mut self, event: &Event, at_ms: i64) {
        if let Event::UserImportJobCreated(e) = event {
            self.state = Some(JobState {
                pool_id: e.pool_id.clone(),
                job_id: e.job_id.clone(),
                job_name: e.job_name.clone(),
                role_arn: e.cloud_watch_logs_role_arn.clone(),
                hashing_algorithm: e.password_hashing_algorithm.clone(),
                status: JobStatus::Created,
                created_ms: at_ms,
                started_ms: None,
                completed_ms: None,
                upload: None,
                counts: UserImportCounts::default(),
                message: String::new(),
            });
            return;
        }
        let Some(state) = self.state.as_mut() else {
            return;
        };
        match event {
            Event::UserImportJobFileUploaded(e) => {
                state.upload = Some(Upload {
                    upload_id: e.upload_id.clone(),
                    chunks: e.chunks,
                    size_bytes: e.size_bytes,
                });
            }
            Event::UserImportJobStarted(_) => {
                state.status = JobStatus::Pending;
                state.started_ms = Some(at_ms);
            }
            Event::UserImportJobProgressed(e) => {
                if state.status == JobStatus::Pending {
                    state.status = JobStatus::InProgress;
                }
                state.counts = e.counts.unwrap_or_default();
            }
            Event::UserImportJobStopRequested(_) => state.status = JobStatus::Stopping,
            Event::UserImportJobCompleted(e) => {
                state.status = JobStatus::parse(&e.status);
                state.message = e.message.clone();
                state.counts = e.counts.unwrap_or_default();
                state.completed_ms = Some(at_ms);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{given, schema};

    const CTX: Ctx = Ctx { now_ms: 2_000 };

    fn created() -> Event {
        Event::UserImportJobCreated(UserImportJobCreated {
            pool_id: "us-east-1_abc".into(),
            job_id: "import-x".into(),
            job_name: "job".into(),
            cloud_watch_logs_role_arn: "arn:aws:iam::123456789012:role/r".into(),
            password_hashing_algorithm: String::new(),
        })
    }

    fn uploaded() -> Event {
        Event::UserImportJobFileUploaded(UserImportJobFileUploaded {
            upload_id: "u".into(),
            chunks: 1,
            size_bytes: 10,
        })
    }

    fn counts(rows_done: u64, imported: u64) -> UserImportCounts {
        UserImportCounts {
            rows_done,
            imported,
            skipped: 0,
            failed: rows_done - imported,
        }
    }

    fn progressed(rows: u64) -> Event {
        Event::UserImportJobProgressed(UserImportJobProgressed {
            counts: Some(counts(rows, rows)),
        })
    }

    fn status(events: &[Event]) -> JobStatus {
        given::<ImportJob>(events).existing().unwrap().status
    }

    fn run(events: &[Event], command: ImportJobCommand) -> Result<Vec<Event>, ApiError> {
        given::<ImportJob>(events).decide(&command, &CTX)
    }

    #[test]
    fn the_header_is_the_schema_then_mfa_and_username() {
        let settings = UserPoolSettings {
            schema: schema::resolve(&[]).unwrap(),
            ..Default::default()
        };
        let header = csv_header(&settings);
        assert_eq!(header.first().map(String::as_str), Some("name"));
        assert_eq!(header.len(), 21);
        assert_eq!(
            &header[17..],
            [
                "address",
                "updated_at",
                "cognito:mfa_enabled",
                "cognito:username"
            ]
        );
    }

    #[test]
    fn given_no_upload_when_starting_then_precondition_not_met() {
        let err = run(&[created()], ImportJobCommand::Start).unwrap_err();
        assert_eq!(err.code, ErrorCode::PreconditionNotMetException);
    }

    #[test]
    fn given_an_upload_when_starting_then_pending_then_in_progress() {
        let started = run(&[created(), uploaded()], ImportJobCommand::Start).unwrap();
        let mut history = vec![created(), uploaded()];
        history.extend(started);
        assert_eq!(status(&history), JobStatus::Pending);
        history.push(progressed(5));
        assert_eq!(status(&history), JobStatus::InProgress);
    }

    #[test]
    fn given_a_started_job_when_started_again_then_invalid_parameter() {
        let history = [
            created(),
            uploaded(),
            Event::UserImportJobStarted(UserImportJobStarted {}),
        ];
        let err = run(&history, ImportJobCommand::Start).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidParameterException);
        let err = run(
            &history,
            ImportJobCommand::RecordUpload(Upload {
                upload_id: "v".into(),
                chunks: 1,
                size_bytes: 1,
            }),
        )
        .unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidParameterException);
    }

    #[test]
    fn progress_never_moves_back() {
        let history = [
            created(),
            uploaded(),
            Event::UserImportJobStarted(UserImportJobStarted {}),
            progressed(10),
        ];
        assert!(
            run(&history, ImportJobCommand::Progress(counts(5, 5)))
                .unwrap()
                .is_empty()
        );
        assert!(
            run(&history, ImportJobCommand::Progress(counts(10, 10)))
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            run(&history, ImportJobCommand::Progress(counts(20, 19)))
                .unwrap()
                .len(),
            1
        );
    }

    #[test]
    fn a_stop_request_turns_completion_into_stopped() {
        let mut history = vec![
            created(),
            uploaded(),
            Event::UserImportJobStarted(UserImportJobStarted {}),
            progressed(10),
        ];
        history.extend(run(&history, ImportJobCommand::Stop).unwrap());
        assert_eq!(status(&history), JobStatus::Stopping);
        assert!(run(&history, ImportJobCommand::Stop).unwrap().is_empty());
        let done = run(
            &history,
            ImportJobCommand::Complete {
                status: JobStatus::Succeeded,
                message: "done".into(),
                counts: counts(12, 12),
            },
        )
        .unwrap();
        history.extend(done);
        let job = given::<ImportJob>(&history);
        let state = job.existing().unwrap();
        assert_eq!(state.status, JobStatus::Stopped);
        assert_eq!(state.counts.rows_done, 12);
        assert!(state.completed_ms.is_some());
        let err = run(&history, ImportJobCommand::Stop).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidParameterException);
    }

    #[test]
    fn a_created_job_cannot_be_stopped_and_a_missing_one_is_not_found() {
        let err = run(&[created()], ImportJobCommand::Stop).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidParameterException);
        let err = run(&[], ImportJobCommand::Start).unwrap_err();
        assert_eq!(err.code, ErrorCode::ResourceNotFoundException);
    }

    #[test]
    fn completing_twice_records_once() {
        let mut history = vec![
            created(),
            uploaded(),
            Event::UserImportJobStarted(UserImportJobStarted {}),
        ];
        let complete = || ImportJobCommand::Complete {
            status: JobStatus::Succeeded,
            message: "Import Job Completed Successfully.".into(),
            counts: counts(3, 2),
        };
        history.extend(run(&history, complete()).unwrap());
        assert_eq!(status(&history), JobStatus::Succeeded);
        assert!(run(&history, complete()).unwrap().is_empty());
    }
}
