//! One function per operation of the identity-pool API: typed request -> credentials
//! broker -> response JSON.

use std::collections::HashMap;

use portcullis_errors::{ApiError, ErrorCode};
use portcullis_proto::credentials::v1 as cred;
use serde::Deserialize;
use serde_json::{Value, json};

use super::shapes::{self, PoolShape, RoleMappingShape};
use super::{caller, required};
use crate::AppState;
use crate::cognito::Call;
use crate::cognito::shapes::parse;

operations! { state, call;
    "CreateIdentityPool" => create_identity_pool(state, call),
    "DescribeIdentityPool" => describe_identity_pool(state, call),
    "UpdateIdentityPool" => update_identity_pool(state, call),
    "DeleteIdentityPool" => delete_identity_pool(state, call),
    "ListIdentityPools" => list_identity_pools(state, call),
    "SetIdentityPoolRoles" => set_identity_pool_roles(state, call),
    "GetIdentityPoolRoles" => get_identity_pool_roles(state, call),
    "SetPrincipalTagAttributeMap" => set_principal_tag_attribute_map(state, call),
    "GetPrincipalTagAttributeMap" => get_principal_tag_attribute_map(state, call),
    "TagResource" => tag_resource(state, call),
    "UntagResource" => untag_resource(state, call),
    "ListTagsForResource" => list_tags_for_resource(state, call),
    "GetId" => get_id(state, call),
    "GetCredentialsForIdentity" => get_credentials_for_identity(state, call),
    "GetOpenIdToken" => get_open_id_token(state, call),
    "GetOpenIdTokenForDeveloperIdentity" => get_open_id_token_for_developer_identity(state, call),
    "LookupDeveloperIdentity" => lookup_developer_identity(state, call),
    "MergeDeveloperIdentities" => merge_developer_identities(state, call),
    "UnlinkDeveloperIdentity" => unlink_developer_identity(state, call),
    "UnlinkIdentity" => unlink_identity(state, call),
    "DescribeIdentity" => describe_identity(state, call),
    "ListIdentities" => list_identities(state, call),
    "DeleteIdentities" => delete_identities(state, call),
}

/// The members that name things, shared by many requests.
#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct Refs {
    identity_pool_id: Option<String>,
    identity_id: Option<String>,
    identity_provider_name: Option<String>,
    resource_arn: Option<String>,
    logins: Option<HashMap<String, String>>,
    max_results: Option<u32>,
    next_token: Option<String>,
}

impl Refs {
    fn pool_id(&mut self) -> Result<String, ApiError> {
        required(self.identity_pool_id.take(), "identityPoolId")
    }
    fn identity_id(&mut self) -> Result<String, ApiError> {
        required(self.identity_id.take(), "identityId")
    }
    fn arn(&mut self) -> Result<String, ApiError> {
        required(self.resource_arn.take(), "resourceArn")
    }
}

async fn create_identity_pool(state: &AppState, call: Call) -> Result<Value, ApiError> {
    let caller = caller(&call);
    let mut shape: PoolShape = parse(call.body)?;
    let request = cred::CreateIdentityPoolRequest {
        caller: Some(caller),
        settings: Some(shape.settings()?),
        tags: shape.identity_pool_tags.take().unwrap_or_default(),
    };
    let pool = state
        .credentials
        .clone()
        .create_identity_pool(request)
        .await?
        .into_inner();
    Ok(shapes::pool_out(&pool))
}

async fn describe_identity_pool(state: &AppState, call: Call) -> Result<Value, ApiError> {
    let caller = caller(&call);
    let mut refs: Refs = parse(call.body)?;
    let request = cred::IdentityPoolRequest {
        caller: Some(caller),
        identity_pool_id: refs.pool_id()?,
    };
    let pool = state
        .credentials
        .clone()
        .describe_identity_pool(request)
        .await?
        .into_inner();
    Ok(shapes::pool_out(&pool))
}

