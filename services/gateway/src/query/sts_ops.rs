//! STS's actions: `AssumeRoleWithWebIdentity` (credentials for a role, by an identity
//! pool's OpenID token) and `GetCallerIdentity`.

use portcullis_errors::{ApiError, ErrorCode};
use portcullis_proto::credentials::v1 as pb;
use portcullis_types::ACCOUNT_ID;

use super::xml::Xml;
use super::{Answer, Request, iso8601};

pub const ACTIONS: &[&str] = &["AssumeRoleWithWebIdentity", "GetCallerIdentity"];

pub async fn run(action: &str, req: Request<'_>) -> Answer {
    match action {
        "AssumeRoleWithWebIdentity" => assume_role_with_web_identity(req).await,
        "GetCallerIdentity" => {
            // Only administrators sign; they act as the account's root.
            let mut xml = Xml::new();
            xml.text("UserId", ACCOUNT_ID)
                .text("Account", ACCOUNT_ID)
                .text("Arn", &format!("arn:aws:iam::{ACCOUNT_ID}:root"));
            Ok(Some(xml))
        }
        _ => Err(ApiError::new(
            ErrorCode::UnknownOperationException,
            format!("Could not find operation {action} for version 2011-06-15"),
        )),
    }
}

async fn assume_role_with_web_identity(req: Request<'_>) -> Answer {
    let p = &req.params;
    let request = pb::AssumeRoleWithWebIdentityRequest {
        caller: Some(req.caller()),
        role_arn: p.required("RoleArn")?.to_owned(),
        role_session_name: p.required("RoleSessionName")?.to_owned(),
        web_identity_token: p.required("WebIdentityToken")?.to_owned(),
        duration_seconds: p.number("DurationSeconds")?.map_or(0, i64::from),
        policy: p.get("Policy").unwrap_or_default().to_owned(),
    };
    let assumed = req
        .state
        .credentials
        .clone()
        .assume_role_with_web_identity(request)
        .await?
        .into_inner();
    let credentials = assumed.credentials.unwrap_or_default();
    let mut xml = Xml::new();
    xml.open("Credentials")
        .text("AccessKeyId", &credentials.access_key_id)
        .text("SecretAccessKey", &credentials.secret_key)
        .text("SessionToken", &credentials.session_token)
        .text("Expiration", &iso8601(credentials.expiration))
        .close("Credentials")
        .text(
            "SubjectFromWebIdentityToken",
            &assumed.subject_from_web_identity_token,
        )
        .open("AssumedRoleUser")
        .text("AssumedRoleId", &assumed.assumed_role_id)
        .text("Arn", &assumed.assumed_role_arn)
        .close("AssumedRoleUser")
        .optional("Provider", &assumed.provider)
        .optional("Audience", &assumed.audience);
    Ok(Some(xml))
}
