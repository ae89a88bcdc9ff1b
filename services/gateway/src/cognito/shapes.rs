//! Conversions between Cognito's JSON shapes and the services' protobuf messages, with
//! Cognito's defaults for members a request leaves out.

use portcullis_errors::{ApiError, ErrorCode};
use portcullis_proto::directory::v1 as dir;
use portcullis_proto::events::v1::{
    AnalyticsConfiguration, Attribute, RefreshTokenRotation, TokenValidity, UserPoolClientSettings,
};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// Deserialises a request body into its typed shape; a member of the wrong JSON type
/// is a `SerializationException`, as AWS answers.
pub fn parse<T: DeserializeOwned>(body: Value) -> Result<T, ApiError> {
    serde_json::from_value(body).map_err(|err| {
        tracing::debug!(error = %err, "request does not match its shape");
        ApiError::new(
            ErrorCode::SerializationException,
            format!("Invalid request body: {err}"),
        )
    })
}

/// AWS's message for a missing required member.
pub fn required<T>(value: Option<T>, member: &str) -> Result<T, ApiError> {
    value.ok_or_else(|| {
        ApiError::invalid_parameter(format!(
            "1 validation error detected: Value null at '{member}' failed to satisfy constraint: Member must not be null"
        ))
    })
}

/// Drops `null`s and empty arrays/objects the way Cognito leaves absent members out.
pub fn compact(mut value: Value) -> Value {
    if let Value::Object(map) = &mut value {
        map.retain(|_, v| !v.is_null());
    }
    value
}

#[derive(serde::Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct AttributeType {
    pub name: Option<String>,
    pub value: Option<String>,
}

pub fn attributes_in(
    list: Option<Vec<AttributeType>>,
    member: &str,
) -> Result<Vec<Attribute>, ApiError> {
    list.unwrap_or_default()
        .into_iter()
        .map(|a| {
            Ok(Attribute {
                name: required(a.name, &format!("{member}.member.name"))?,
                value: a.value.unwrap_or_default(),
            })
        })
        .collect()
}

pub fn attributes_out(sub: &str, attributes: &[Attribute]) -> Value {
    let mut out = vec![json!({"Name": "sub", "Value": sub})];
    out.extend(
        attributes
            .iter()
            .filter(|a| a.name != "sub")
            .map(|a| json!({"Name": a.name, "Value": a.value})),
    );
    Value::Array(out)
}

/// A list member as Cognito returns it: left out when empty.
pub fn non_empty(list: &[String]) -> Value {
    if list.is_empty() {
        Value::Null
    } else {
        json!(list)
    }
}

// ----- app clients -----

#[derive(serde::Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct TokenValidityUnitsType {
    pub access_token: Option<String>,
    pub id_token: Option<String>,
    pub refresh_token: Option<String>,
}

#[derive(serde::Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct AnalyticsConfigurationType {
    pub application_id: Option<String>,
    pub application_arn: Option<String>,
    pub role_arn: Option<String>,
    pub external_id: Option<String>,
    pub user_data_shared: Option<bool>,
}

#[derive(serde::Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct RefreshTokenRotationType {
    pub feature: Option<String>,
    pub retry_grace_period_seconds: Option<u32>,
}

/// The members of CreateUserPoolClient; UpdateUserPoolClient takes the same settings.
#[derive(serde::Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct CreateUserPoolClientRequest {
    pub user_pool_id: Option<String>,
    pub client_name: Option<String>,
    pub generate_secret: Option<bool>,
    pub client_secret: Option<String>,
    pub analytics_configuration: Option<AnalyticsConfigurationType>,
    pub refresh_token_rotation: Option<RefreshTokenRotationType>,
    pub refresh_token_validity: Option<u32>,
    pub access_token_validity: Option<u32>,
    pub id_token_validity: Option<u32>,
    pub token_validity_units: Option<TokenValidityUnitsType>,
    pub read_attributes: Option<Vec<String>>,
    pub write_attributes: Option<Vec<String>>,
    pub explicit_auth_flows: Option<Vec<String>>,
    pub supported_identity_providers: Option<Vec<String>>,
    #[serde(rename = "CallbackURLs")]
    pub callback_urls: Option<Vec<String>>,
    #[serde(rename = "LogoutURLs")]
    pub logout_urls: Option<Vec<String>>,
    #[serde(rename = "DefaultRedirectURI")]
    pub default_redirect_uri: Option<String>,
    pub allowed_o_auth_flows: Option<Vec<String>>,
    pub allowed_o_auth_scopes: Option<Vec<String>>,
    pub allowed_o_auth_flows_user_pool_client: Option<bool>,
    pub prevent_user_existence_errors: Option<String>,
    pub enable_token_revocation: Option<bool>,
    pub enable_propagate_additional_user_context_data: Option<bool>,
    pub auth_session_validity: Option<u32>,
}

/// What CreateUserPoolClient asks for: the pool, the settings, whether to generate a
/// secret, and a secret the caller chose.
pub struct NewClient {
    pub pool_id: String,
    pub settings: UserPoolClientSettings,
    pub generate_secret: bool,
    pub client_secret: Option<String>,
}

impl CreateUserPoolClientRequest {
    pub fn into_settings(mut self) -> Result<NewClient, ApiError> {
        let client_name = self.client_name.take();
        let settings = UserPoolClientSettings {
            client_name: required(client_name, "clientName")?,
            ..self.settings_in()?
        };
        Ok(NewClient {
            pool_id: required(self.user_pool_id, "userPoolId")?,
            settings,
            generate_secret: self.generate_secret.unwrap_or(false),
            client_secret: self.client_secret,
        })
    }