async fn update_identity_pool(state: &AppState, call: Call) -> Result<Value, ApiError> {
    let caller = caller(&call);
    let mut shape: PoolShape = parse(call.body)?;
    let identity_pool_id = required(shape.identity_pool_id.take(), "identityPoolId")?;
    let request = cred::UpdateIdentityPoolRequest {
        caller: Some(caller),
        identity_pool_id,
        settings: Some(shape.settings()?),
        tags: shape
            .identity_pool_tags
            .take()
            .map(|tags| cred::Tags { tags }),
    };
    let pool = state
        .credentials
        .clone()
        .update_identity_pool(request)
        .await?
        .into_inner();
    Ok(shapes::pool_out(&pool))
}

async fn delete_identity_pool(state: &AppState, call: Call) -> Result<Value, ApiError> {
    let caller = caller(&call);
    let mut refs: Refs = parse(call.body)?;
    let request = cred::IdentityPoolRequest {
        caller: Some(caller),
        identity_pool_id: refs.pool_id()?,
    };
    state
        .credentials
        .clone()
        .delete_identity_pool(request)
        .await?;
    Ok(json!({}))
}

async fn list_identity_pools(state: &AppState, call: Call) -> Result<Value, ApiError> {
    let caller = caller(&call);
    let refs: Refs = parse(call.body)?;
    let request = cred::ListIdentityPoolsRequest {
        caller: Some(caller),
        max_results: required(refs.max_results, "maxResults")?,
        next_token: refs.next_token.unwrap_or_default(),
    };
    let page = state
        .credentials
        .clone()
        .list_identity_pools(request)
        .await?
        .into_inner();
    let pools: Vec<Value> = page
        .identity_pools
        .iter()
        .map(|p| {
            json!({
                "IdentityPoolId": p.identity_pool_id,
                "IdentityPoolName": p.settings.as_ref().map(|s| s.identity_pool_name.clone()),
            })
        })
        .collect();
    let mut out = json!({ "IdentityPools": pools });
    if !page.next_token.is_empty() {
        out["NextToken"] = json!(page.next_token);
    }
    Ok(out)
}

async fn set_identity_pool_roles(state: &AppState, call: Call) -> Result<Value, ApiError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Req {
        identity_pool_id: Option<String>,
        roles: Option<HashMap<String, String>>,
        role_mappings: Option<HashMap<String, RoleMappingShape>>,
    }
    let caller = caller(&call);
    let req: Req = parse(call.body)?;
    let request = cred::SetIdentityPoolRolesRequest {
        caller: Some(caller),
        identity_pool_id: required(req.identity_pool_id, "identityPoolId")?,
        roles: required(req.roles, "roles")?,
        role_mappings: shapes::role_mappings_in(req.role_mappings.unwrap_or_default())?,
    };
    state
        .credentials
        .clone()
        .set_identity_pool_roles(request)
        .await?;
    Ok(json!({}))
}

async fn get_identity_pool_roles(state: &AppState, call: Call) -> Result<Value, ApiError> {
    let caller = caller(&call);
    let mut refs: Refs = parse(call.body)?;
    let request = cred::IdentityPoolRequest {
        caller: Some(caller),
        identity_pool_id: refs.pool_id()?,
    };
    let roles = state
        .credentials
        .clone()
        .get_identity_pool_roles(request)
        .await?
        .into_inner();
    let mut out = json!({
        "IdentityPoolId": roles.identity_pool_id,
        "Roles": roles.roles,
    });
    if !roles.role_mappings.is_empty() {
        out["RoleMappings"] = shapes::role_mappings_out(&roles.role_mappings);
    }
    Ok(out)
}

fn tag_map_out(map: &cred::PrincipalTagMap) -> Value {
    json!({
        "IdentityPoolId": map.identity_pool_id,
        "IdentityProviderName": map.identity_provider_name,
        "UseDefaults": map.use_defaults,
        "PrincipalTags": map.principal_tags,
    })
}

