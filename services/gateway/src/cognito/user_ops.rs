//! User operations beyond sign-up and sign-in: administrators' user management, the
//! user's own account with an access token, listing, and answering challenges.

use std::collections::HashMap;

use portcullis_errors::ApiError;
use portcullis_proto::authn::v1 as authn;
use portcullis_proto::directory::v1 as dir;
use portcullis_proto::events::v1::{Actor, MfaOption, actor::Kind};
use portcullis_proto::token::v1 as tok;
use serde::Deserialize;
use serde_json::{Value, json};

use super::Call;
use super::ops::{UserRef, caller, delivery_details, token_user_error, verify_user_token};
use super::shapes::{self, AttributeType, parse, required};
use crate::AppState;

/// Cognito's `UserType`: what AdminCreateUser and ListUsers return for a user.
fn user_type_out(user: &dir::User, attributes_to_get: Option<&[String]>) -> Value {
    let mut attributes = shapes::attributes_out(&user.sub, &user.attributes);
    if let (Some(wanted), Value::Array(list)) = (attributes_to_get, &mut attributes) {
        list.retain(|a| {
            a["Name"]
                .as_str()
                .is_some_and(|n| wanted.iter().any(|w| w == n))
        });
    }
    shapes::compact(json!({
        "Username": user.username,
        "Attributes": attributes,
        "UserCreateDate": user.creation_date,
        "UserLastModifiedDate": user.last_modified_date,
        "Enabled": user.enabled,
        "UserStatus": user.status,
        "MFAOptions": mfa_options_out(&user.mfa_options),
    }))
}

pub(super) fn mfa_options_out(options: &[MfaOption]) -> Value {
    if options.is_empty() {
        return Value::Null;
    }
    options
        .iter()
        .map(|o| json!({"DeliveryMedium": o.delivery_medium, "AttributeName": o.attribute_name}))
        .collect()
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct MfaOptionType {
    delivery_medium: Option<String>,
    attribute_name: Option<String>,
}

fn mfa_options_in(options: Option<Vec<MfaOptionType>>) -> Vec<MfaOption> {
    options
        .unwrap_or_default()
        .into_iter()
        .map(|o| MfaOption {
            delivery_medium: o.delivery_medium.unwrap_or_default(),
            attribute_name: o.attribute_name.unwrap_or_default(),
        })
        .collect()
}

/// The caller of a self-service operation: the user the token names.
pub(super) fn user_caller(call: &Call, sub: &str) -> dir::Caller {
    dir::Caller {
        actor: Some(Actor {
            kind: Kind::User as i32,
            id: sub.to_owned(),
        }),
        ..caller(call)
    }
}

/// The user an access token names as the app client it was issued to reads it: the
/// attributes that client's `ReadAttributes` allow. A client deleted since revoked the
/// token.
pub(crate) async fn token_client_user(
    state: &AppState,
    verified: &tok::VerifiedAccessToken,
) -> Result<dir::User, ApiError> {
    let (pool_id, sub) = (&verified.pool_id, &verified.sub);
    match crate::config::user(state, pool_id, sub, Some(&verified.client_id)).await {
        Ok(user) => Ok(user),
        Err(err) => Err(revoked_with_client(err)),
    }
}

/// A token whose client no longer exists is revoked.
fn revoked_with_client(err: ApiError) -> ApiError {
    if err.code == portcullis_errors::ErrorCode::ResourceNotFoundException {
        ApiError::not_authorized("Access Token has been revoked")
    } else {
        token_user_error(err)
    }
}

pub(super) fn by_sub(verified: &tok::VerifiedAccessToken) -> dir::UserRef {
    dir::UserRef {
        pool_id: verified.pool_id.clone(),
        username: String::new(),
        sub: verified.sub.clone(),
    }
}

pub(super) fn user_ref(req: UserRef) -> Result<dir::UserRef, ApiError> {
    Ok(dir::UserRef {
        pool_id: required(req.user_pool_id, "userPoolId")?,
        username: required(req.username, "username")?,
        sub: String::new(),
    })
}

pub(super) async fn admin_create_user(state: &AppState, call: Call) -> Result<Value, ApiError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Req {
        user_pool_id: Option<String>,
        username: Option<String>,
        user_attributes: Option<Vec<AttributeType>>,
        validation_data: Option<Vec<AttributeType>>,
        temporary_password: Option<String>,
        force_alias_creation: Option<bool>,
        message_action: Option<String>,
        desired_delivery_mediums: Option<Vec<String>>,
        client_metadata: Option<HashMap<String, String>>,
    }
    let caller = caller(&call);
    let req: Req = parse(call.body)?;
    let request = authn::AdminCreateUserRequest {
        validation_data: shapes::attributes_in(req.validation_data, "validationData")?,
        caller_context: super::caller_context(&call.user_agent, req.client_metadata),
        caller: Some(caller),
        pool_id: required(req.user_pool_id, "userPoolId")?,
        username: required(req.username, "username")?,
        user_attributes: shapes::attributes_in(req.user_attributes, "userAttributes")?,
        temporary_password: req.temporary_password.unwrap_or_default(),
        message_action: req.message_action.unwrap_or_default(),
        desired_delivery_mediums: req.desired_delivery_mediums.unwrap_or_default(),
        force_alias_creation: req.force_alias_creation.unwrap_or(false),
    };
    let user = state
        .authn
        .clone()
        .admin_create_user(request)
        .await?
        .into_inner();
    Ok(json!({ "User": user_type_out(&user, None) }))
}

