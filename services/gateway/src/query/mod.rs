//! AWS's query protocol for the `iam` and `sts` clients: `POST /` with a form body
//! (`Action=...&Version=...`) and no `X-Amz-Target`, answered in XML.
//!
//! IAM actions and `GetCallerIdentity` are signed by an administrator; STS's
//! `AssumeRoleWithWebIdentity` is unsigned (the web identity token is the proof).

mod form;
mod iam_ops;
mod iam_providers;
mod sts_ops;
pub(crate) mod xml;

use std::sync::Arc;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use portcullis_errors::{ApiError, ErrorCode};
use portcullis_proto::credentials::v1 as pb;
use portcullis_proto::events::v1::{Actor, actor::Kind};
use portcullis_sigv4::VerifiedCaller;

use crate::AppState;
use crate::cognito::{HttpRequest, verify_admin};
use form::Params;
use tracing::Instrument;

const IAM_NAMESPACE: &str = "https://iam.amazonaws.com/doc/2010-05-08/";
const STS_NAMESPACE: &str = "https://sts.amazonaws.com/doc/2011-06-15/";

/// The request as an action sees it.
pub struct Request<'a> {
    pub state: &'a AppState,
    pub params: Params,
    pub request_id: &'a str,
    /// The verified administrator, for signed actions.
    pub admin: Option<VerifiedCaller>,
}

impl Request<'_> {
    pub fn caller(&self) -> pb::Caller {
        let actor = match &self.admin {
            Some(admin) => Actor {
                kind: Kind::Admin as i32,
                id: admin.access_key_id.clone(),
            },
            None => Actor {
                kind: Kind::User as i32,
                id: String::new(),
            },
        };
        pb::Caller {
            actor: Some(actor),
            correlation_id: self.request_id.to_owned(),
            region: self
                .admin
                .as_ref()
                .map_or_else(|| self.state.default_region.clone(), |a| a.region.clone()),
        }
    }
}

/// What an action answers: its `Result` element, or none.
pub type Answer = Result<Option<xml::Xml>, ApiError>;

pub(crate) async fn handle(state: Arc<AppState>, http: &HttpRequest<'_>) -> Response {
    let request_id = http.request_id;
    let params = match Params::parse(http.body) {
        Ok(params) => params,
        Err(err) => return error_response(IAM_NAMESPACE, &err, request_id),
    };
    let action = params.get("Action").unwrap_or_default().to_owned();
    let (namespace, service) = if sts_ops::ACTIONS.contains(&action.as_str()) {
        (STS_NAMESPACE, "sts")
    } else {
        (IAM_NAMESPACE, "iam")
    };
    let signed = action != "AssumeRoleWithWebIdentity";
    let admin = if signed {
        match verify(&state, http, service) {
            Ok(admin) => Some(admin),
            Err(err) => return error_response(namespace, &err, request_id),
        }
    } else {
        None
    };
    let request = Request {
        state: &state,
        params,
        request_id,
        admin,
    };
    let span = tracing::info_span!("query", action = %action, request_id);
    let answer = async {
        if service == "sts" {
            sts_ops::run(&action, request).await
        } else {
            iam_ops::run(&action, request).await
        }
    }
    .instrument(span)
    .await;
    match answer {
        Ok(result) => {
            let body = xml::response(&action, namespace, result, request_id);
            xml_response(StatusCode::OK, body, request_id)
        }
        Err(err) => error_response(namespace, &err, request_id),
    }
}

fn verify(
    state: &AppState,
    request: &HttpRequest<'_>,
    service: &str,
) -> Result<VerifiedCaller, ApiError> {
    verify_admin(state, request, service)
}

/// The query protocol's name for an error and its HTTP status: the signature failures
/// have their own names there, and every code lacks the `Exception` suffix.
fn query_error(code: ErrorCode) -> (&'static str, StatusCode) {
    match code {
        ErrorCode::MissingAuthenticationTokenException => {
            ("MissingAuthenticationToken", StatusCode::FORBIDDEN)
        }
        ErrorCode::UnrecognizedClientException => ("InvalidClientTokenId", StatusCode::FORBIDDEN),
        ErrorCode::InvalidSignatureException => ("SignatureDoesNotMatch", StatusCode::FORBIDDEN),
        ErrorCode::IncompleteSignatureException => ("IncompleteSignature", StatusCode::BAD_REQUEST),
        ErrorCode::UnknownOperationException => ("InvalidAction", StatusCode::BAD_REQUEST),
        ErrorCode::InternalErrorException => ("ServiceFailure", StatusCode::INTERNAL_SERVER_ERROR),
        ErrorCode::ServiceUnavailableException => {
            ("ServiceUnavailable", StatusCode::SERVICE_UNAVAILABLE)
        }
        code => (
            code.type_name(),
            StatusCode::from_u16(code.http_status()).unwrap_or(StatusCode::BAD_REQUEST),
        ),
    }
}

fn error_response(namespace: &str, err: &ApiError, request_id: &str) -> Response {
    let (code, status) = query_error(err.code);
    let body = xml::error(
        namespace,
        !status.is_server_error(),
        code,
        &err.message,
        request_id,
    );
    xml_response(status, body, request_id)
}

fn xml_response(status: StatusCode, body: String, request_id: &str) -> Response {
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/xml"));
    if let Ok(value) = HeaderValue::from_str(request_id) {
        headers.insert("x-amzn-RequestId", value);
    }
    response
}

/// Seconds since the epoch as ISO 8601 UTC (`2026-01-02T03:04:05Z`).
pub fn iso8601(seconds: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(seconds)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_take_the_query_protocols_names() {
        assert_eq!(
            query_error(ErrorCode::MissingAuthenticationTokenException),
            ("MissingAuthenticationToken", StatusCode::FORBIDDEN)
        );
        assert_eq!(
            query_error(ErrorCode::NoSuchEntity),
            ("NoSuchEntity", StatusCode::NOT_FOUND)
        );
        assert_eq!(iso8601(0), "1970-01-01T00:00:00Z");
    }
}
