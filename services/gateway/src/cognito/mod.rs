//! The Cognito user-pool API: `POST /` with `X-Amz-Target:
//! AWSCognitoIdentityProviderService.<Operation>` and an awsJson 1.1 body.
//!
//! The operation table comes from the AWS model itself (`contracts/`), so which
//! operations exist and which ones AWS clients send unsigned is not a hand-kept list.

mod branding_ops;
pub mod catalog;
mod client_ops;
mod device_ops;
mod domain_ops;
mod group_ops;
pub mod import_ops;
mod mfa_ops;
pub(crate) mod ops;
mod passkey_ops;
mod pool_ops;
mod pool_shapes;
mod provider_ops;
mod resource_server_ops;
pub(crate) mod risk_ops;
mod session_ops;
pub(crate) mod shapes;
pub mod ui_ops;
pub(crate) mod user_ops;

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::Response;
use portcullis_errors::{ApiError, ErrorCode};
use serde_json::Value;

use crate::{AppState, error_response, json_response};
use portcullis_sigv4::{self as sigv4, SignedRequest, VerifiedCaller};

pub const TARGET_PREFIX: &str = "AWSCognitoIdentityProviderService";
const MODEL: &str = include_str!("../../contracts/cognito-idp.service-2.json");

/// Every operation of the model, whether clients sign it, and the service name their
/// signatures are scoped to (the model's `signingName`, else its `endpointPrefix`).
pub struct OperationTable {
    signed: HashMap<String, bool>,
    signing_name: String,
}

impl OperationTable {
    pub(crate) fn from_model(model: &str) -> Self {
        let parsed: Value = serde_json::from_str(model).unwrap_or(Value::Null);
        let signed = parsed["operations"]
            .as_object()
            .map(|ops| {
                ops.iter()
                    .map(|(name, op)| {
                        let unsigned = op["authtype"] == "none"
                            || op["auth"]
                                .as_array()
                                .is_some_and(|a| a.iter().any(|v| v == "smithy.api#noAuth"));
                        (name.clone(), !unsigned)
                    })
                    .collect()
            })
            .unwrap_or_default();
        // botocore signs with `signingName`, else the `endpointPrefix`.
        let metadata = &parsed["metadata"];
        let signing_name = metadata["signingName"]
            .as_str()
            .or_else(|| metadata["endpointPrefix"].as_str())
            .unwrap_or_default()
            .to_owned();
        Self {
            signed,
            signing_name,
        }
    }

    /// The service a signature for this API must be scoped to, e.g. `cognito-idp`.
    pub fn signing_name(&self) -> &str {
        &self.signing_name
    }

    /// `None` for an operation the API does not have.
    pub fn is_signed(&self, operation: &str) -> Option<bool> {
        self.signed.get(operation).copied()
    }

    pub fn len(&self) -> usize {
        self.signed.len()
    }

    pub fn is_empty(&self) -> bool {
        self.signed.is_empty()
    }
}

/// Portcullis's own operations beside Cognito's, all signed (administrators only).
pub const OWN_OPERATIONS: &[&str] = &["AdminSetUserPasswordHash"];

pub static OPERATIONS: LazyLock<OperationTable> = LazyLock::new(|| {
    let mut table = OperationTable::from_model(MODEL);
    for operation in OWN_OPERATIONS {
        table.signed.insert((*operation).to_owned(), true);
    }
    table
});

/// Who is calling: an administrator (SigV4-verified) or anyone.
pub enum Caller {
    Admin(VerifiedCaller),
    Anonymous,
}

pub struct Call {
    pub caller: Caller,
    /// The region the request is served in: the SigV4 scope's, else the default.
    pub region: String,
    pub request_id: String,
    pub body: Value,
    /// The caller's `User-Agent`, which triggers are told of.
    pub user_agent: String,
    /// The address the request came from.
    pub client: crate::client_ip::ClientIp,
}

/// `UserContextData` (public operations) and `ContextData` (admin ones), as a sign-in
/// request gives them.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ContextDataIn {
    ip_address: Option<String>,
    encoded_data: Option<String>,
    server_name: Option<String>,
    server_path: Option<String>,
    http_headers: Option<Vec<HttpHeaderIn>>,
}

#[derive(Debug, Default, serde::Deserialize)]
pub(crate) struct HttpHeaderIn {
    #[serde(rename = "headerName")]
    name: Option<String>,
    #[serde(rename = "headerValue")]
    value: Option<String>,
}