async fn set_principal_tag_attribute_map(state: &AppState, call: Call) -> Result<Value, ApiError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Req {
        identity_pool_id: Option<String>,
        identity_provider_name: Option<String>,
        use_defaults: Option<bool>,
        principal_tags: Option<HashMap<String, String>>,
    }
    let caller = caller(&call);
    let req: Req = parse(call.body)?;
    let request = cred::PrincipalTagMap {
        caller: Some(caller),
        identity_pool_id: required(req.identity_pool_id, "identityPoolId")?,
        identity_provider_name: required(req.identity_provider_name, "identityProviderName")?,
        use_defaults: req.use_defaults.unwrap_or(false),
        principal_tags: req.principal_tags.unwrap_or_default(),
    };
    let map = state
        .credentials
        .clone()
        .set_principal_tag_attribute_map(request)
        .await?
        .into_inner();
    Ok(tag_map_out(&map))
}

async fn get_principal_tag_attribute_map(state: &AppState, call: Call) -> Result<Value, ApiError> {
    let caller = caller(&call);
    let mut refs: Refs = parse(call.body)?;
    let request = cred::GetPrincipalTagAttributeMapRequest {
        caller: Some(caller),
        identity_pool_id: refs.pool_id()?,
        identity_provider_name: required(
            refs.identity_provider_name.take(),
            "identityProviderName",
        )?,
    };
    let map = state
        .credentials
        .clone()
        .get_principal_tag_attribute_map(request)
        .await?
        .into_inner();
    Ok(tag_map_out(&map))
}

async fn tag_resource(state: &AppState, call: Call) -> Result<Value, ApiError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Req {
        resource_arn: Option<String>,
        tags: Option<HashMap<String, String>>,
    }
    let caller = caller(&call);
    let req: Req = parse(call.body)?;
    let request = cred::TagIdentityPoolRequest {
        caller: Some(caller),
        resource_arn: required(req.resource_arn, "resourceArn")?,
        tags: required(req.tags, "tags")?,
    };
    state.credentials.clone().tag_identity_pool(request).await?;
    Ok(json!({}))
}

async fn untag_resource(state: &AppState, call: Call) -> Result<Value, ApiError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Req {
        resource_arn: Option<String>,
        tag_keys: Option<Vec<String>>,
    }
    let caller = caller(&call);
    let req: Req = parse(call.body)?;
    let request = cred::UntagIdentityPoolRequest {
        caller: Some(caller),
        resource_arn: required(req.resource_arn, "resourceArn")?,
        tag_keys: required(req.tag_keys, "tagKeys")?,
    };
    state
        .credentials
        .clone()
        .untag_identity_pool(request)
        .await?;
    Ok(json!({}))
}

async fn list_tags_for_resource(state: &AppState, call: Call) -> Result<Value, ApiError> {
    let caller = caller(&call);
    let mut refs: Refs = parse(call.body)?;
    let request = cred::IdentityPoolArnRequest {
        caller: Some(caller),
        resource_arn: refs.arn()?,
    };
    let tags = state
        .credentials
        .clone()
        .list_identity_pool_tags(request)
        .await?
        .into_inner();
    Ok(json!({ "Tags": tags.tags }))
}

async fn get_id(state: &AppState, call: Call) -> Result<Value, ApiError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Req {
        account_id: Option<String>,
        identity_pool_id: Option<String>,
        logins: Option<HashMap<String, String>>,
    }
    let caller = caller(&call);
    let req: Req = parse(call.body)?;
    let request = cred::GetIdRequest {
        caller: Some(caller),
        identity_pool_id: required(req.identity_pool_id, "identityPoolId")?,
        logins: req.logins.unwrap_or_default(),
        account_id: req.account_id.unwrap_or_default(),
    };
    let id = state
        .credentials
        .clone()
        .get_id(request)
        .await?
        .into_inner();
    Ok(json!({ "IdentityId": id.identity_id }))
}

async fn get_credentials_for_identity(state: &AppState, call: Call) -> Result<Value, ApiError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Req {
        identity_id: Option<String>,
        logins: Option<HashMap<String, String>>,
        custom_role_arn: Option<String>,
    }
    let caller = caller(&call);
    let req: Req = parse(call.body)?;
    let request = cred::GetCredentialsForIdentityRequest {
        caller: Some(caller),
        identity_id: required(req.identity_id, "identityId")?,
        logins: req.logins.unwrap_or_default(),
        custom_role_arn: req.custom_role_arn.unwrap_or_default(),
    };
    let issued = state
        .credentials
        .clone()
        .get_credentials_for_identity(request)
        .await?
        .into_inner();
    let credentials = issued.credentials.unwrap_or_default();
    Ok(json!({
        "IdentityId": issued.identity_id,
        "Credentials": shapes::credentials_out(&credentials),
    }))
}