/// `AdminSetUserPassword`, or with `hash` Portcullis's own `AdminSetUserPasswordHash`
/// (not in Cognito's model): the same members, with `PasswordHash` for `Password`.
pub(super) async fn admin_set_user_password(
    state: &AppState,
    call: Call,
    hash: bool,
) -> Result<Value, ApiError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Req {
        user_pool_id: Option<String>,
        username: Option<String>,
        password: Option<String>,
        password_hash: Option<String>,
        permanent: Option<bool>,
    }
    let caller = caller(&call);
    let req: Req = parse(call.body)?;
    let (pool_id, username) = (
        required(req.user_pool_id, "userPoolId")?,
        required(req.username, "username")?,
    );
    let permanent = req.permanent.unwrap_or(false);
    let mut authn = state.authn.clone();
    if hash {
        let request = authn::AdminSetUserPasswordHashRequest {
            caller: Some(caller),
            pool_id,
            username,
            password_hash: required(req.password_hash, "passwordHash")?,
            permanent,
        };
        authn.admin_set_user_password_hash(request).await?;
    } else {
        let request = authn::AdminSetUserPasswordRequest {
            caller: Some(caller),
            pool_id,
            username,
            password: required(req.password, "password")?,
            permanent,
        };
        authn.admin_set_user_password(request).await?;
    }
    Ok(json!({}))
}

pub(super) async fn admin_reset_user_password(
    state: &AppState,
    call: Call,
) -> Result<Value, ApiError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Req {
        user_pool_id: Option<String>,
        username: Option<String>,
        client_metadata: Option<HashMap<String, String>>,
    }
    let caller = caller(&call);
    let req: Req = parse(call.body)?;
    let request = authn::AdminResetUserPasswordRequest {
        caller: Some(caller),
        pool_id: required(req.user_pool_id, "userPoolId")?,
        username: required(req.username, "username")?,
        caller_context: super::caller_context(&call.user_agent, req.client_metadata),
    };
    state
        .authn
        .clone()
        .admin_reset_user_password(request)
        .await?;
    Ok(json!({}))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AttributesReq {
    user_pool_id: Option<String>,
    username: Option<String>,
    access_token: Option<String>,
    user_attributes: Option<Vec<AttributeType>>,
    user_attribute_names: Option<Vec<String>>,
    client_metadata: Option<HashMap<String, String>>,
}

pub(super) async fn admin_update_user_attributes(
    state: &AppState,
    call: Call,
) -> Result<Value, ApiError> {
    let caller = caller(&call);
    let req: AttributesReq = parse(call.body)?;
    let attributes = required(req.user_attributes, "userAttributes")?;
    let request = authn::UpdateUserAttributesRequest {
        caller: Some(caller),
        user: Some(user_ref(UserRef {
            user_pool_id: req.user_pool_id,
            username: req.username,
        })?),
        attributes: shapes::attributes_in(Some(attributes), "userAttributes")?,
        by_admin: true,
        client_id: String::new(),
        caller_context: super::caller_context(&call.user_agent, req.client_metadata),
    };
    state.authn.clone().update_user_attributes(request).await?;
    Ok(json!({}))
}