    /// The settings given, with Cognito's defaults for members left out (an absent
    /// client name stays empty).
    pub fn settings_in(&mut self) -> Result<UserPoolClientSettings, ApiError> {
        let units = self.token_validity_units.take().unwrap_or_default();
        let rotation = match self.refresh_token_rotation.take() {
            Some(r) => Some(RefreshTokenRotation {
                feature: required(r.feature, "refreshTokenRotation.feature")?,
                retry_grace_period_seconds: r.retry_grace_period_seconds.unwrap_or(0),
            }),
            None => None,
        };
        Ok(UserPoolClientSettings {
            client_name: self.client_name.take().unwrap_or_default(),
            explicit_auth_flows: self.explicit_auth_flows.take().unwrap_or_default(),
            token_validity: Some(TokenValidity {
                access_token: self.access_token_validity.unwrap_or(0),
                id_token: self.id_token_validity.unwrap_or(0),
                refresh_token: self.refresh_token_validity.unwrap_or(0),
                access_token_unit: units.access_token.unwrap_or_default(),
                id_token_unit: units.id_token.unwrap_or_default(),
                refresh_token_unit: units.refresh_token.unwrap_or_default(),
            }),
            read_attributes: self.read_attributes.take().unwrap_or_default(),
            write_attributes: self.write_attributes.take().unwrap_or_default(),
            supported_identity_providers: self
                .supported_identity_providers
                .take()
                .unwrap_or_default(),
            callback_urls: self.callback_urls.take().unwrap_or_default(),
            logout_urls: self.logout_urls.take().unwrap_or_default(),
            default_redirect_uri: self.default_redirect_uri.take().unwrap_or_default(),
            allowed_oauth_flows: self.allowed_o_auth_flows.take().unwrap_or_default(),
            allowed_oauth_scopes: self.allowed_o_auth_scopes.take().unwrap_or_default(),
            allowed_oauth_flows_user_pool_client: self
                .allowed_o_auth_flows_user_pool_client
                .unwrap_or(false),
            prevent_user_existence_errors: self
                .prevent_user_existence_errors
                .take()
                .unwrap_or_default(),
            enable_token_revocation: self.enable_token_revocation.unwrap_or(true),
            enable_propagate_additional_user_context_data: self
                .enable_propagate_additional_user_context_data
                .unwrap_or(false),
            auth_session_validity: self.auth_session_validity.unwrap_or(0),
            analytics_configuration: self.analytics_configuration.take().map(|a| {
                AnalyticsConfiguration {
                    application_id: a.application_id.unwrap_or_default(),
                    application_arn: a.application_arn.unwrap_or_default(),
                    role_arn: a.role_arn.unwrap_or_default(),
                    external_id: a.external_id.unwrap_or_default(),
                    user_data_shared: a.user_data_shared.unwrap_or(false),
                }
            }),
            refresh_token_rotation: rotation,
        })
    }
}

fn non_empty_str(value: &str) -> Option<&str> {
    Some(value).filter(|v| !v.is_empty())
}

fn analytics_out(a: &AnalyticsConfiguration) -> Value {
    compact(json!({
        "ApplicationId": non_empty_str(&a.application_id),
        "ApplicationArn": non_empty_str(&a.application_arn),
        "RoleArn": non_empty_str(&a.role_arn),
        "ExternalId": non_empty_str(&a.external_id),
        "UserDataShared": a.user_data_shared,
    }))
}

pub fn user_pool_client_out(client: &dir::UserPoolClient) -> Value {
    let s = client.settings.clone().unwrap_or_default();
    let v = s.token_validity.clone().unwrap_or_default();
    compact(json!({
        "UserPoolId": client.pool_id,
        "ClientName": s.client_name,
        "ClientId": client.client_id,
        "ClientSecret": client.client_secret,
        "LastModifiedDate": client.last_modified_date,
        "CreationDate": client.creation_date,
        "RefreshTokenValidity": v.refresh_token,
        "AccessTokenValidity": v.access_token,
        "IdTokenValidity": v.id_token,
        "TokenValidityUnits": {
            "AccessToken": v.access_token_unit,
            "IdToken": v.id_token_unit,
            "RefreshToken": v.refresh_token_unit,
        },
        "ReadAttributes": non_empty(&s.read_attributes),
        "WriteAttributes": non_empty(&s.write_attributes),
        "ExplicitAuthFlows": non_empty(&s.explicit_auth_flows),
        "SupportedIdentityProviders": non_empty(&s.supported_identity_providers),
        "CallbackURLs": non_empty(&s.callback_urls),
        "LogoutURLs": non_empty(&s.logout_urls),
        "DefaultRedirectURI": Some(&s.default_redirect_uri).filter(|u| !u.is_empty()),
        "AllowedOAuthFlows": non_empty(&s.allowed_oauth_flows),
        "AllowedOAuthScopes": non_empty(&s.allowed_oauth_scopes),
        "AllowedOAuthFlowsUserPoolClient": s.allowed_oauth_flows_user_pool_client,
        "PreventUserExistenceErrors": s.prevent_user_existence_errors,
        "EnableTokenRevocation": s.enable_token_revocation,
        "EnablePropagateAdditionalUserContextData": s.enable_propagate_additional_user_context_data,
        "AuthSessionValidity": s.auth_session_validity,
        "AnalyticsConfiguration": s.analytics_configuration.as_ref().map(analytics_out),
        "RefreshTokenRotation": s.refresh_token_rotation.as_ref().map(|r| json!({
            "Feature": r.feature,
            "RetryGracePeriodSeconds": r.retry_grace_period_seconds,
        })),
    }))
}
