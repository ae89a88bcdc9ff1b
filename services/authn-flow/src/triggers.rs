//! The pool's triggers, at the points where Cognito runs them: each builds its event
//! ([`portcullis_triggers::Event`]), calls the pool's function and reads the answer's
//! `response` as Cognito reads it. Payloads are never logged: they carry attributes and,
//! for some triggers, passwords.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use portcullis_errors::ApiError;
use portcullis_proto::authn::v1 as pb;
use portcullis_proto::directory::v1 as dir;
use portcullis_proto::events::v1::{Attribute, LambdaConfig};
use portcullis_proto::token::v1 as tok;
use portcullis_triggers::encryption::Context;
use portcullis_triggers::event::{self, NO_CLIENT};
use portcullis_triggers::{Event, Trigger, Version, invalid_response};
use serde_json::{Map, Value, json};

use crate::context::{ClientInfo, Flows};
use crate::sender::Medium;

/// `ClientMetadata` and the caller, as one call tells its triggers.
pub(crate) struct Caller<'a> {
    /// The app client, or [`NO_CLIENT`] for an admin operation.
    pub client_id: &'a str,
    pub context: Option<&'a pb::CallerContext>,
}

impl<'a> Caller<'a> {
    pub(crate) fn admin(context: Option<&'a pb::CallerContext>) -> Self {
        Self {
            client_id: NO_CLIENT,
            context,
        }
    }

    pub(crate) fn of(client: &'a ClientInfo) -> Self {
        Self {
            client_id: &client.client.client_id,
            context: Some(&client.caller),
        }
    }

    pub(crate) fn metadata(&self) -> Value {
        event::string_map(
            self.context
                .iter()
                .flat_map(|c| c.client_metadata.iter())
                .map(|(k, v)| (k.as_str(), v.as_str())),
        )
    }

    fn sdk_version(&self) -> String {
        event::sdk_version(self.context.map_or("", |c| c.user_agent.as_str()))
    }
}

/// What a pre sign-up function decided.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SignUpAnswer {
    pub auto_confirm: bool,
    pub verify_email: bool,
    pub verify_phone: bool,
}

impl SignUpAnswer {
    /// Marks the email address and phone number verified where the function said so
    /// (and the user has them).
    pub(crate) fn verify(&self, attributes: &mut Vec<Attribute>) {
        let mut mark = |attribute: &str| {
            if !attributes
                .iter()
                .any(|a| a.name == attribute && !a.value.is_empty())
            {
                return;
            }
            let flag = format!("{attribute}_verified");
            attributes.retain(|a| a.name != flag);
            attributes.push(Attribute {
                name: flag,
                value: "true".into(),
            });
        };
        if self.verify_email {
            mark("email");
        }
        if self.verify_phone {
            mark("phone_number");
        }
    }
}

/// The token source of a sign-in's tokens (`triggerSource` of pre token generation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenSource {
    Authentication,
    NewPasswordChallenge,
    AuthenticateDevice,
    HostedAuth,
    RefreshTokens,
}

impl TokenSource {
    fn name(self) -> &'static str {
        match self {
            Self::Authentication => "TokenGeneration_Authentication",
            Self::NewPasswordChallenge => "TokenGeneration_NewPasswordChallenge",
            Self::AuthenticateDevice => "TokenGeneration_AuthenticateDevice",
            Self::HostedAuth => "TokenGeneration_HostedAuth",
            Self::RefreshTokens => "TokenGeneration_RefreshTokens",
        }
    }
}