pub(super) async fn admin_delete_user_attributes(
    state: &AppState,
    call: Call,
) -> Result<Value, ApiError> {
    let caller = caller(&call);
    let req: AttributesReq = parse(call.body)?;
    let request = dir::DeleteUserAttributesRequest {
        caller: Some(caller),
        user: Some(user_ref(UserRef {
            user_pool_id: req.user_pool_id,
            username: req.username,
        })?),
        names: required(req.user_attribute_names, "userAttributeNames")?,
        by_admin: true,
        client_id: String::new(),
    };
    state
        .directory
        .clone()
        .delete_user_attributes(request)
        .await?;
    Ok(json!({}))
}

pub(super) async fn admin_set_user_settings(
    state: &AppState,
    call: Call,
) -> Result<Value, ApiError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Req {
        user_pool_id: Option<String>,
        username: Option<String>,
        #[serde(rename = "MFAOptions")]
        mfa_options: Option<Vec<MfaOptionType>>,
    }
    let caller = caller(&call);
    let req: Req = parse(call.body)?;
    let options = required(req.mfa_options, "mFAOptions")?;
    let request = dir::SetUserSettingsRequest {
        caller: Some(caller),
        user: Some(user_ref(UserRef {
            user_pool_id: req.user_pool_id,
            username: req.username,
        })?),
        mfa_options: mfa_options_in(Some(options)),
    };
    state.directory.clone().set_user_settings(request).await?;
    Ok(json!({}))
}

pub(super) async fn list_users(state: &AppState, call: Call) -> Result<Value, ApiError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Req {
        user_pool_id: Option<String>,
        attributes_to_get: Option<Vec<String>>,
        limit: Option<u32>,
        pagination_token: Option<String>,
        filter: Option<String>,
    }
    let req: Req = parse(call.body)?;
    let request = dir::ListUsersRequest {
        pool_id: required(req.user_pool_id, "userPoolId")?,
        filter: req.filter.unwrap_or_default(),
        limit: req.limit.unwrap_or(0),
        pagination_token: req.pagination_token.unwrap_or_default(),
    };
    let listed = state
        .directory
        .clone()
        .list_users(request)
        .await?
        .into_inner();
    let wanted = req.attributes_to_get.as_deref();
    let users: Vec<Value> = listed
        .users
        .iter()
        .map(|u| user_type_out(u, wanted))
        .collect();
    Ok(shapes::compact(json!({
        "Users": users,
        "PaginationToken": Some(listed.pagination_token).filter(|t| !t.is_empty()),
    })))
}

pub(super) async fn update_user_attributes(
    state: &AppState,
    call: Call,
) -> Result<Value, ApiError> {
    let req: AttributesReq = parse(call.body.clone())?;
    let verified = verify_user_token(state, call.body.clone()).await?;
    let attributes = required(req.user_attributes, "userAttributes")?;
    let request = authn::UpdateUserAttributesRequest {
        caller: Some(user_caller(&call, &verified.sub)),
        user: Some(by_sub(&verified)),
        attributes: shapes::attributes_in(Some(attributes), "userAttributes")?,
        by_admin: false,
        client_id: verified.client_id.clone(),
        caller_context: super::caller_context(&call.user_agent, req.client_metadata),
    };
    let response = state
        .authn
        .clone()
        .update_user_attributes(request)
        .await
        .map_err(token_user_error)?
        .into_inner();
    let details: Vec<Value> = response
        .code_delivery_details_list
        .iter()
        .map(delivery_details)
        .collect();
    let _ = req.access_token;
    Ok(shapes::compact(json!({
        "CodeDeliveryDetailsList": Some(details).filter(|d| !d.is_empty()),
    })))
}

