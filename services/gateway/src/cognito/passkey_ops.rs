//! Passkeys of the signed-in user: `StartWebAuthnRegistration`,
//! `CompleteWebAuthnRegistration`, `ListWebAuthnCredentials`, `DeleteWebAuthnCredential`.

use portcullis_errors::ApiError;
use portcullis_proto::authn::v1 as authn;
use serde::Deserialize;
use serde_json::{Value, json};

use super::Call;
use super::ops::{authorize_user_token, token_user_error};
use super::shapes::{compact, parse, required};
use crate::AppState;

/// The user and client of the call's access token.
async fn token_user(state: &AppState, call: &Call) -> Result<authn::TokenUser, ApiError> {
    let (verified, user) = authorize_user_token(state, call.body.clone()).await?;
    Ok(authn::TokenUser {
        pool_id: verified.pool_id,
        sub: verified.sub,
        username: user.username,
        client_id: verified.client_id,
    })
}

pub(super) async fn start_web_authn_registration(
    state: &AppState,
    call: Call,
) -> Result<Value, ApiError> {
    let user = token_user(state, &call).await?;
    let request = authn::StartWebAuthnRegistrationRequest { user: Some(user) };
    let response = state
        .authn
        .clone()
        .start_web_authn_registration(request)
        .await
        .map_err(token_user_error)?
        .into_inner();
    let options: Value = serde_json::from_str(&response.credential_creation_options_json)
        .map_err(|_| ApiError::internal())?;
    Ok(json!({ "CredentialCreationOptions": options }))
}

pub(super) async fn complete_web_authn_registration(
    state: &AppState,
    call: Call,
) -> Result<Value, ApiError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Req {
        credential: Option<Value>,
    }
    let req: Req = parse(call.body.clone())?;
    let credential = required(req.credential, "credential")?;
    let user = token_user(state, &call).await?;
    let request = authn::CompleteWebAuthnRegistrationRequest {
        user: Some(user),
        credential_json: credential.to_string(),
    };
    state
        .authn
        .clone()
        .complete_web_authn_registration(request)
        .await
        .map_err(token_user_error)?;
    Ok(json!({}))
}

pub(super) async fn list_web_authn_credentials(
    state: &AppState,
    call: Call,
) -> Result<Value, ApiError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Req {
        next_token: Option<String>,
        max_results: Option<i64>,
    }
    let req: Req = parse(call.body.clone())?;
    let max_results = match req.max_results {
        None => 0,
        Some(n @ 0..=20) => u32::try_from(n).unwrap_or(0),
        Some(n) => {
            return Err(ApiError::invalid_parameter(format!(
                "1 validation error detected: Value '{n}' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 20"
            )));
        }
    };
    let user = token_user(state, &call).await?;
    let request = authn::ListWebAuthnCredentialsRequest {
        user: Some(user),
        max_results,
        next_token: req.next_token.unwrap_or_default(),
    };
    let response = state
        .authn
        .clone()
        .list_web_authn_credentials(request)
        .await
        .map_err(token_user_error)?
        .into_inner();
    let credentials: Vec<Value> = response
        .credentials
        .into_iter()
        .map(|c| {
            compact(json!({
                "CredentialId": c.credential_id,
                "FriendlyCredentialName": c.friendly_credential_name,
                "RelyingPartyId": c.relying_party_id,
                "AuthenticatorAttachment": Some(c.authenticator_attachment).filter(|a| !a.is_empty()),
                "AuthenticatorTransports": c.authenticator_transports,
                "CreatedAt": c.created_at_ms as f64 / 1000.0,
            }))
        })
        .collect();
    Ok(compact(json!({
        "Credentials": credentials,
        "NextToken": Some(response.next_token).filter(|t| !t.is_empty()),
    })))
}

pub(super) async fn delete_web_authn_credential(
    state: &AppState,
    call: Call,
) -> Result<Value, ApiError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Req {
        credential_id: Option<String>,
    }
    let req: Req = parse(call.body.clone())?;
    let credential_id = required(req.credential_id, "credentialId")?;
    let user = token_user(state, &call).await?;
    let request = authn::DeleteWebAuthnCredentialRequest {
        user: Some(user),
        credential_id,
    };
    state
        .authn
        .clone()
        .delete_web_authn_credential(request)
        .await
        .map_err(token_user_error)?;
    Ok(json!({}))
}
