//! App client operations beyond create and describe: update, delete, list, and the
//! client secret rotation operations.

use portcullis_errors::ApiError;
use portcullis_proto::directory::v1 as dir;
use serde::Deserialize;
use serde_json::{Value, json};

use super::Call;
use super::ops::caller;
use super::shapes::{self, compact, parse, required};
use crate::AppState;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ClientRef {
    user_pool_id: Option<String>,
    client_id: Option<String>,
}

impl ClientRef {
    fn ids(self) -> Result<(String, String), ApiError> {
        Ok((
            required(self.user_pool_id, "userPoolId")?,
            required(self.client_id, "clientId")?,
        ))
    }
}

/// UpdateUserPoolClient: the client id plus CreateUserPoolClient's settings.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct UpdateRequest {
    client_id: Option<String>,
    #[serde(flatten)]
    settings: shapes::CreateUserPoolClientRequest,
}

pub async fn update_user_pool_client(state: &AppState, call: Call) -> Result<Value, ApiError> {
    let caller = caller(&call);
    let mut req: UpdateRequest = parse(call.body)?;
    let pool_id = required(req.settings.user_pool_id.take(), "userPoolId")?;
    let client_id = required(req.client_id, "clientId")?;
    let request = dir::UpdateUserPoolClientRequest {
        caller: Some(caller),
        pool_id,
        client_id,
        settings: Some(req.settings.settings_in()?),
    };
    let client = state
        .directory
        .clone()
        .update_user_pool_client(request)
        .await?
        .into_inner();
    Ok(json!({ "UserPoolClient": shapes::user_pool_client_out(&client) }))
}

pub async fn delete_user_pool_client(state: &AppState, call: Call) -> Result<Value, ApiError> {
    let caller = caller(&call);
    let (pool_id, client_id) = parse::<ClientRef>(call.body)?.ids()?;
    let request = dir::DeleteUserPoolClientRequest {
        caller: Some(caller),
        pool_id,
        client_id,
    };
    state
        .directory
        .clone()
        .delete_user_pool_client(request)
        .await?;
    Ok(json!({}))
}

pub async fn list_user_pool_clients(state: &AppState, call: Call) -> Result<Value, ApiError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Req {
        user_pool_id: Option<String>,
        max_results: Option<u32>,
        next_token: Option<String>,
    }
    let req: Req = parse(call.body)?;
    let request = dir::ListUserPoolClientsRequest {
        pool_id: required(req.user_pool_id, "userPoolId")?,
        max_results: req.max_results.unwrap_or(60),
        next_token: req.next_token.unwrap_or_default(),
    };
    let listed = state
        .directory
        .clone()
        .list_user_pool_clients(request)
        .await?
        .into_inner();
    let clients: Vec<Value> = listed
        .clients
        .iter()
        .map(|c| {
            json!({
                "ClientId": c.client_id,
                "UserPoolId": c.pool_id,
                "ClientName": c.client_name,
            })
        })
        .collect();
    Ok(compact(json!({
        "UserPoolClients": clients,
        "NextToken": Some(listed.next_token).filter(|t| !t.is_empty()),
    })))
}

fn secret_out(secret: &dir::ClientSecretDescriptor) -> Value {
    compact(json!({
        "ClientSecretId": secret.client_secret_id,
        "ClientSecretValue": secret.client_secret_value,
        "ClientSecretCreateDate": secret.client_secret_create_date,
    }))
}

pub async fn add_user_pool_client_secret(state: &AppState, call: Call) -> Result<Value, ApiError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Req {
        user_pool_id: Option<String>,
        client_id: Option<String>,
        client_secret: Option<String>,
    }
    let caller = caller(&call);
    let req: Req = parse(call.body)?;
    let request = dir::AddUserPoolClientSecretRequest {
        caller: Some(caller),
        pool_id: required(req.user_pool_id, "userPoolId")?,
        client_id: required(req.client_id, "clientId")?,
        client_secret: req.client_secret,
    };
    let secret = state
        .directory
        .clone()
        .add_user_pool_client_secret(request)
        .await?
        .into_inner();
    Ok(json!({ "ClientSecretDescriptor": secret_out(&secret) }))
}

pub async fn delete_user_pool_client_secret(
    state: &AppState,
    call: Call,
) -> Result<Value, ApiError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Req {
        user_pool_id: Option<String>,
        client_id: Option<String>,
        client_secret_id: Option<String>,
    }
    let caller = caller(&call);
    let req: Req = parse(call.body)?;
    let request = dir::DeleteUserPoolClientSecretRequest {
        caller: Some(caller),
        pool_id: required(req.user_pool_id, "userPoolId")?,
        client_id: required(req.client_id, "clientId")?,
        client_secret_id: required(req.client_secret_id, "clientSecretId")?,
    };
    state
        .directory
        .clone()
        .delete_user_pool_client_secret(request)
        .await?;
    Ok(json!({}))
}

/// A client has at most two secrets, so one page holds them all and `NextToken` is
/// never returned.
pub async fn list_user_pool_client_secrets(
    state: &AppState,
    call: Call,
) -> Result<Value, ApiError> {
    let (pool_id, client_id) = parse::<ClientRef>(call.body)?.ids()?;
    let request = dir::ListUserPoolClientSecretsRequest { pool_id, client_id };
    let listed = state
        .directory
        .clone()
        .list_user_pool_client_secrets(request)
        .await?
        .into_inner();
    let secrets: Vec<Value> = listed.client_secrets.iter().map(secret_out).collect();
    Ok(json!({ "ClientSecrets": secrets }))
}