async fn get_open_id_token(state: &AppState, call: Call) -> Result<Value, ApiError> {
    let caller = caller(&call);
    let mut refs: Refs = parse(call.body)?;
    let request = cred::GetOpenIdTokenRequest {
        caller: Some(caller),
        identity_id: refs.identity_id()?,
        logins: refs.logins.take().unwrap_or_default(),
    };
    let token = state
        .credentials
        .clone()
        .get_open_id_token(request)
        .await?
        .into_inner();
    Ok(json!({ "IdentityId": token.identity_id, "Token": token.token }))
}

async fn get_open_id_token_for_developer_identity(
    state: &AppState,
    call: Call,
) -> Result<Value, ApiError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Req {
        identity_pool_id: Option<String>,
        identity_id: Option<String>,
        logins: Option<HashMap<String, String>>,
        principal_tags: Option<HashMap<String, String>>,
        token_duration: Option<i64>,
    }
    let caller = caller(&call);
    let req: Req = parse(call.body)?;
    let request = cred::GetOpenIdTokenForDeveloperIdentityRequest {
        caller: Some(caller),
        identity_pool_id: required(req.identity_pool_id, "identityPoolId")?,
        identity_id: req.identity_id.unwrap_or_default(),
        logins: required(req.logins, "logins")?,
        principal_tags: req.principal_tags.unwrap_or_default(),
        token_duration: req.token_duration,
    };
    let token = state
        .credentials
        .clone()
        .get_open_id_token_for_developer_identity(request)
        .await?
        .into_inner();
    Ok(json!({ "IdentityId": token.identity_id, "Token": token.token }))
}

async fn lookup_developer_identity(state: &AppState, call: Call) -> Result<Value, ApiError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Req {
        identity_pool_id: Option<String>,
        identity_id: Option<String>,
        developer_user_identifier: Option<String>,
        max_results: Option<u32>,
        next_token: Option<String>,
    }
    let caller = caller(&call);
    let req: Req = parse(call.body)?;
    let request = cred::LookupDeveloperIdentityRequest {
        caller: Some(caller),
        identity_pool_id: required(req.identity_pool_id, "identityPoolId")?,
        identity_id: req.identity_id.unwrap_or_default(),
        developer_user_identifier: req.developer_user_identifier.unwrap_or_default(),
        max_results: req.max_results,
        next_token: req.next_token.unwrap_or_default(),
    };
    let found = state
        .credentials
        .clone()
        .lookup_developer_identity(request)
        .await?
        .into_inner();
    let mut out = json!({
        "IdentityId": found.identity_id,
        "DeveloperUserIdentifierList": found.developer_user_identifier_list,
    });
    if !found.next_token.is_empty() {
        out["NextToken"] = json!(found.next_token);
    }
    Ok(out)
}

async fn merge_developer_identities(state: &AppState, call: Call) -> Result<Value, ApiError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Req {
        source_user_identifier: Option<String>,
        destination_user_identifier: Option<String>,
        developer_provider_name: Option<String>,
        identity_pool_id: Option<String>,
    }
    let caller = caller(&call);
    let req: Req = parse(call.body)?;
    let request = cred::MergeDeveloperIdentitiesRequest {
        caller: Some(caller),
        source_user_identifier: required(req.source_user_identifier, "sourceUserIdentifier")?,
        destination_user_identifier: required(
            req.destination_user_identifier,
            "destinationUserIdentifier",
        )?,
        developer_provider_name: required(req.developer_provider_name, "developerProviderName")?,
        identity_pool_id: required(req.identity_pool_id, "identityPoolId")?,
    };
    let merged = state
        .credentials
        .clone()
        .merge_developer_identities(request)
        .await?
        .into_inner();
    Ok(json!({ "IdentityId": merged.identity_id }))
}

