//! Sessions after sign-in: refreshing tokens, revoking a refresh token's session, and
//! signing a user out everywhere.

use std::collections::HashMap;

use portcullis_errors::ApiError;
use portcullis_proto::authn::v1 as authn;
use portcullis_proto::directory::v1 as dir;
use serde::Deserialize;
use serde_json::{Value, json};

use super::Call;
use super::ops::{UserRef, auth_response_out, authorize_user_token, caller};
use super::shapes::{parse, required};
use super::user_ops::{by_sub, user_caller, user_ref};
use crate::AppState;

pub(super) async fn get_tokens_from_refresh_token(
    state: &AppState,
    call: Call,
) -> Result<Value, ApiError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Req {
        refresh_token: Option<String>,
        client_id: Option<String>,
        client_secret: Option<String>,
        device_key: Option<String>,
        client_metadata: Option<HashMap<String, String>>,
    }
    let req: Req = parse(call.body)?;
    let request = authn::GetTokensFromRefreshTokenRequest {
        caller_context: super::caller_context(&call.user_agent, req.client_metadata),
        region: call.region.clone(),
        refresh_token: required(req.refresh_token, "refreshToken")?,
        client_id: required(req.client_id, "clientId")?,
        client_secret: req.client_secret.unwrap_or_default(),
        device_key: req.device_key.unwrap_or_default(),
        correlation_id: call.request_id.clone(),
    };
    let response = state
        .authn
        .clone()
        .get_tokens_from_refresh_token(request)
        .await?
        .into_inner();
    // The answer is only ever tokens: no challenge members.
    let mut out = auth_response_out(response);
    Ok(json!({ "AuthenticationResult": out["AuthenticationResult"].take() }))
}

pub(super) async fn revoke_token(state: &AppState, call: Call) -> Result<Value, ApiError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Req {
        token: Option<String>,
        client_id: Option<String>,
        client_secret: Option<String>,
    }
    let req: Req = parse(call.body)?;
    let request = authn::RevokeTokenRequest {
        region: call.region.clone(),
        token: required(req.token, "token")?,
        client_id: required(req.client_id, "clientId")?,
        client_secret: req.client_secret.unwrap_or_default(),
        correlation_id: call.request_id.clone(),
    };
    state.authn.clone().revoke_token(request).await?;
    Ok(json!({}))
}

/// `GlobalSignOut`: the token's user, signed out of every session begun before now.
pub(super) async fn global_sign_out(state: &AppState, call: Call) -> Result<Value, ApiError> {
    let (verified, _) = authorize_user_token(state, call.body.clone()).await?;
    let request = dir::RevokeSessionsRequest {
        caller: Some(user_caller(&call, &verified.sub)),
        user: Some(by_sub(&verified)),
        reason: "GLOBAL_SIGN_OUT".into(),
        ..Default::default()
    };
    state.directory.clone().revoke_sessions(request).await?;
    Ok(json!({}))
}

pub(super) async fn admin_user_global_sign_out(
    state: &AppState,
    call: Call,
) -> Result<Value, ApiError> {
    let req: UserRef = parse(call.body.clone())?;
    let request = dir::RevokeSessionsRequest {
        caller: Some(caller(&call)),
        user: Some(user_ref(req)?),
        reason: "ADMIN_GLOBAL_SIGN_OUT".into(),
        ..Default::default()
    };
    state.directory.clone().revoke_sessions(request).await?;
    Ok(json!({}))
}
