//! The Cognito identity-pool API: `POST /` with `X-Amz-Target:
//! AWSCognitoIdentityService.<Operation>` and an awsJson 1.1 body, served by the
//! credentials broker. Which operations exist and which ones clients send unsigned
//! comes from the AWS model (`contracts/cognito-identity.service-2.json`).

mod ops;
mod shapes;

use std::sync::{Arc, LazyLock};

use axum::response::Response;
use portcullis_errors::ApiError;
use serde_json::Value;

use crate::cognito::{Call, Caller, HttpRequest, OperationTable, prepare};
use crate::{AppState, error_response, json_response};

pub use ops::IMPLEMENTED;

pub const TARGET_PREFIX: &str = "AWSCognitoIdentityService";
const MODEL: &str = include_str!("../../contracts/cognito-identity.service-2.json");

pub static OPERATIONS: LazyLock<OperationTable> =
    LazyLock::new(|| OperationTable::from_model(MODEL));

pub(crate) async fn handle(
    state: Arc<AppState>,
    operation: &str,
    request: &HttpRequest<'_>,
) -> Response {
    let result = async {
        let mut call = prepare(&state, &OPERATIONS, operation, request)?;
        if matches!(call.caller, Caller::Anonymous) {
            call.region = region_of_ids(&call.body).unwrap_or(call.region);
        }
        ops::run(&state, operation, call).await
    };
    match result.await {
        Ok(value) => json_response(&value, request.request_id),
        Err(err) => error_response(&err, request.request_id),
    }
}

/// An unsigned request is served in the region of the pool or identity it names.
fn region_of_ids(body: &Value) -> Option<String> {
    ["IdentityPoolId", "IdentityId"].iter().find_map(|member| {
        let id = body.get(*member)?.as_str()?;
        let (region, _) = id.split_once(':')?;
        (!region.is_empty()).then(|| region.to_owned())
    })
}

/// The identity-pool half of [`crate::cognito::decode_request`]: the settings of
/// `CreateIdentityPool`/`UpdateIdentityPool` and the role mappings of
/// `SetIdentityPoolRoles`, converted as their operations convert them.
pub(crate) fn decode_request(operation: &str, value: Value) -> Result<(), ApiError> {
    use crate::cognito::shapes::parse;
    match operation {
        "CreateIdentityPool" | "UpdateIdentityPool" => {
            parse::<shapes::PoolShape>(value)?.settings()?;
        }
        "SetIdentityPoolRoles" => {
            #[derive(serde::Deserialize)]
            #[serde(rename_all = "PascalCase")]
            struct Roles {
                role_mappings: Option<std::collections::HashMap<String, shapes::RoleMappingShape>>,
            }
            let mappings = parse::<Roles>(value)?.role_mappings;
            shapes::role_mappings_in(mappings.unwrap_or_default())?;
        }
        _ => {}
    }
    Ok(())
}

/// The caller as the credentials broker records it.
fn caller(call: &Call) -> portcullis_proto::credentials::v1::Caller {
    let cognito = crate::cognito::ops::caller(call);
    portcullis_proto::credentials::v1::Caller {
        actor: cognito.actor,
        correlation_id: cognito.correlation_id,
        region: cognito.region,
    }
}

/// A required-member error, the same for every operation.
fn required<T>(value: Option<T>, member: &str) -> Result<T, ApiError> {
    crate::cognito::shapes::required(value, member)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_model_gives_the_operations_and_which_are_unsigned() {
        assert_eq!(OPERATIONS.len(), 23);
        for unsigned in [
            "GetId",
            "GetCredentialsForIdentity",
            "GetOpenIdToken",
            "UnlinkIdentity",
        ] {
            assert_eq!(OPERATIONS.is_signed(unsigned), Some(false), "{unsigned}");
        }
        assert_eq!(OPERATIONS.is_signed("CreateIdentityPool"), Some(true));
        assert_eq!(
            OPERATIONS.is_signed("GetOpenIdTokenForDeveloperIdentity"),
            Some(true)
        );
        for op in IMPLEMENTED {
            assert!(OPERATIONS.is_signed(op).is_some(), "{op} is in the model");
        }
        assert_eq!(IMPLEMENTED.len(), 23);
        assert_eq!(OPERATIONS.signing_name(), "cognito-identity");
    }

    #[test]
    fn unsigned_requests_take_the_region_of_the_ids_they_name() {
        let body = serde_json::json!({"IdentityPoolId": "eu-west-1:0a1b"});
        assert_eq!(region_of_ids(&body).as_deref(), Some("eu-west-1"));
        let body = serde_json::json!({"IdentityId": "ap-south-1:0a1b"});
        assert_eq!(region_of_ids(&body).as_deref(), Some("ap-south-1"));
        assert_eq!(region_of_ids(&serde_json::json!({})), None);
    }
}
