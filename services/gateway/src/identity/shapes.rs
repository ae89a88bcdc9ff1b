//! The identity-pool API's JSON shapes and their protobuf counterparts.

use std::collections::HashMap;

use portcullis_errors::ApiError;
use portcullis_proto::credentials::v1 as cred;
use portcullis_proto::events::v1::{
    CognitoIdentityProvider, IdentityPoolSettings, MappingRule, RoleMapping,
};
use serde::Deserialize;
use serde_json::{Value, json};

use super::required;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ProviderShape {
    provider_name: Option<String>,
    client_id: Option<String>,
    server_side_token_check: Option<bool>,
}

/// CreateIdentityPool's request, and UpdateIdentityPool's (which adds the id).
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PoolShape {
    pub identity_pool_id: Option<String>,
    identity_pool_name: Option<String>,
    allow_unauthenticated_identities: Option<bool>,
    allow_classic_flow: Option<bool>,
    supported_login_providers: Option<HashMap<String, String>>,
    developer_provider_name: Option<String>,
    #[serde(rename = "OpenIdConnectProviderARNs")]
    open_id_connect_provider_arns: Option<Vec<String>>,
    cognito_identity_providers: Option<Vec<ProviderShape>>,
    #[serde(rename = "SamlProviderARNs")]
    saml_provider_arns: Option<Vec<String>>,
    pub identity_pool_tags: Option<HashMap<String, String>>,
}

impl PoolShape {
    pub fn settings(&mut self) -> Result<IdentityPoolSettings, ApiError> {
        let providers = self
            .cognito_identity_providers
            .take()
            .unwrap_or_default()
            .into_iter()
            .enumerate()
            .map(|(i, p)| {
                let at = |m: &str| format!("cognitoIdentityProviders.{}.member.{m}", i + 1);
                Ok(CognitoIdentityProvider {
                    provider_name: required(p.provider_name, &at("providerName"))?,
                    client_id: required(p.client_id, &at("clientId"))?,
                    server_side_token_check: p.server_side_token_check.unwrap_or(false),
                })
            })
            .collect::<Result<_, ApiError>>()?;
        Ok(IdentityPoolSettings {
            identity_pool_name: required(self.identity_pool_name.take(), "identityPoolName")?,
            allow_unauthenticated_identities: required(
                self.allow_unauthenticated_identities,
                "allowUnauthenticatedIdentities",
            )?,
            allow_classic_flow: self.allow_classic_flow.unwrap_or(false),
            supported_login_providers: self.supported_login_providers.take().unwrap_or_default(),
            developer_provider_name: self.developer_provider_name.take().unwrap_or_default(),
            open_id_connect_provider_arns: self
                .open_id_connect_provider_arns
                .take()
                .unwrap_or_default(),
            cognito_identity_providers: providers,
            saml_provider_arns: self.saml_provider_arns.take().unwrap_or_default(),
        })
    }
}

/// An identity pool as DescribeIdentityPool (and Create, Update) return it.
pub fn pool_out(pool: &cred::IdentityPool) -> Value {
    let settings = pool.settings.clone().unwrap_or_default();
    let providers: Vec<Value> = settings
        .cognito_identity_providers
        .iter()
        .map(|p| {
            json!({
                "ProviderName": p.provider_name,
                "ClientId": p.client_id,
                "ServerSideTokenCheck": p.server_side_token_check,
            })
        })
        .collect();
    let mut out = json!({
        "IdentityPoolId": pool.identity_pool_id,
        "IdentityPoolName": settings.identity_pool_name,
        "AllowUnauthenticatedIdentities": settings.allow_unauthenticated_identities,
        "AllowClassicFlow": settings.allow_classic_flow,
        "SupportedLoginProviders": settings.supported_login_providers,
        "OpenIdConnectProviderARNs": settings.open_id_connect_provider_arns,
        "CognitoIdentityProviders": providers,
        "SamlProviderARNs": settings.saml_provider_arns,
        "IdentityPoolTags": pool.tags,
    });
    if !settings.developer_provider_name.is_empty() {
        out["DeveloperProviderName"] = json!(settings.developer_provider_name);
    }
    out
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RuleShape {
    claim: Option<String>,
    match_type: Option<String>,
    value: Option<String>,
    #[serde(rename = "RoleARN")]
    role_arn: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RulesShape {
    rules: Option<Vec<RuleShape>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RoleMappingShape {
    r#type: Option<String>,
    ambiguous_role_resolution: Option<String>,
    rules_configuration: Option<RulesShape>,
}

pub fn role_mappings_in(
    mappings: HashMap<String, RoleMappingShape>,
) -> Result<HashMap<String, RoleMapping>, ApiError> {
    mappings
        .into_iter()
        .map(|(provider, m)| {
            let rules = match m.rules_configuration {
                Some(config) => {
                    let rules = required(config.rules, "roleMappings.rulesConfiguration.rules")?;
                    if rules.is_empty() {
                        return Err(ApiError::invalid_parameter(
                            "1 validation error detected: Value at 'roleMappings.rulesConfiguration.rules' failed to satisfy constraint: Member must have length greater than or equal to 1",
                        ));
                    }
                    rules
                        .into_iter()
                        .map(|r| {
                            Ok(MappingRule {
                                claim: required(r.claim, "claim")?,
                                match_type: required(r.match_type, "matchType")?,
                                value: required(r.value, "value")?,
                                role_arn: required(r.role_arn, "roleARN")?,
                            })
                        })
                        .collect::<Result<_, ApiError>>()?
                }
                None => Vec::new(),
            };
            let mapping = RoleMapping {
                r#type: required(m.r#type, "roleMappings.type")?,
                ambiguous_role_resolution: m.ambiguous_role_resolution.unwrap_or_default(),
                rules,
            };
            Ok((provider, mapping))
        })
        .collect()
}

pub fn role_mappings_out(mappings: &HashMap<String, RoleMapping>) -> Value {
    let out: serde_json::Map<String, Value> = mappings
        .iter()
        .map(|(provider, m)| {
            let mut mapping = json!({ "Type": m.r#type });
            if !m.ambiguous_role_resolution.is_empty() {
                mapping["AmbiguousRoleResolution"] = json!(m.ambiguous_role_resolution);
            }
            if m.r#type == "Rules" {
                let rules: Vec<Value> = m
                    .rules
                    .iter()
                    .map(|r| {
                        json!({
                            "Claim": r.claim,
                            "MatchType": r.match_type,
                            "Value": r.value,
                            "RoleARN": r.role_arn,
                        })
                    })
                    .collect();
                mapping["RulesConfiguration"] = json!({ "Rules": rules });
            }
            (provider.clone(), mapping)
        })
        .collect();
    Value::Object(out)
}

/// Milliseconds since the epoch as the seconds (with fraction) AWS's JSON dates are.
pub fn date(ms: i64) -> Value {
    json!(ms as f64 / 1_000.0)
}

pub fn identity_out(identity: &cred::IdentityDescription) -> Value {
    json!({
        "IdentityId": identity.identity_id,
        "Logins": identity.logins,
        "CreationDate": date(identity.creation_date_ms),
        "LastModifiedDate": date(identity.last_modified_date_ms),
    })
}

pub fn credentials_out(c: &cred::IssuedCredentials) -> Value {
    json!({
        "AccessKeyId": c.access_key_id,
        "SecretKey": c.secret_key,
        "SessionToken": c.session_token,
        "Expiration": c.expiration,
    })
}