impl Flows {
    /// Tokens for a sign-in, as the pool's pre token generation trigger makes them.
    /// `groups` are the user's groups when already read.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn issue(
        &self,
        client: &ClientInfo,
        user: &dir::User,
        auth_time: i64,
        origin_jti: String,
        issue_refresh_token: bool,
        device_key: &str,
        groups: Option<Vec<dir::Group>>,
        source: TokenSource,
    ) -> Result<tok::TokenSet, ApiError> {
        let mut request = self
            .issue_request_with(
                client,
                user,
                auth_time,
                origin_jti,
                issue_refresh_token,
                groups,
            )
            .await?;
        device_key.clone_into(&mut request.device_key);
        self.pre_token_generation(client, user, source, &mut request)
            .await?;
        Ok(self.token.clone().issue_tokens(request).await?.into_inner())
    }

    /// The pool's triggers, when it has any.
    pub(crate) async fn lambda_config(&self, pool_id: &str) -> Result<LambdaConfig, ApiError> {
        Ok(self
            .pool(pool_id)
            .await?
            .settings
            .and_then(|s| s.lambda_config)
            .unwrap_or_default())
    }

    /// Runs `trigger` if `config` sets a function for it, with the event `event` builds
    /// for the function's version: the answer's `response` (empty when the function
    /// left it out), or `None` when the pool has no function for the trigger.
    async fn run_trigger<'a>(
        &self,
        config: &LambdaConfig,
        trigger: Trigger,
        event: impl FnOnce(Version) -> Event<'a>,
    ) -> Result<Option<Map<String, Value>>, ApiError> {
        let Some((arn, version)) = trigger.function(config) else {
            return Ok(None);
        };
        let event = event(version);
        let started = std::time::Instant::now();
        let answer = self.triggers.invoke(arn, &event.to_json()).await;
        tracing::debug!(
            trigger = trigger.name(),
            source = event.trigger_source,
            took_ms = started.elapsed().as_millis(),
            ok = answer.is_ok(),
            "trigger invoked"
        );
        let answer = answer.map_err(|failure| {
            tracing::warn!(trigger = trigger.name(), %failure, "a trigger failed");
            failure.api_error(trigger)
        })?;
        match answer.get("response") {
            None | Some(Value::Null) => Ok(Some(Map::new())),
            Some(Value::Object(response)) => Ok(Some(response.clone())),
            Some(_) => Err(invalid_response()),
        }
    }

    /// [`Flows::run_trigger`] with the event's members given.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn run_with_config(
        &self,
        config: &LambdaConfig,
        trigger: Trigger,
        source: &str,
        pool_id: &str,
        user_name: &str,
        caller: &Caller<'_>,
        request: Value,
        response: Value,
    ) -> Result<Option<Map<String, Value>>, ApiError> {
        let sdk = caller.sdk_version();
        self.run_trigger(config, trigger, |version| Event {
            version,
            trigger_source: source,
            pool_id,
            user_name,
            client_id: caller.client_id,
            sdk_version: &sdk,
            request,
            response,
        })
        .await
    }

    /// A trigger whose answer carries nothing (`response` is `{}`): only its failure
    /// counts.
    async fn notify(
        &self,
        trigger: Trigger,
        source: &str,
        user: &dir::User,
        caller: &Caller<'_>,
        request: Value,
    ) -> Result<(), ApiError> {
        self.run_for_user(trigger, source, user, caller, |_| (request, json!({})))
            .await?;
        Ok(())
    }

    /// [`Flows::run_trigger`] for a user of a pool: `body` answers the event's
    /// `request` and unset `response` for the function's version.
    pub(crate) async fn run_for_user(
        &self,
        trigger: Trigger,
        source: &str,
        user: &dir::User,
        caller: &Caller<'_>,
        body: impl FnOnce(Version) -> (Value, Value),
    ) -> Result<Option<Map<String, Value>>, ApiError> {
        let config = self.lambda_config(&user.pool_id).await?;
        let sdk = caller.sdk_version();
        self.run_trigger(&config, trigger, |version| {
            let (request, response) = body(version);
            Event {
                version,
                trigger_source: source,
                pool_id: &user.pool_id,
                user_name: &user.username,
                client_id: caller.client_id,
                sdk_version: &sdk,
                request,
                response,
            }
        })
        .await
    }

    /// Pre sign-up (`PreSignUp_SignUp`, `PreSignUp_AdminCreateUser`): a refusal is the
    /// function's error, and nothing is created.
    /// The inbound federation trigger, at every sign-in through an identity provider:
    /// the function sees what the provider answered and may replace the attributes the
    /// mapping took (`userAttributesToMap`; `{}` keeps them).
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn inbound_federation(
        &self,
        config: &LambdaConfig,
        pool_id: &str,
        user_name: &str,
        client_id: &str,
        provider_name: &str,
        provider_type: &str,
        sources: Value,
    ) -> Result<Option<Vec<Attribute>>, ApiError> {
        let response = self
            .run_trigger(config, Trigger::InboundFederation, |version| Event {
                version,
                trigger_source: "InboundFederation_ExternalProvider",
                pool_id,
                user_name,
                client_id,
                sdk_version: "aws-sdk-unknown-unknown",
                request: json!({
                    "providerName": provider_name,
                    "providerType": provider_type,
                    "attributes": sources,
                }),
                response: json!({ "userAttributesToMap": {} }),
            })
            .await?;
        let Some(response) = response else {
            return Ok(None);
        };
        match response.get("userAttributesToMap") {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Object(map)) if map.is_empty() => Ok(None),
            Some(Value::Object(map)) => map
                .iter()
                .map(|(name, value)| {
                    value
                        .as_str()
                        .map(|value| Attribute {
                            name: name.clone(),
                            value: value.to_owned(),
                        })
                        .ok_or_else(invalid_response)
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(_) => Err(invalid_response()),
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn pre_sign_up(
        &self,
        config: &LambdaConfig,
        source: &str,
        pool_id: &str,
        user_name: &str,
        caller: &Caller<'_>,
        attributes: &[Attribute],
        validation_data: &[Attribute],
    ) -> Result<SignUpAnswer, ApiError> {
        let attribute_map = |attributes: &[Attribute]| {
            event::string_map(
                attributes
                    .iter()
                    .map(|a| (a.name.as_str(), a.value.as_str())),
            )
        };
        let sdk = caller.sdk_version();
        let response = self
            .run_trigger(config, Trigger::PreSignUp, |version| Event {
                version,
                trigger_source: source,
                pool_id,
                user_name,
                client_id: caller.client_id,
                sdk_version: &sdk,
                request: json!({
                    "userAttributes": attribute_map(attributes),
                    "validationData": if validation_data.is_empty() {
                        Value::Null
                    } else {
                        attribute_map(validation_data)
                    },
                    "clientMetadata": caller.metadata(),
                }),
                response: json!({
                    "autoConfirmUser": false,
                    "autoVerifyPhone": false,
                    "autoVerifyEmail": false,
                }),
            })
            .await?;
        let Some(response) = response else {
            return Ok(SignUpAnswer::default());
        };
        Ok(SignUpAnswer {
            auto_confirm: flag(&response, "autoConfirmUser")?,
            verify_email: flag(&response, "autoVerifyEmail")?,
            verify_phone: flag(&response, "autoVerifyPhone")?,
        })
    }

    /// Post confirmation (`PostConfirmation_ConfirmSignUp`,
    /// `PostConfirmation_ConfirmForgotPassword`), after the change it follows is
    /// recorded: a failure is answered, and the confirmation stays.
    pub(crate) async fn post_confirmation(
        &self,
        source: &str,
        user: &dir::User,
        caller: &Caller<'_>,
    ) -> Result<(), ApiError> {
        let request = json!({
            "userAttributes": user_attributes(user),
            "clientMetadata": caller.metadata(),
        });
        self.notify(Trigger::PostConfirmation, source, user, caller, request)
            .await
    }

    /// Pre authentication (`PreAuthentication_Authentication`), before the first factor
    /// of a user who exists is checked: a refusal ends the sign-in.
    pub(crate) async fn pre_authentication(
        &self,
        client: &ClientInfo,
        user: &dir::User,
    ) -> Result<(), ApiError> {
        let caller = Caller::of(client);
        let request = json!({
            "userAttributes": user_attributes(user),
            "userNotFound": is_unknown(user),
            "validationData": caller.metadata(),
        });
        let source = "PreAuthentication_Authentication";
        self.notify(Trigger::PreAuthentication, source, user, &caller, request)
            .await
    }

    /// Post authentication (`PostAuthentication_Authentication`), once every challenge
    /// is answered and before tokens are issued: a failure means no tokens.
    pub(crate) async fn post_authentication(
        &self,
        client: &ClientInfo,
        user: &dir::User,
        new_device_used: bool,
    ) -> Result<(), ApiError> {
        let caller = Caller::of(client);
        let request = json!({
            "userAttributes": user_attributes(user),
            "newDeviceUsed": new_device_used,
            "clientMetadata": caller.metadata(),
        });
        let source = "PostAuthentication_Authentication";
        self.notify(Trigger::PostAuthentication, source, user, &caller, request)
            .await
    }

    /// Custom message (`source` is `CustomMessage_<what>`): the function may replace
    /// the text of a message carrying a code (and an email's subject). Its text is used
    /// only when it holds the code's place (`{####}`); else the pool's template is sent.
    /// An `invitation` also names the user (`{username}`). `config` is the pool's.
    pub(crate) async fn custom_message(
        &self,
        config: &LambdaConfig,
        user: &dir::User,
        (source, invitation): (&str, bool),
        caller: &Caller<'_>,
        channel: Medium,
        (text, subject): (String, Option<String>),
    ) -> Result<(String, Option<String>), ApiError> {
        let request = json!({
            "userAttributes": user_attributes(user),
            "codeParameter": "{####}",
            "linkParameter": "{##Click Here##}",
            "usernameParameter": if invitation { json!("{username}") } else { Value::Null },
            "clientMetadata": caller.metadata(),
        });
        let response = self
            .run_with_config(
                config,
                Trigger::CustomMessage,
                source,
                &user.pool_id,
                &user.username,
                caller,
                request,
                json!({"smsMessage": null, "emailMessage": null, "emailSubject": null}),
            )
            .await?;
        let Some(response) = response else {
            return Ok((text, subject));
        };
        let member = |name: &str| match response.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(value)) => Ok(Some(value.clone())),
            Some(_) => Err(invalid_response()),
        };
        let custom = match channel {
            Medium::Sms => member("smsMessage")?,
            Medium::Email => member("emailMessage")?,
        };
        let text = custom.filter(|t| t.contains("{####}")).unwrap_or(text);
        let subject = match channel {
            Medium::Email => member("emailSubject")?.or(subject),
            Medium::Sms => subject,
        };
        Ok((text, subject))
    }

    /// The pool's custom sender for `channel` (`CustomEmailSender`, `CustomSMSSender`),
    /// when it sets one: that function then delivers every message of the channel.
    pub(crate) fn custom_sender(config: &LambdaConfig, channel: Medium) -> Option<Trigger> {
        let trigger = match channel {
            Medium::Email => Trigger::CustomEmailSender,
            Medium::Sms => Trigger::CustomSmsSender,
        };
        trigger.function(config).map(|_| trigger)
    }

    /// Hands `code` (a code, or an invitation's temporary password) to the custom
    /// sender `trigger`, encrypted as Cognito encrypts it: an AWS Encryption SDK message
    /// under the pool's `KMSKeyID`, base64 in the event. `message_source` is the custom
    /// message trigger's source of the same message (`CustomMessage_SignUp` gives
    /// `CustomEmailSender_SignUp`).
    pub(crate) async fn send_with_custom_sender(
        &self,
        config: &LambdaConfig,
        trigger: Trigger,
        message_source: &str,
        user: &dir::User,
        caller: &Caller<'_>,
        code: &str,
    ) -> Result<(), ApiError> {
        let (prefix, request_type) = match trigger {
            Trigger::CustomSmsSender => ("CustomSMSSender_", "customSMSSenderRequestV1"),
            _ => ("CustomEmailSender_", "customEmailSenderRequestV1"),
        };
        let source = message_source.replacen("CustomMessage_", prefix, 1);
        let context = Context::from([("userpool-id".to_owned(), user.pool_id.clone())]);
        let sealed = self
            .triggers
            .encrypt_code(&config.kms_key_id, &context, code)
            .await
            .map_err(|failure| {
                tracing::warn!(trigger = trigger.name(), %failure, "a code could not be encrypted");
                failure.api_error(trigger)
            })?;
        let request = json!({
            "type": request_type,
            "code": STANDARD.encode(sealed),
            "clientMetadata": caller.metadata(),
            "userAttributes": user_attributes(user),
        });
        self.run_with_config(
            config,
            trigger,
            &source,
            &user.pool_id,
            &user.username,
            caller,
            request,
            json!({}),
        )
        .await?;
        Ok(())
    }

    /// Pre token generation: the function may change the claims of the tokens
    /// `request` asks for (V1: the ID token; V2 and V3: both, and the access token's
    /// scopes) and the groups they carry. What it may not change the token service
    /// leaves as it is.
    pub(crate) async fn pre_token_generation(
        &self,
        client: &ClientInfo,
        user: &dir::User,
        source: TokenSource,
        request: &mut tok::IssueTokensRequest,
    ) -> Result<(), ApiError> {
        let caller = Caller::of(client);
        let scopes = if request.oauth {
            request.scopes.clone()
        } else {
            vec![portcullis_types::ADMIN_SCOPE.to_owned()]
        };
        let groups = json!({
            "groupsToOverride": request.groups,
            "iamRolesToOverride": request.roles,
            "preferredRole": Some(&request.preferred_role).filter(|r| !r.is_empty()),
        });
        let mut chosen = Version::V1;
        let trigger = Trigger::PreTokenGeneration;
        let response = self
            .run_for_user(trigger, source.name(), user, &caller, |version| {
                chosen = version;
                if version == Version::V1 {
                    let request = json!({
                        "userAttributes": user_attributes(user),
                        "groupConfiguration": groups,
                        "clientMetadata": caller.metadata(),
                    });
                    (request, json!({"claimsOverrideDetails": null}))
                } else {
                    let request = json!({
                        "userAttributes": user_attributes(user),
                        "scopes": scopes,
                        "groupConfiguration": groups,
                        "clientMetadata": caller.metadata(),
                    });
                    (request, json!({"claimsAndScopeOverrideDetails": null}))
                }
            })
            .await?;
        let Some(response) = response else {
            return Ok(());
        };
        apply_token_answer(chosen, &response, request)
    }
}

