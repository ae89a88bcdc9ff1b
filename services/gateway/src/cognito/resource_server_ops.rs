//! Resource servers: CreateResourceServer, DescribeResourceServer,
//! UpdateResourceServer, DeleteResourceServer, ListResourceServers.

use portcullis_errors::ApiError;
use portcullis_proto::directory::v1 as dir;
use portcullis_proto::events::v1::ResourceServerScope;
use serde::Deserialize;
use serde_json::{Value, json};

use super::Call;
use super::ops::caller;
use super::shapes::{parse, required};
use crate::AppState;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Scope {
    scope_name: Option<String>,
    scope_description: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ServerRequest {
    user_pool_id: Option<String>,
    identifier: Option<String>,
    name: Option<String>,
    scopes: Option<Vec<Scope>>,
}

impl ServerRequest {
    fn ids(&mut self) -> Result<(String, String), ApiError> {
        Ok((
            required(self.user_pool_id.take(), "userPoolId")?,
            required(self.identifier.take(), "identifier")?,
        ))
    }

    /// Create's and Update's request: both take the whole server.
    fn into_proto(mut self, call: &Call) -> Result<dir::ResourceServerRequest, ApiError> {
        let (pool_id, identifier) = self.ids()?;
        let name = required(self.name, "name")?;
        let scopes = self
            .scopes
            .unwrap_or_default()
            .into_iter()
            .enumerate()
            .map(|(i, s)| {
                let at = |member: &str| format!("scopes.{}.member.{member}", i + 1);
                Ok(ResourceServerScope {
                    scope_name: required(s.scope_name, &at("scopeName"))?,
                    scope_description: required(s.scope_description, &at("scopeDescription"))?,
                })
            })
            .collect::<Result<_, ApiError>>()?;
        Ok(dir::ResourceServerRequest {
            caller: Some(caller(call)),
            pool_id,
            identifier,
            name,
            scopes,
        })
    }
}

fn server_out(server: &dir::ResourceServer) -> Value {
    let scopes: Vec<Value> = server
        .scopes
        .iter()
        .map(|s| json!({ "ScopeName": s.scope_name, "ScopeDescription": s.scope_description }))
        .collect();
    json!({
        "UserPoolId": server.pool_id,
        "Identifier": server.identifier,
        "Name": server.name,
        "Scopes": scopes,
    })
}

pub async fn create_resource_server(state: &AppState, call: Call) -> Result<Value, ApiError> {
    let req: ServerRequest = parse(call.body.clone())?;
    let request = req.into_proto(&call)?;
    let server = state
        .directory
        .clone()
        .create_resource_server(request)
        .await?
        .into_inner();
    Ok(json!({ "ResourceServer": server_out(&server) }))
}

pub async fn update_resource_server(state: &AppState, call: Call) -> Result<Value, ApiError> {
    let req: ServerRequest = parse(call.body.clone())?;
    let request = req.into_proto(&call)?;
    let server = state
        .directory
        .clone()
        .update_resource_server(request)
        .await?
        .into_inner();
    Ok(json!({ "ResourceServer": server_out(&server) }))
}

fn server_ref(call: &Call) -> Result<dir::ResourceServerRef, ApiError> {
    let mut req: ServerRequest = parse(call.body.clone())?;
    let (pool_id, identifier) = req.ids()?;
    Ok(dir::ResourceServerRef {
        caller: Some(caller(call)),
        pool_id,
        identifier,
    })
}

pub async fn describe_resource_server(state: &AppState, call: Call) -> Result<Value, ApiError> {
    let request = server_ref(&call)?;
    let server = state
        .directory
        .clone()
        .describe_resource_server(request)
        .await?
        .into_inner();
    Ok(json!({ "ResourceServer": server_out(&server) }))
}

pub async fn delete_resource_server(state: &AppState, call: Call) -> Result<Value, ApiError> {
    let request = server_ref(&call)?;
    state
        .directory
        .clone()
        .delete_resource_server(request)
        .await?;
    Ok(json!({}))
}

pub async fn list_resource_servers(state: &AppState, call: Call) -> Result<Value, ApiError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Req {
        user_pool_id: Option<String>,
        max_results: Option<u32>,
        next_token: Option<String>,
    }
    let req: Req = parse(call.body)?;
    let request = dir::ListResourceServersRequest {
        pool_id: required(req.user_pool_id, "userPoolId")?,
        // Optional in the model; absent, a whole page.
        max_results: req.max_results.unwrap_or(50),
        next_token: req.next_token.unwrap_or_default(),
    };
    let listed = state
        .directory
        .clone()
        .list_resource_servers(request)
        .await?
        .into_inner();
    let servers: Vec<Value> = listed.resource_servers.iter().map(server_out).collect();
    let mut out = json!({ "ResourceServers": servers });
    if !listed.next_token.is_empty() {
        out["NextToken"] = json!(listed.next_token);
    }
    Ok(out)
}