/// What a sign-in tells the pool's triggers and threat protection: the caller, the
/// address the request came from, and the context data the app gave.
pub(crate) fn sign_in_context(
    call: &Call,
    client_metadata: Option<std::collections::HashMap<String, String>>,
    user_context: Option<ContextDataIn>,
    server_context: Option<ContextDataIn>,
) -> Option<portcullis_proto::authn::v1::CallerContext> {
    let mut context = caller_context(&call.user_agent, client_metadata)?;
    context.source_ip = call.client.text();
    let from_server = server_context.is_some();
    context.context_data = server_context.or(user_context).map(|data| {
        portcullis_proto::authn::v1::RequestContextData {
            ip_address: data.ip_address.unwrap_or_default(),
            encoded_data: data.encoded_data.unwrap_or_default(),
            server_name: data.server_name.unwrap_or_default(),
            server_path: data.server_path.unwrap_or_default(),
            http_headers: data
                .http_headers
                .unwrap_or_default()
                .into_iter()
                .filter_map(|h| Some((h.name?, h.value.unwrap_or_default())))
                .collect(),
            from_server,
        }
    });
    Some(context)
}

/// What the pool's triggers are told about a call from `user_agent`.
pub(crate) fn caller_context(
    user_agent: &str,
    client_metadata: Option<std::collections::HashMap<String, String>>,
) -> Option<portcullis_proto::authn::v1::CallerContext> {
    Some(portcullis_proto::authn::v1::CallerContext {
        client_metadata: client_metadata.unwrap_or_default(),
        user_agent: user_agent.to_owned(),
        ..Default::default()
    })
}

/// Serves one `AWSCognitoIdentityProviderService` operation.
pub(crate) async fn handle(
    state: Arc<AppState>,
    operation: &str,
    request: &HttpRequest<'_>,
) -> Response {
    let result = async {
        let call = prepare(&state, &OPERATIONS, operation, request)?;
        ops::run(&state, operation, call).await
    };
    match result.await {
        Ok(value) => json_response(&value, request.request_id),
        Err(err) => error_response(&err, request.request_id),
    }
}

/// The parts of an HTTP request that a JSON API call is made of.
pub(crate) struct HttpRequest<'a> {
    pub method: &'a Method,
    pub uri: &'a Uri,
    pub headers: &'a HeaderMap,
    pub body: &'a Bytes,
    pub request_id: &'a str,
    pub client: crate::client_ip::ClientIp,
}

/// Checks the operation exists, verifies the signature of a signed one (admin
/// credentials), and parses the body into a [`Call`].
pub(crate) fn prepare(
    state: &AppState,
    table: &OperationTable,
    operation: &str,
    request: &HttpRequest<'_>,
) -> Result<Call, ApiError> {
    let Some(signed) = table.is_signed(operation) else {
        return Err(ApiError::new(ErrorCode::UnknownOperationException, ""));
    };
    let caller = if signed {
        Caller::Admin(verify_admin(state, request, table.signing_name())?)
    } else {
        Caller::Anonymous
    };
    let region = match &caller {
        Caller::Admin(v) => v.region.clone(),
        Caller::Anonymous => state.default_region.clone(),
    };
    Ok(Call {
        caller,
        region,
        request_id: request.request_id.to_owned(),
        body: request_value(request.body)?,
        user_agent: user_agent(request.headers),
        client: request.client,
    })
}

/// The caller's user agent: a browser's SDK cannot set `User-Agent` and names itself in
/// `X-Amz-User-Agent`, read first.
fn user_agent(headers: &HeaderMap) -> String {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    };
    let amz = header("x-amz-user-agent");
    let agent = header(http::header::USER_AGENT.as_str());
    if amz.is_empty() {
        agent.to_owned()
    } else {
        format!("{amz} {agent}")
    }
}

/// The request value of an awsJson 1.1 body, which every operation reads its members
/// from: an empty body is `{}`, anything but a JSON object a `SerializationException`.
pub fn request_value(body: &[u8]) -> Result<Value, ApiError> {
    if body.is_empty() {
        return Ok(Value::Object(Default::default()));
    }
    let value: Value = serde_json::from_slice(body).map_err(|_| {
        ApiError::new(
            ErrorCode::SerializationException,
            "Invalid JSON in request body.",
        )
    })?;
    if !value.is_object() {
        return Err(ApiError::new(
            ErrorCode::SerializationException,
            "The request body must be a JSON object.",
        ));
    }
    Ok(value)
}

/// Decodes `body` as `operation`'s request up to where a service would be called: the
/// request value, then, for the operations whose typed shapes the gateway converts
/// itself (user-pool, app-client and identity-pool settings, role mappings), that
/// conversion. What any caller's body goes through at the edge; the fuzz targets drive
/// it.
pub fn decode_request(operation: &str, body: &[u8]) -> Result<(), ApiError> {
    let value = request_value(body)?;
    match operation {
        "CreateUserPool" => {
            shapes::parse::<pool_shapes::CreateUserPoolRequest>(value)?.into_settings()?;
        }
        "UpdateUserPool" => {
            shapes::parse::<pool_shapes::UpdateUserPoolRequest>(value)?.into_parts()?;
        }
        "CreateUserPoolClient" | "UpdateUserPoolClient" => {
            shapes::parse::<shapes::CreateUserPoolClientRequest>(value)?.into_settings()?;
        }
        "AdminCreateUser" | "SignUp" | "AdminUpdateUserAttributes" | "UpdateUserAttributes" => {
            #[derive(serde::Deserialize)]
            #[serde(rename_all = "PascalCase")]
            struct Attributes {
                user_attributes: Option<Vec<shapes::AttributeType>>,
            }
            let attributes = shapes::parse::<Attributes>(value)?.user_attributes;
            shapes::attributes_in(attributes, "userAttributes")?;
        }
        "AddCustomAttributes" => {
            #[derive(serde::Deserialize)]
            #[serde(rename_all = "PascalCase")]
            struct Custom {
                custom_attributes: Option<Vec<pool_shapes::SchemaAttributeType>>,
            }
            let custom = shapes::parse::<Custom>(value)?.custom_attributes;
            pool_shapes::schema_in(custom, "customAttributes")?;
        }
        other => crate::identity::decode_request(other, value)?,
    }
    Ok(())
}