impl Flows {
    /// Pre token generation for a machine's token (`client_credentials`): only a V3
    /// function sees it (`TokenGeneration_ClientCredentials`), and only the access
    /// token and its scopes can change.
    pub(crate) async fn pre_token_generation_for_client(
        &self,
        client: &ClientInfo,
        request: &mut tok::IssueTokensRequest,
    ) -> Result<(), ApiError> {
        let config = self.lambda_config(client.pool_id()).await?;
        let trigger = Trigger::PreTokenGeneration;
        if trigger
            .function(&config)
            .is_none_or(|(_, v)| v < Version::V3)
        {
            return Ok(());
        }
        let caller = Caller::of(client);
        let request_json = json!({
            "userAttributes": {},
            "scopes": request.scopes,
            "groupConfiguration": {
                "groupsToOverride": [], "iamRolesToOverride": [], "preferredRole": null,
            },
            "clientMetadata": caller.metadata(),
        });
        let response = self
            .run_with_config(
                &config,
                trigger,
                "TokenGeneration_ClientCredentials",
                client.pool_id(),
                "",
                &caller,
                request_json,
                json!({"claimsAndScopeOverrideDetails": null}),
            )
            .await?;
        let Some(response) = response else {
            return Ok(());
        };
        apply_token_answer(Version::V3, &response, request)?;
        // A machine has no groups.
        request.groups.clear();
        request.roles.clear();
        request.preferred_role.clear();
        Ok(())
    }
}

