//! User import: GetCSVHeader, CreateUserImportJob, StartUserImportJob,
//! StopUserImportJob, DescribeUserImportJob, ListUserImportJobs. The job's pre-signed
//! URL points at this gateway's `PUT /import/<pool>/<job>?token=...` (see
//! [`crate::upload_import_file`]).

use portcullis_errors::ApiError;
use portcullis_proto::directory::v1 as dir;
use serde::Deserialize;
use serde_json::{Value, json};

use super::Call;
use super::ops::caller;
use super::shapes::{compact, parse, required};
use crate::AppState;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct JobRef {
    user_pool_id: Option<String>,
    job_id: Option<String>,
}

/// The pre-signed URL of a job: where its CSV file is PUT.
pub fn pre_signed_url(base: &str, job: &dir::UserImportJob) -> String {
    format!(
        "{base}/import/{}/{}?token={}",
        job.pool_id, job.job_id, job.upload_token
    )
}

fn job_out(state: &AppState, job: &dir::UserImportJob) -> Value {
    let text = |s: &str| Some(s.to_owned()).filter(|s| !s.is_empty());
    let date = |d: i64| Some(d).filter(|d| *d > 0);
    compact(json!({
        "JobName": job.job_name,
        "JobId": job.job_id,
        "UserPoolId": job.pool_id,
        "PreSignedUrl": pre_signed_url(&state.public_base_url, job),
        "CreationDate": job.creation_date,
        "StartDate": date(job.start_date),
        "CompletionDate": date(job.completion_date),
        "Status": job.status,
        "CloudWatchLogsRoleArn": text(&job.cloud_watch_logs_role_arn),
        "ImportedUsers": job.imported_users,
        "SkippedUsers": job.skipped_users,
        "FailedUsers": job.failed_users,
        "CompletionMessage": text(&job.completion_message),
        "PasswordHashingAlgorithm": text(&job.password_hashing_algorithm),
    }))
}

pub async fn get_csv_header(state: &AppState, call: Call) -> Result<Value, ApiError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Req {
        user_pool_id: Option<String>,
    }
    let req: Req = parse(call.body)?;
    let pool_id = required(req.user_pool_id, "userPoolId")?;
    let header = state
        .directory
        .clone()
        .get_csv_header(dir::GetCsvHeaderRequest {
            pool_id: pool_id.clone(),
        })
        .await?
        .into_inner();
    Ok(json!({ "UserPoolId": pool_id, "CSVHeader": header.columns }))
}

pub async fn create_user_import_job(state: &AppState, call: Call) -> Result<Value, ApiError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Req {
        job_name: Option<String>,
        user_pool_id: Option<String>,
        cloud_watch_logs_role_arn: Option<String>,
        password_hashing_algorithm: Option<String>,
    }
    let caller = caller(&call);
    let req: Req = parse(call.body)?;
    let request = dir::CreateUserImportJobRequest {
        caller: Some(caller),
        job_name: required(req.job_name, "jobName")?,
        pool_id: required(req.user_pool_id, "userPoolId")?,
        cloud_watch_logs_role_arn: required(
            req.cloud_watch_logs_role_arn,
            "cloudWatchLogsRoleArn",
        )?,
        password_hashing_algorithm: req.password_hashing_algorithm.unwrap_or_default(),
    };
    let job = state
        .directory
        .clone()
        .create_user_import_job(request)
        .await?
        .into_inner();
    Ok(json!({ "UserImportJob": job_out(state, &job) }))
}

#[derive(Clone, Copy)]
pub enum JobAction {
    Start,
    Stop,
    Describe,
}

pub async fn user_import_job(
    state: &AppState,
    call: Call,
    action: JobAction,
) -> Result<Value, ApiError> {
    let caller = caller(&call);
    let req: JobRef = parse(call.body)?;
    let request = dir::UserImportJobRequest {
        caller: Some(caller),
        pool_id: required(req.user_pool_id, "userPoolId")?,
        job_id: required(req.job_id, "jobId")?,
    };
    let mut directory = state.directory.clone();
    let job = match action {
        JobAction::Start => directory.start_user_import_job(request).await?,
        JobAction::Stop => directory.stop_user_import_job(request).await?,
        JobAction::Describe => directory.describe_user_import_job(request).await?,
    }
    .into_inner();
    Ok(json!({ "UserImportJob": job_out(state, &job) }))
}

pub async fn list_user_import_jobs(state: &AppState, call: Call) -> Result<Value, ApiError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Req {
        user_pool_id: Option<String>,
        max_results: Option<u32>,
        pagination_token: Option<String>,
    }
    let req: Req = parse(call.body)?;
    let request = dir::ListUserImportJobsRequest {
        pool_id: required(req.user_pool_id, "userPoolId")?,
        max_results: required(req.max_results, "maxResults")?,
        pagination_token: req.pagination_token.unwrap_or_default(),
    };
    let listed = state
        .directory
        .clone()
        .list_user_import_jobs(request)
        .await?
        .into_inner();
    let jobs: Vec<Value> = listed.jobs.iter().map(|j| job_out(state, j)).collect();
    Ok(compact(json!({
        "UserImportJobs": jobs,
        "PaginationToken": Some(listed.pagination_token).filter(|t| !t.is_empty()),
    })))
}