/// Verifies a request's SigV4 signature by an administrator's credentials, scoped to
/// `service` as AWS insists (a signature for one API is no signature for another).
pub(crate) fn verify_admin(
    state: &AppState,
    request: &HttpRequest<'_>,
    service: &str,
) -> Result<VerifiedCaller, ApiError> {
    let signed_request = SignedRequest {
        method: request.method.as_str(),
        path: request.uri.path(),
        query: request.uri.query().unwrap_or(""),
        headers: request.headers,
        body: request.body,
    };
    let verified = sigv4::verify(
        &signed_request,
        |key| state.admin_secret(key),
        time::OffsetDateTime::now_utc(),
    )
    .map_err(|err| ApiError::new(sigv4_code(err.error_type()), err.message()))?;
    if verified.service != service {
        return Err(ApiError::new(
            ErrorCode::InvalidSignatureException,
            format!("Credential should be scoped to correct service: '{service}'."),
        ));
    }
    Ok(verified)
}

fn sigv4_code(type_name: &str) -> ErrorCode {
    ErrorCode::from_type_name(type_name).unwrap_or(ErrorCode::InvalidSignatureException)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_browsers_sdk_is_named_by_its_amz_user_agent() {
        let mut headers = HeaderMap::new();
        headers.insert("user-agent", "Mozilla/5.0 (X11)".parse().unwrap());
        assert_eq!(user_agent(&headers), "Mozilla/5.0 (X11)");
        headers.insert(
            "x-amz-user-agent",
            "aws-sdk-js/3.600.0 ua/2.0".parse().unwrap(),
        );
        assert_eq!(
            user_agent(&headers),
            "aws-sdk-js/3.600.0 ua/2.0 Mozilla/5.0 (X11)"
        );
    }

    #[test]
    fn the_model_gives_every_operation_and_its_signing() {
        assert_eq!(OPERATIONS.len(), 129 + OWN_OPERATIONS.len());
        assert_eq!(OPERATIONS.is_signed("AdminSetUserPasswordHash"), Some(true));
        assert_eq!(OPERATIONS.is_signed("SignUp"), Some(false));
        assert_eq!(OPERATIONS.is_signed("InitiateAuth"), Some(false));
        assert_eq!(OPERATIONS.is_signed("GetUser"), Some(false));
        assert_eq!(OPERATIONS.is_signed("CreateUserPool"), Some(true));
        assert_eq!(OPERATIONS.is_signed("AdminGetUser"), Some(true));
        assert_eq!(OPERATIONS.is_signed("MakeCoffee"), None);
        assert_eq!(OPERATIONS.signing_name(), "cognito-idp");
    }

    fn code_of(result: Result<impl std::fmt::Debug, ApiError>) -> ErrorCode {
        result.expect_err("an error").code
    }

    #[test]
    fn a_body_is_a_json_object_or_a_serialization_error() {
        assert_eq!(request_value(b"").unwrap(), serde_json::json!({}));
        assert_eq!(request_value(b" {\"A\": 1} ").unwrap()["A"], 1);
        for bad in [&b"[]"[..], b"null", b"{", b"\"x\"", b"\xff", b"1"] {
            assert_eq!(
                code_of(request_value(bad)),
                ErrorCode::SerializationException
            );
        }
    }

    #[test]
    fn decoding_converts_the_shapes_the_gateway_reads_itself() {
        decode_request("CreateUserPool", br#"{"PoolName": "p"}"#).unwrap();
        decode_request("MakeCoffee", br#"{"Any": ["thing"]}"#).unwrap();
        assert_eq!(
            code_of(decode_request("CreateUserPool", br#"{"PoolName": 1}"#)),
            ErrorCode::SerializationException
        );
        assert_eq!(
            code_of(decode_request(
                "AdminCreateUser",
                br#"{"UserAttributes": [{"Value": "v"}]}"#
            )),
            ErrorCode::InvalidParameterException
        );
        let empty_rules =
            br#"{"RoleMappings": {"p": {"Type": "Rules", "RulesConfiguration": {"Rules": []}}}}"#;
        assert_eq!(
            code_of(decode_request("SetIdentityPoolRoles", empty_rules)),
            ErrorCode::InvalidParameterException
        );
    }
}
