//! Group operations: CreateGroup, GetGroup, UpdateGroup, DeleteGroup, ListGroups.

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
struct GroupRequest {
    user_pool_id: Option<String>,
    group_name: Option<String>,
    description: Option<String>,
    role_arn: Option<String>,
    /// Signed, so that a negative value gets Cognito's range message rather than a
    /// serialization error.
    precedence: Option<i64>,
}

impl GroupRequest {
    fn ids(&mut self) -> Result<(String, String), ApiError> {
        Ok((
            required(self.user_pool_id.take(), "userPoolId")?,
            required(self.group_name.take(), "groupName")?,
        ))
    }

    fn precedence(&self) -> Result<Option<u32>, ApiError> {
        self.precedence
            .map(|p| {
                u32::try_from(p).map_err(|_| {
                    ApiError::invalid_parameter(format!(
                        "1 validation error detected: Value '{p}' at 'precedence' failed to satisfy constraint: Member must have value {} than or equal to {}",
                        if p < 0 { "greater" } else { "less" },
                        if p < 0 { 0 } else { u32::MAX as i64 },
                    ))
                })
            })
            .transpose()
    }
}

pub(super) fn group_out(group: &dir::Group) -> Value {
    let text = |s: &str| Some(s.to_owned()).filter(|s| !s.is_empty());
    compact(json!({
        "GroupName": group.group_name,
        "UserPoolId": group.pool_id,
        "Description": text(&group.description),
        "RoleArn": text(&group.role_arn),
        "Precedence": group.precedence,
        "LastModifiedDate": group.last_modified_date,
        "CreationDate": group.creation_date,
    }))
}

pub async fn create_group(state: &AppState, call: Call) -> Result<Value, ApiError> {
    let caller = caller(&call);
    let mut req: GroupRequest = parse(call.body)?;
    let (pool_id, group_name) = req.ids()?;
    let request = dir::CreateGroupRequest {
        caller: Some(caller),
        pool_id,
        group_name,
        precedence: req.precedence()?,
        description: req.description.unwrap_or_default(),
        role_arn: req.role_arn.unwrap_or_default(),
    };
    let group = state
        .directory
        .clone()
        .create_group(request)
        .await?
        .into_inner();
    Ok(json!({ "Group": group_out(&group) }))
}

pub async fn get_group(state: &AppState, call: Call) -> Result<Value, ApiError> {
    let mut req: GroupRequest = parse(call.body)?;
    let (pool_id, group_name) = req.ids()?;
    let request = dir::GetGroupRequest {
        pool_id,
        group_name,
    };
    let group = state
        .directory
        .clone()
        .get_group(request)
        .await?
        .into_inner();
    Ok(json!({ "Group": group_out(&group) }))
}

pub async fn update_group(state: &AppState, call: Call) -> Result<Value, ApiError> {
    let caller = caller(&call);
    let mut req: GroupRequest = parse(call.body)?;
    let (pool_id, group_name) = req.ids()?;
    let request = dir::UpdateGroupRequest {
        caller: Some(caller),
        pool_id,
        group_name,
        precedence: req.precedence()?,
        description: req.description,
        role_arn: req.role_arn,
    };
    let group = state
        .directory
        .clone()
        .update_group(request)
        .await?
        .into_inner();
    Ok(json!({ "Group": group_out(&group) }))
}

pub async fn delete_group(state: &AppState, call: Call) -> Result<Value, ApiError> {
    let caller = caller(&call);
    let mut req: GroupRequest = parse(call.body)?;
    let (pool_id, group_name) = req.ids()?;
    let request = dir::DeleteGroupRequest {
        caller: Some(caller),
        pool_id,
        group_name,
    };
    state.directory.clone().delete_group(request).await?;
    Ok(json!({}))
}

pub async fn list_groups(state: &AppState, call: Call) -> Result<Value, ApiError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Req {
        user_pool_id: Option<String>,
        limit: Option<u32>,
        next_token: Option<String>,
    }
    let req: Req = parse(call.body)?;
    let request = dir::ListGroupsRequest {
        pool_id: required(req.user_pool_id, "userPoolId")?,
        limit: req.limit.unwrap_or(0),
        next_token: req.next_token.unwrap_or_default(),
    };
    let listed = state
        .directory
        .clone()
        .list_groups(request)
        .await?
        .into_inner();
    let groups: Vec<Value> = listed.groups.iter().map(group_out).collect();
    Ok(compact(json!({
        "Groups": groups,
        "NextToken": Some(listed.next_token).filter(|t| !t.is_empty()),
    })))
}