/// A stand-in for a user name that matches no user, where the client hides which users
/// exist: the triggers still run, told `userNotFound: true`.
pub(crate) fn unknown_user(pool_id: &str, user_name: &str) -> dir::User {
    dir::User {
        pool_id: pool_id.to_owned(),
        username: user_name.to_owned(),
        ..dir::User::default()
    }
}

/// Whether `user` is an [`unknown_user`].
pub(crate) fn is_unknown(user: &dir::User) -> bool {
    user.sub.is_empty()
}

/// A user's attributes as triggers see them: `sub`, every attribute, and
/// `cognito:user_status` (none for an [`unknown_user`]).
pub(crate) fn user_attributes(user: &dir::User) -> Value {
    if is_unknown(user) {
        return json!({});
    }
    let mut map = Map::new();
    map.insert("sub".into(), Value::String(user.sub.clone()));
    for attribute in &user.attributes {
        map.insert(
            attribute.name.clone(),
            Value::String(attribute.value.clone()),
        );
    }
    map.insert(
        "cognito:user_status".into(),
        Value::String(user.status.clone()),
    );
    Value::Object(map)
}

/// A boolean member of an answer: absent or `null` is false; anything but a boolean is
/// an answer Cognito does not recognise.
pub(crate) fn flag(response: &Map<String, Value>, name: &str) -> Result<bool, ApiError> {
    match response.get(name) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(value)) => Ok(*value),
        Some(_) => Err(invalid_response()),
    }
}