async fn unlink_developer_identity(state: &AppState, call: Call) -> Result<Value, ApiError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Req {
        identity_id: Option<String>,
        identity_pool_id: Option<String>,
        developer_provider_name: Option<String>,
        developer_user_identifier: Option<String>,
    }
    let caller = caller(&call);
    let req: Req = parse(call.body)?;
    let request = cred::UnlinkDeveloperIdentityRequest {
        caller: Some(caller),
        identity_id: required(req.identity_id, "identityId")?,
        identity_pool_id: required(req.identity_pool_id, "identityPoolId")?,
        developer_provider_name: required(req.developer_provider_name, "developerProviderName")?,
        developer_user_identifier: required(
            req.developer_user_identifier,
            "developerUserIdentifier",
        )?,
    };
    state
        .credentials
        .clone()
        .unlink_developer_identity(request)
        .await?;
    Ok(json!({}))
}

async fn unlink_identity(state: &AppState, call: Call) -> Result<Value, ApiError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Req {
        identity_id: Option<String>,
        logins: Option<HashMap<String, String>>,
        logins_to_remove: Option<Vec<String>>,
    }
    let caller = caller(&call);
    let req: Req = parse(call.body)?;
    let request = cred::UnlinkIdentityRequest {
        caller: Some(caller),
        identity_id: required(req.identity_id, "identityId")?,
        logins: required(req.logins, "logins")?,
        logins_to_remove: required(req.logins_to_remove, "loginsToRemove")?,
    };
    state.credentials.clone().unlink_identity(request).await?;
    Ok(json!({}))
}

async fn describe_identity(state: &AppState, call: Call) -> Result<Value, ApiError> {
    let caller = caller(&call);
    let mut refs: Refs = parse(call.body)?;
    let request = cred::DescribeIdentityRequest {
        caller: Some(caller),
        identity_id: refs.identity_id()?,
    };
    let identity = state
        .credentials
        .clone()
        .describe_identity(request)
        .await?
        .into_inner();
    Ok(shapes::identity_out(&identity))
}

async fn list_identities(state: &AppState, call: Call) -> Result<Value, ApiError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Req {
        identity_pool_id: Option<String>,
        max_results: Option<u32>,
        next_token: Option<String>,
        hide_disabled: Option<bool>,
    }
    let caller = caller(&call);
    let req: Req = parse(call.body)?;
    let request = cred::ListIdentitiesRequest {
        caller: Some(caller),
        identity_pool_id: required(req.identity_pool_id, "identityPoolId")?,
        max_results: required(req.max_results, "maxResults")?,
        next_token: req.next_token.unwrap_or_default(),
        hide_disabled: req.hide_disabled.unwrap_or(false),
    };
    let page = state
        .credentials
        .clone()
        .list_identities(request)
        .await?
        .into_inner();
    let identities: Vec<Value> = page.identities.iter().map(shapes::identity_out).collect();
    let mut out = json!({
        "IdentityPoolId": page.identity_pool_id,
        "Identities": identities,
    });
    if !page.next_token.is_empty() {
        out["NextToken"] = json!(page.next_token);
    }
    Ok(out)
}

async fn delete_identities(state: &AppState, call: Call) -> Result<Value, ApiError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Req {
        identity_ids_to_delete: Option<Vec<String>>,
    }
    let caller = caller(&call);
    let req: Req = parse(call.body)?;
    let request = cred::DeleteIdentitiesRequest {
        caller: Some(caller),
        identity_ids: required(req.identity_ids_to_delete, "identityIdsToDelete")?,
    };
    let result = state
        .credentials
        .clone()
        .delete_identities(request)
        .await?
        .into_inner();
    let unprocessed: Vec<Value> = result
        .unprocessed
        .iter()
        .map(|u| json!({ "IdentityId": u.identity_id, "ErrorCode": u.error_code }))
        .collect();
    Ok(json!({ "UnprocessedIdentityIds": unprocessed }))
}
