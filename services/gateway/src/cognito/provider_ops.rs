//! A pool's identity providers, served by the federation service:
//! CreateIdentityProvider, DescribeIdentityProvider, UpdateIdentityProvider,
//! DeleteIdentityProvider, ListIdentityProviders, GetIdentityProviderByIdentifier; and
//! linking a provider's users to the pool's (AdminLinkProviderForUser,
//! AdminDisableProviderForUser), which the directory keeps.

use std::collections::HashMap;

use portcullis_errors::ApiError;
use portcullis_proto::authn::v1 as authn;
use portcullis_proto::directory::v1 as dir;
use portcullis_proto::federation::v1 as fed;
use serde::Deserialize;
use serde_json::{Value, json};

use super::Call;
use super::ops::caller;
use super::shapes::{parse, required};
use crate::AppState;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ProviderRequest {
    user_pool_id: Option<String>,
    provider_name: Option<String>,
    provider_type: Option<String>,
    provider_details: Option<HashMap<String, String>>,
    attribute_mapping: Option<HashMap<String, String>>,
    idp_identifiers: Option<Vec<String>>,
    idp_identifier: Option<String>,
    max_results: Option<u32>,
    next_token: Option<String>,
}

fn seconds(ms: i64) -> i64 {
    ms / 1_000
}

fn provider_out(provider: fed::IdentityProvider) -> Value {
    json!({
        "IdentityProvider": {
            "UserPoolId": provider.user_pool_id,
            "ProviderName": provider.provider_name,
            "ProviderType": provider.provider_type,
            "ProviderDetails": provider.provider_details,
            "AttributeMapping": provider.attribute_mapping,
            "IdpIdentifiers": provider.idp_identifiers,
            "LastModifiedDate": seconds(provider.last_modified_date_ms),
            "CreationDate": seconds(provider.creation_date_ms),
        }
    })
}

fn provider_ref(call: &Call, req: ProviderRequest) -> Result<fed::ProviderRef, ApiError> {
    Ok(fed::ProviderRef {
        caller: Some(caller(call)),
        user_pool_id: required(req.user_pool_id, "userPoolId")?,
        provider_name: required(req.provider_name, "providerName")?,
    })
}

pub async fn create_identity_provider(state: &AppState, call: Call) -> Result<Value, ApiError> {
    let req: ProviderRequest = parse(call.body.clone())?;
    let request = fed::CreateIdentityProviderRequest {
        caller: Some(caller(&call)),
        user_pool_id: required(req.user_pool_id, "userPoolId")?,
        provider_name: required(req.provider_name, "providerName")?,
        provider_type: required(req.provider_type, "providerType")?,
        provider_details: required(req.provider_details, "providerDetails")?,
        attribute_mapping: req
            .attribute_mapping
            .map(|entries| fed::StringMap { entries }),
        idp_identifiers: req.idp_identifiers.unwrap_or_default(),
    };
    let created = state
        .federation
        .clone()
        .create_identity_provider(request)
        .await?
        .into_inner();
    Ok(provider_out(created))
}

pub async fn update_identity_provider(state: &AppState, call: Call) -> Result<Value, ApiError> {
    let req: ProviderRequest = parse(call.body.clone())?;
    let request = fed::UpdateIdentityProviderRequest {
        caller: Some(caller(&call)),
        user_pool_id: required(req.user_pool_id, "userPoolId")?,
        provider_name: required(req.provider_name, "providerName")?,
        provider_details: req
            .provider_details
            .map(|entries| fed::StringMap { entries }),
        attribute_mapping: req
            .attribute_mapping
            .map(|entries| fed::StringMap { entries }),
        idp_identifiers: req.idp_identifiers.map(|values| fed::Strings { values }),
    };
    let updated = state
        .federation
        .clone()
        .update_identity_provider(request)
        .await?
        .into_inner();
    Ok(provider_out(updated))
}

pub async fn describe_identity_provider(state: &AppState, call: Call) -> Result<Value, ApiError> {
    let req: ProviderRequest = parse(call.body.clone())?;
    let request = provider_ref(&call, req)?;
    let described = state
        .federation
        .clone()
        .describe_identity_provider(request)
        .await?
        .into_inner();
    Ok(provider_out(described))
}

pub async fn delete_identity_provider(state: &AppState, call: Call) -> Result<Value, ApiError> {
    let req: ProviderRequest = parse(call.body.clone())?;
    let request = provider_ref(&call, req)?;
    state
        .federation
        .clone()
        .delete_identity_provider(request)
        .await?;
    Ok(json!({}))
}

pub async fn list_identity_providers(state: &AppState, call: Call) -> Result<Value, ApiError> {
    let req: ProviderRequest = parse(call.body)?;
    let request = fed::ListIdentityProvidersRequest {
        user_pool_id: required(req.user_pool_id, "userPoolId")?,
        max_results: req.max_results.unwrap_or(0),
        next_token: req.next_token.unwrap_or_default(),
    };
    let page = state
        .federation
        .clone()
        .list_identity_providers(request)
        .await?
        .into_inner();
    let providers: Vec<Value> = page
        .providers
        .into_iter()
        .map(|p| {
            json!({
                "ProviderName": p.provider_name,
                "ProviderType": p.provider_type,
                "LastModifiedDate": seconds(p.last_modified_date_ms),
                "CreationDate": seconds(p.creation_date_ms),
            })
        })
        .collect();
    let mut out = json!({ "Providers": providers });
    if !page.next_token.is_empty() {
        out["NextToken"] = json!(page.next_token);
    }
    Ok(out)
}