/// An optional object member: `None` when absent or `null`.
fn object<'a>(
    parent: &'a Map<String, Value>,
    name: &str,
) -> Result<Option<&'a Map<String, Value>>, ApiError> {
    match parent.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(object)) => Ok(Some(object)),
        Some(_) => Err(invalid_response()),
    }
}

/// An optional list of strings: `None` when absent or `null`.
fn strings(parent: &Map<String, Value>, name: &str) -> Result<Option<Vec<String>>, ApiError> {
    match parent.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| {
                item.as_str()
                    .map(str::to_owned)
                    .ok_or_else(invalid_response)
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(invalid_response()),
    }
}

/// Reads a pre token generation answer into the token request.
fn apply_token_answer(
    version: Version,
    response: &Map<String, Value>,
    request: &mut tok::IssueTokensRequest,
) -> Result<(), ApiError> {
    let member = if version == Version::V1 {
        "claimsOverrideDetails"
    } else {
        "claimsAndScopeOverrideDetails"
    };
    let Some(details) = object(response, member)? else {
        return Ok(());
    };
    let mut overrides = tok::ClaimOverrides::default();
    let claims = |generation: &Map<String, Value>, v1: bool| -> Result<_, ApiError> {
        let add = match object(generation, "claimsToAddOrOverride")? {
            // V1 claims are strings (numbers and booleans are taken as written).
            Some(add) if v1 && add.values().any(|v| v.is_object() || v.is_array()) => {
                return Err(invalid_response());
            }
            Some(add) => serde_json::to_string(add).map_err(|_| invalid_response())?,
            None => String::new(),
        };
        let suppress = strings(generation, "claimsToSuppress")?.unwrap_or_default();
        Ok((add, suppress))
    };
    if version == Version::V1 {
        (overrides.id_claims_json, overrides.id_suppress) = claims(details, true)?;
    } else {
        if let Some(id) = object(details, "idTokenGeneration")? {
            (overrides.id_claims_json, overrides.id_suppress) = claims(id, false)?;
        }
        if let Some(access) = object(details, "accessTokenGeneration")? {
            (overrides.access_claims_json, overrides.access_suppress) = claims(access, false)?;
            overrides.scopes_add = strings(access, "scopesToAdd")?.unwrap_or_default();
            overrides.scopes_suppress = strings(access, "scopesToSuppress")?.unwrap_or_default();
        }
    }
    if let Some(groups) = object(details, "groupOverrideDetails")? {
        if let Some(names) = strings(groups, "groupsToOverride")? {
            request.groups = names;
        }
        if let Some(roles) = strings(groups, "iamRolesToOverride")? {
            request.roles = roles;
        }
        match groups.get("preferredRole") {
            None => {}
            Some(Value::Null) => request.preferred_role.clear(),
            Some(Value::String(role)) => role.clone_into(&mut request.preferred_role),
            Some(_) => return Err(invalid_response()),
        }
    }
    request.overrides = Some(overrides);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn a_v1_answer_changes_id_claims_and_groups() {
        let mut request = tok::IssueTokensRequest {
            groups: vec!["a".into()],
            preferred_role: "arn:aws:iam::1:role/a".into(),
            ..Default::default()
        };
        let response = answer(json!({"claimsOverrideDetails": {
            "claimsToAddOrOverride": {"tier": "gold", "level": 3},
            "claimsToSuppress": ["email"],
            "groupOverrideDetails": {"groupsToOverride": ["b", "c"], "preferredRole": null},
        }}));
        apply_token_answer(Version::V1, &response, &mut request).unwrap();
        let overrides = request.overrides.clone().unwrap_or_default();
        assert_eq!(overrides.id_claims_json, r#"{"level":3,"tier":"gold"}"#);
        assert_eq!(overrides.id_suppress, ["email"]);
        assert!(overrides.access_claims_json.is_empty());
        assert_eq!(request.groups, ["b", "c"]);
        assert!(request.preferred_role.is_empty());

        let nested = answer(json!({"claimsOverrideDetails": {
            "claimsToAddOrOverride": {"tier": {"nested": true}},
        }}));
        assert!(apply_token_answer(Version::V1, &nested, &mut request).is_err());
    }

    #[test]
    fn a_v2_answer_changes_both_tokens_and_the_scopes() {
        let mut request = tok::IssueTokensRequest::default();
        let response = answer(json!({"claimsAndScopeOverrideDetails": {
            "idTokenGeneration": {"claimsToAddOrOverride": {"roles": ["x", "y"]}},
            "accessTokenGeneration": {
                "claimsToAddOrOverride": {"tenant": {"id": 7}},
                "claimsToSuppress": ["username"],
                "scopesToAdd": ["api/read"],
                "scopesToSuppress": ["email"],
            },
        }}));
        apply_token_answer(Version::V2, &response, &mut request).unwrap();
        let overrides = request.overrides.unwrap_or_default();
        assert_eq!(overrides.id_claims_json, r#"{"roles":["x","y"]}"#);
        assert_eq!(overrides.access_claims_json, r#"{"tenant":{"id":7}}"#);
        assert_eq!(overrides.access_suppress, ["username"]);
        assert_eq!(overrides.scopes_add, ["api/read"]);
        assert_eq!(overrides.scopes_suppress, ["email"]);
    }

    #[test]
    fn answers_of_the_wrong_shape_are_refused() {
        let mut request = tok::IssueTokensRequest::default();
        for bad in [
            json!({"claimsOverrideDetails": []}),
            json!({"claimsOverrideDetails": {"claimsToSuppress": "email"}}),
            json!({"claimsOverrideDetails": {"groupOverrideDetails": {"groupsToOverride": [1]}}}),
        ] {
            let error = apply_token_answer(Version::V1, &answer(bad), &mut request).unwrap_err();
            assert_eq!(
                error.code,
                portcullis_errors::ErrorCode::InvalidLambdaResponseException
            );
        }
        let flags = answer(json!({"autoConfirmUser": "yes"}));
        assert!(flag(&flags, "autoConfirmUser").is_err());
        assert!(!flag(&flags, "autoVerifyEmail").unwrap());
    }
}
