//! A pool's identity providers, served by the federation service:
//! CreateIdentityProvider, DescribeIdentityProvider, UpdateIdentityProvider,
//! DeleteIdentityProvider, ListIdentityProviders, GetIdentityProviderByIdentifier.

use std::collections::HashMap;

use portcullis_errors::ApiError;
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