pub(super) async fn delete_user_attributes(
    state: &AppState,
    call: Call,
) -> Result<Value, ApiError> {
    let req: AttributesReq = parse(call.body.clone())?;
    let verified = verify_user_token(state, call.body.clone()).await?;
    let names = required(req.user_attribute_names, "userAttributeNames")?;
    // The client's WriteAttributes bound what its user deletes (the directory checks).
    let request = dir::DeleteUserAttributesRequest {
        caller: Some(user_caller(&call, &verified.sub)),
        user: Some(by_sub(&verified)),
        names,
        by_admin: false,
        client_id: verified.client_id.clone(),
    };
    let deleted = state
        .directory
        .clone()
        .delete_user_attributes(request)
        .await;
    deleted.map_err(|status| revoked_with_client(status.into()))?;
    Ok(json!({}))
}

pub(super) async fn change_password(state: &AppState, call: Call) -> Result<Value, ApiError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Req {
        previous_password: Option<String>,
        proposed_password: Option<String>,
    }
    let req: Req = parse(call.body.clone())?;
    let verified = verify_user_token(state, call.body.clone()).await?;
    let request = authn::ChangePasswordRequest {
        caller: Some(user_caller(&call, &verified.sub)),
        pool_id: verified.pool_id.clone(),
        sub: verified.sub.clone(),
        previous_password: req.previous_password.unwrap_or_default(),
        proposed_password: required(req.proposed_password, "proposedPassword")?,
    };
    state
        .authn
        .clone()
        .change_password(request)
        .await
        .map_err(token_user_error)?;
    Ok(json!({}))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct VerifyReq {
    attribute_name: Option<String>,
    code: Option<String>,
    client_metadata: Option<HashMap<String, String>>,
}

pub(super) async fn get_verification_code(state: &AppState, call: Call) -> Result<Value, ApiError> {
    let req: VerifyReq = parse(call.body.clone())?;
    let verified = verify_user_token(state, call.body.clone()).await?;
    let request = authn::GetUserAttributeVerificationCodeRequest {
        caller: Some(user_caller(&call, &verified.sub)),
        pool_id: verified.pool_id.clone(),
        sub: verified.sub.clone(),
        attribute_name: required(req.attribute_name, "attributeName")?,
        caller_context: super::caller_context(&call.user_agent, req.client_metadata),
        client_id: verified.client_id.clone(),
    };
    let response = state
        .authn
        .clone()
        .get_user_attribute_verification_code(request)
        .await
        .map_err(token_user_error)?
        .into_inner();
    Ok(shapes::compact(json!({
        "CodeDeliveryDetails": response.code_delivery_details.as_ref().map(delivery_details),
    })))
}

pub(super) async fn verify_user_attribute(state: &AppState, call: Call) -> Result<Value, ApiError> {
    let req: VerifyReq = parse(call.body.clone())?;
    let verified = verify_user_token(state, call.body.clone()).await?;
    let request = authn::VerifyUserAttributeRequest {
        caller: Some(user_caller(&call, &verified.sub)),
        pool_id: verified.pool_id.clone(),
        sub: verified.sub.clone(),
        attribute_name: required(req.attribute_name, "attributeName")?,
        code: required(req.code, "code")?,
    };
    state
        .authn
        .clone()
        .verify_user_attribute(request)
        .await
        .map_err(token_user_error)?;
    Ok(json!({}))
}

pub(super) async fn set_user_settings(state: &AppState, call: Call) -> Result<Value, ApiError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Req {
        #[serde(rename = "MFAOptions")]
        mfa_options: Option<Vec<MfaOptionType>>,
    }
    let req: Req = parse(call.body.clone())?;
    let verified = verify_user_token(state, call.body.clone()).await?;
    let options = required(req.mfa_options, "mFAOptions")?;
    let request = dir::SetUserSettingsRequest {
        caller: Some(user_caller(&call, &verified.sub)),
        user: Some(by_sub(&verified)),
        mfa_options: mfa_options_in(Some(options)),
    };
    state
        .directory
        .clone()
        .set_user_settings(request)
        .await
        .map_err(token_user_error)?;
    Ok(json!({}))
}