pub async fn get_identity_provider_by_identifier(
    state: &AppState,
    call: Call,
) -> Result<Value, ApiError> {
    let req: ProviderRequest = parse(call.body)?;
    let request = fed::IdentifierRef {
        user_pool_id: required(req.user_pool_id, "userPoolId")?,
        idp_identifier: required(req.idp_identifier, "idpIdentifier")?,
    };
    let found = state
        .federation
        .clone()
        .get_identity_provider_by_identifier(request)
        .await?
        .into_inner();
    Ok(provider_out(found))
}

/// `ProviderUserIdentifierType`.
#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct ProviderUserShape {
    provider_name: Option<String>,
    provider_attribute_name: Option<String>,
    provider_attribute_value: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct LinkRequest {
    user_pool_id: Option<String>,
    destination_user: Option<ProviderUserShape>,
    source_user: Option<ProviderUserShape>,
    user: Option<ProviderUserShape>,
}

/// The attribute social providers' users are named by.
const SUBJECT: &str = "Cognito_Subject";
const SOCIAL: &[&str] = &["Google", "Facebook", "LoginWithAmazon", "SignInWithApple"];

/// A provider's user as the directory takes it: the provider must exist in the pool.
async fn provider_user(
    state: &AppState,
    call: &Call,
    pool_id: &str,
    shape: ProviderUserShape,
    member: &str,
) -> Result<dir::ProviderUser, ApiError> {
    let provider_name = required(shape.provider_name, &format!("{member}.providerName"))?;
    let value = shape.provider_attribute_value.unwrap_or_default();
    if value.is_empty() {
        return Err(ApiError::invalid_parameter(format!(
            "{member}.ProviderAttributeValue is required."
        )));
    }
    let provider = state
        .federation
        .clone()
        .describe_identity_provider(fed::ProviderRef {
            caller: Some(caller(call)),
            user_pool_id: pool_id.to_owned(),
            provider_name: provider_name.clone(),
        })
        .await?
        .into_inner();
    let attribute = shape
        .provider_attribute_name
        .filter(|a| !a.is_empty())
        .unwrap_or_else(|| SUBJECT.to_owned());
    if SOCIAL.contains(&provider.provider_type.as_str()) && attribute != SUBJECT {
        return Err(ApiError::invalid_parameter(format!(
            "ProviderAttributeName must be {SUBJECT} for the social identity provider {provider_name}."
        )));
    }
    Ok(dir::ProviderUser {
        provider_name,
        provider_type: provider.provider_type,
        attribute,
        value,
    })
}

fn is_pool_itself(shape: &ProviderUserShape) -> bool {
    shape
        .provider_name
        .as_deref()
        .is_some_and(|p| p.eq_ignore_ascii_case("Cognito"))
}

pub async fn admin_link_provider_for_user(state: &AppState, call: Call) -> Result<Value, ApiError> {
    let req: LinkRequest = parse(call.body.clone())?;
    let pool_id = required(req.user_pool_id, "userPoolId")?;
    let destination = required(req.destination_user, "destinationUser")?;
    let source = required(req.source_user, "sourceUser")?;
    if !is_pool_itself(&destination) {
        return Err(ApiError::invalid_parameter(
            "DestinationUser must be a user of the user pool: its ProviderName is Cognito.",
        ));
    }
    let destination_username = destination
        .provider_attribute_value
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            ApiError::invalid_parameter("DestinationUser.ProviderAttributeValue is required.")
        })?;
    if is_pool_itself(&source) {
        return Err(ApiError::invalid_parameter(
            "Invalid SourceUser: Cognito users with a username/password may not be passed in as a SourceUser, only as a DestinationUser",
        ));
    }
    let source = provider_user(state, &call, &pool_id, source, "sourceUser").await?;
    state
        .directory
        .clone()
        .link_provider_for_user(dir::LinkProviderForUserRequest {
            caller: Some(caller(&call)),
            pool_id,
            destination_username,
            source: Some(source),
        })
        .await?;
    Ok(json!({}))
}

pub async fn admin_disable_provider_for_user(
    state: &AppState,
    call: Call,
) -> Result<Value, ApiError> {
    let req: LinkRequest = parse(call.body.clone())?;
    let pool_id = required(req.user_pool_id, "userPoolId")?;
    let user = required(req.user, "user")?;
    if is_pool_itself(&user) {
        // The pool's own user: no more sign-in with a password.
        let attribute = user.provider_attribute_name.unwrap_or_default();
        if attribute != SUBJECT {
            return Err(ApiError::invalid_parameter(format!(
                "ProviderAttributeName must be {SUBJECT} for the provider Cognito."
            )));
        }
        let username = user.provider_attribute_value.unwrap_or_default();
        if username.is_empty() {
            return Err(ApiError::invalid_parameter(
                "user.ProviderAttributeValue is required.",
            ));
        }
        state
            .authn
            .clone()
            .admin_remove_password(authn::AdminRemovePasswordRequest {
                caller: Some(caller(&call)),
                pool_id,
                username,
            })
            .await?;
        return Ok(json!({}));
    }
    let user = provider_user(state, &call, &pool_id, user, "user").await?;
    state
        .directory
        .clone()
        .disable_provider_for_user(dir::DisableProviderForUserRequest {
            caller: Some(caller(&call)),
            pool_id,
            user: Some(user),
        })
        .await?;
    Ok(json!({}))
}