pub(super) async fn respond_to_auth_challenge(
    state: &AppState,
    call: Call,
    admin: bool,
) -> Result<Value, ApiError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Req {
        user_pool_id: Option<String>,
        client_id: Option<String>,
        challenge_name: Option<String>,
        session: Option<String>,
        challenge_responses: Option<HashMap<String, String>>,
        client_metadata: Option<HashMap<String, String>>,
        user_context_data: Option<super::ContextDataIn>,
        context_data: Option<super::ContextDataIn>,
    }
    let req: Req = parse(call.body.clone())?;
    let admin_pool_id = if admin {
        required(req.user_pool_id, "userPoolId")?
    } else {
        String::new()
    };
    let (user_context, server_context) = if admin {
        (None, req.context_data)
    } else {
        (req.user_context_data, None)
    };
    let request = authn::RespondToAuthChallengeRequest {
        caller_context: super::sign_in_context(
            &call,
            req.client_metadata,
            user_context,
            server_context,
        ),
        region: call.region.clone(),
        client_id: required(req.client_id, "clientId")?,
        challenge_name: required(req.challenge_name, "challengeName")?,
        session: req.session.unwrap_or_default(),
        challenge_responses: req.challenge_responses.unwrap_or_default(),
        admin_pool_id,
        correlation_id: call.request_id.clone(),
        hosted: false,
    };
    let response = state
        .authn
        .clone()
        .respond_to_auth_challenge(request)
        .await?
        .into_inner();
    Ok(super::ops::auth_response_out(response))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct GroupMemberReq {
    user_pool_id: Option<String>,
    username: Option<String>,
    group_name: Option<String>,
    limit: Option<u32>,
    next_token: Option<String>,
}

pub(super) async fn admin_user_group(
    state: &AppState,
    call: Call,
    add: bool,
) -> Result<Value, ApiError> {
    let caller = caller(&call);
    let req: GroupMemberReq = parse(call.body)?;
    let request = dir::UserGroupRequest {
        caller: Some(caller),
        user: Some(user_ref(UserRef {
            user_pool_id: req.user_pool_id,
            username: req.username,
        })?),
        group_name: required(req.group_name, "groupName")?,
    };
    if add {
        state.directory.clone().add_user_to_group(request).await?;
    } else {
        state
            .directory
            .clone()
            .remove_user_from_group(request)
            .await?;
    }
    Ok(json!({}))
}

pub(super) async fn admin_list_groups_for_user(
    state: &AppState,
    call: Call,
) -> Result<Value, ApiError> {
    let req: GroupMemberReq = parse(call.body)?;
    let request = dir::ListGroupsForUserRequest {
        user: Some(user_ref(UserRef {
            user_pool_id: req.user_pool_id,
            username: req.username,
        })?),
        // Cognito's default page is 60 groups (the directory checks the upper bound).
        limit: match req.limit.unwrap_or(0) {
            0 => 60,
            limit => limit,
        },
        next_token: req.next_token.unwrap_or_default(),
    };
    let listed = state
        .directory
        .clone()
        .list_groups_for_user(request)
        .await?
        .into_inner();
    let groups: Vec<Value> = listed
        .groups
        .iter()
        .map(super::group_ops::group_out)
        .collect();
    Ok(shapes::compact(json!({
        "Groups": groups,
        "NextToken": Some(listed.next_token).filter(|t| !t.is_empty()),
    })))
}

pub(super) async fn list_users_in_group(state: &AppState, call: Call) -> Result<Value, ApiError> {
    let req: GroupMemberReq = parse(call.body)?;
    let request = dir::ListUsersInGroupRequest {
        pool_id: required(req.user_pool_id, "userPoolId")?,
        group_name: required(req.group_name, "groupName")?,
        limit: req.limit.unwrap_or(0),
        next_token: req.next_token.unwrap_or_default(),
    };
    let listed = state
        .directory
        .clone()
        .list_users_in_group(request)
        .await?
        .into_inner();
    let users: Vec<Value> = listed
        .users
        .iter()
        .map(|u| user_type_out(u, None))
        .collect();
    Ok(shapes::compact(json!({
        "Users": users,
        "NextToken": Some(listed.pagination_token).filter(|t| !t.is_empty()),
    })))
}
