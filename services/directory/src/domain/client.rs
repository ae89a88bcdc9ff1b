//! The app client aggregate: settings, and the ids and dates of its secrets (the
//! secret values live in the directory's secrets bucket, never in events).

use portcullis_proto::events::v1::{
    TokenValidity, UserPoolClientCreated, UserPoolClientDeleted, UserPoolClientSecretAdded,
    UserPoolClientSecretDeleted, UserPoolClientSettings, UserPoolClientUpdated, UserPoolSettings,
};

use portcullis_types::{LEGACY_AUTH_FLOWS, auth_flow_allowed, validity_seconds as seconds};

use super::{Aggregate, ApiError, Ctx, ErrorCode, Event, client_rules as rules};

/// How many secrets a client may have at once, as in Cognito.
pub const MAX_SECRETS: usize = 2;

#[derive(Debug, Default, Clone)]
pub struct Client {
    pub state: Option<ClientState>,
}

#[derive(Debug, Clone)]
pub struct ClientState {
    pub pool_id: String,
    pub client_id: String,
    pub settings: UserPoolClientSettings,
    /// Current secrets, oldest first; the first is the one DescribeUserPoolClient shows.
    pub secrets: Vec<SecretInfo>,
    pub created_ms: i64,
    pub modified_ms: i64,
}

/// A secret's public facts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretInfo {
    pub id: String,
    pub created_ms: i64,
    /// The secret made with the client, stored under the client's own key (where it
    /// was before clients could have several secrets).
    pub initial: bool,
}

pub enum ClientCommand {
    Create {
        pool_id: String,
        client_id: String,
        /// The pool's settings, whose schema read and write attributes must name.
        pool: Box<UserPoolSettings>,
        settings: UserPoolClientSettings,
        /// The id of the client's secret, if it gets one.
        secret_id: Option<String>,
        /// The pool's resource-server scopes (`<identifier>/<scope>`).
        custom_scopes: Vec<String>,
        /// The names of the pool's identity providers.
        identity_providers: Vec<String>,
    },
    /// Replaces the settings; an empty client name keeps the current one.
    Update {
        pool: Box<UserPoolSettings>,
        settings: UserPoolClientSettings,
        custom_scopes: Vec<String>,
        identity_providers: Vec<String>,
    },
    Delete,
    AddSecret {
        secret_id: String,
    },
    DeleteSecret {
        secret_id: String,
    },
}

const FLOWS: &[&str] = &[
    "ALLOW_ADMIN_USER_PASSWORD_AUTH",
    "ALLOW_CUSTOM_AUTH",
    "ALLOW_USER_PASSWORD_AUTH",
    "ALLOW_USER_SRP_AUTH",
    "ALLOW_REFRESH_TOKEN_AUTH",
    "ALLOW_USER_AUTH",
];

pub fn client_not_found(client_id: &str) -> ApiError {
    ApiError::not_found(format!("User pool client {client_id} does not exist."))
}

impl Aggregate for Client {
    const KIND: &'static str = "client";
    type Command = ClientCommand;

    fn decide(&self, command: &ClientCommand, _ctx: &Ctx) -> Result<Vec<Event>, ApiError> {
        if let ClientCommand::Create {
            pool_id,
            client_id,
            pool,
            settings,
            secret_id,
            custom_scopes,
            identity_providers,
        } = command
        {
            if self.state.is_some() {
                return Err(ApiError::new(
                    ErrorCode::ConcurrentModificationException,
                    "User pool client already exists.",
                ));
            }
            let context = Validation {
                pool,
                pool_id,
                has_secret: secret_id.is_some(),
                operation: "creating",
                custom_scopes,
                identity_providers,
            };
            return Ok(vec![Event::UserPoolClientCreated(UserPoolClientCreated {
                pool_id: pool_id.clone(),
                client_id: client_id.clone(),
                settings: Some(resolve_settings(settings.clone(), &context)?),
                has_secret: secret_id.is_some(),
                secret_id: secret_id.clone().unwrap_or_default(),
            })]);
        }
        let Some(state) = &self.state else {
            // Only reachable for a client id that parsed but names no client.
            return Err(ApiError::not_found("User pool client does not exist."));
        };
        state.decide(command)
    }

    fn evolve(&mut self, event: &Event, at_ms: i64) {
        if let Event::UserPoolClientCreated(created) = event {
            let secrets = if created.has_secret {
                let id = if created.secret_id.is_empty() {
                    legacy_secret_id(&created.client_id, at_ms)
                } else {
                    created.secret_id.clone()
                };
                vec![SecretInfo {
                    id,
                    created_ms: at_ms,
                    initial: true,
                }]
            } else {
                Vec::new()
            };
            self.state = Some(ClientState {
                pool_id: created.pool_id.clone(),
                client_id: created.client_id.clone(),
                settings: created.settings.clone().unwrap_or_default(),
                secrets,
                created_ms: at_ms,
                modified_ms: at_ms,
            });
            return;
        }
        if matches!(event, Event::UserPoolClientDeleted(_)) {
            self.state = None;
            return;
        }
        let Some(state) = &mut self.state else {
            return;
        };
        match event {
            Event::UserPoolClientUpdated(updated) => {
                state.settings = updated.settings.clone().unwrap_or_default();
                state.modified_ms = at_ms;
            }
            Event::UserPoolClientSecretAdded(added) => state.secrets.push(SecretInfo {
                id: added.secret_id.clone(),
                created_ms: at_ms,
                initial: false,
            }),
            Event::UserPoolClientSecretDeleted(deleted) => {
                state.secrets.retain(|s| s.id != deleted.secret_id);
            }
            _ => {}
        }
    }
}

/// The id given to the initial secret of a client created before secrets had ids:
/// derived from facts in its creation event, so it is the same on every load.
fn legacy_secret_id(client_id: &str, created_ms: i64) -> String {
    format!("{client_id}--{created_ms}")
}

impl ClientState {
    fn decide(&self, command: &ClientCommand) -> Result<Vec<Event>, ApiError> {
        match command {
            ClientCommand::Create { .. } => Err(ApiError::new(
                ErrorCode::ConcurrentModificationException,
                "User pool client already exists.",
            )),
            ClientCommand::Update {
                pool,
                settings,
                custom_scopes,
                identity_providers,
            } => {
                let mut settings = settings.clone();
                if settings.client_name.is_empty() {
                    settings.client_name = self.settings.client_name.clone();
                }
                let context = Validation {
                    pool,
                    pool_id: &self.pool_id,
                    has_secret: !self.secrets.is_empty(),
                    operation: "updating",
                    custom_scopes,
                    identity_providers,
                };
                Ok(vec![Event::UserPoolClientUpdated(UserPoolClientUpdated {
                    pool_id: self.pool_id.clone(),
                    client_id: self.client_id.clone(),
                    settings: Some(resolve_settings(settings, &context)?),
                })])
            }
            ClientCommand::Delete => {
                Ok(vec![Event::UserPoolClientDeleted(UserPoolClientDeleted {
                    pool_id: self.pool_id.clone(),
                    client_id: self.client_id.clone(),
                })])
            }
            ClientCommand::AddSecret { secret_id } => {
                if self.secrets.is_empty() {
                    return Err(ApiError::invalid_parameter(format!(
                        "Client secrets can only be added to a confidential client; client {} has no secret.",
                        self.client_id
                    )));
                }
                if self.secrets.len() >= MAX_SECRETS {
                    return Err(ApiError::new(
                        ErrorCode::LimitExceededException,
                        format!(
                            "Client {} already has the maximum of {MAX_SECRETS} client secrets.",
                            self.client_id
                        ),
                    ));
                }
                Ok(vec![Event::UserPoolClientSecretAdded(
                    UserPoolClientSecretAdded {
                        secret_id: secret_id.clone(),
                    },
                )])
            }
            ClientCommand::DeleteSecret { secret_id } => {
                if !self.secrets.iter().any(|s| &s.id == secret_id) {
                    return Err(ApiError::not_found(format!(
                        "Client secret {secret_id} does not exist."
                    )));
                }
                if self.secrets.len() == 1 {
                    return Err(ApiError::invalid_parameter(
                        "You cannot delete the last remaining client secret of an app client.",
                    ));
                }
                Ok(vec![Event::UserPoolClientSecretDeleted(
                    UserPoolClientSecretDeleted {
                        secret_id: secret_id.clone(),
                    },
                )])
            }
        }
    }

    pub fn has_secret(&self) -> bool {
        !self.secrets.is_empty()
    }

    pub fn secret(&self, secret_id: &str) -> Option<&SecretInfo> {
        self.secrets.iter().find(|s| s.id == secret_id)
    }

    /// Whether the client allows an auth flow, by its new (`ALLOW_*`) or legacy name.
    /// A client created without `ExplicitAuthFlows` allows what Cognito allows then:
    /// SRP, custom auth and refresh.
    pub fn allows(&self, flow: &str) -> bool {
        auth_flow_allowed(&self.settings.explicit_auth_flows, flow)
    }

    /// Token lifetimes in seconds: (access, id, refresh).
    pub fn validity_seconds(&self) -> (u64, u64, u64) {
        let v = self.settings.token_validity.clone().unwrap_or_default();
        (
            seconds(v.access_token, &v.access_token_unit),
            seconds(v.id_token, &v.id_token_unit),
            seconds(v.refresh_token, &v.refresh_token_unit),
        )
    }
}

/// What settings are checked against besides themselves.
struct Validation<'a> {
    pool: &'a UserPoolSettings,
    pool_id: &'a str,
    has_secret: bool,
    /// `creating` or `updating`, for Cognito's messages.
    operation: &'a str,
    custom_scopes: &'a [String],
    identity_providers: &'a [String],
}

fn resolve_settings(
    mut s: UserPoolClientSettings,
    context: &Validation<'_>,
) -> Result<UserPoolClientSettings, ApiError> {
    let len = s.client_name.chars().count();
    if !(1..=128).contains(&len)
        || !s
            .client_name
            .chars()
            .all(|c| c.is_alphanumeric() || " +=,.@-_".contains(c))
    {
        return Err(ApiError::invalid_parameter(format!(
            "1 validation error detected: Value '{}' at 'clientName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w\\s+=,.@-]+",
            s.client_name
        )));
    }
    validate_flows(&s.explicit_auth_flows)?;
    validate_attributes(&s, context)?;
    rules::validate_oauth(
        &s,
        context.pool_id,
        context.has_secret,
        context.custom_scopes,
        context.identity_providers,
    )?;
    rules::resolve_rotation(&mut s)?;
    s.token_validity = Some(resolve_validity(
        s.token_validity.take().unwrap_or_default(),
    )?);
    if s.prevent_user_existence_errors.is_empty() {
        s.prevent_user_existence_errors = "LEGACY".into();
    }
    if !["LEGACY", "ENABLED"].contains(&s.prevent_user_existence_errors.as_str()) {
        return Err(ApiError::invalid_parameter(format!(
            "1 validation error detected: Value '{}' at 'preventUserExistenceErrors' failed to satisfy constraint: Member must satisfy enum value set: [LEGACY, ENABLED]",
            s.prevent_user_existence_errors
        )));
    }
    if s.auth_session_validity == 0 {
        s.auth_session_validity = 3;
    }
    if !(3..=15).contains(&s.auth_session_validity) {
        return Err(ApiError::invalid_parameter(format!(
            "1 validation error detected: Value '{}' at 'authSessionValidity' failed to satisfy constraint: Member must have value between 3 and 15",
            s.auth_session_validity
        )));
    }
    Ok(s)
}

fn validate_flows(flows: &[String]) -> Result<(), ApiError> {
    if let Some(bad) = flows
        .iter()
        .find(|f| !LEGACY_AUTH_FLOWS.contains(&f.as_str()) && !FLOWS.contains(&f.as_str()))
    {
        return Err(ApiError::invalid_parameter(format!(
            "1 validation error detected: Value '[{bad}]' at 'explicitAuthFlows' failed to satisfy constraint: Member must satisfy constraint: [Member must satisfy enum value set: [ADMIN_NO_SRP_AUTH, CUSTOM_AUTH_FLOW_ONLY, USER_PASSWORD_AUTH, ALLOW_ADMIN_USER_PASSWORD_AUTH, ALLOW_CUSTOM_AUTH, ALLOW_USER_PASSWORD_AUTH, ALLOW_USER_SRP_AUTH, ALLOW_REFRESH_TOKEN_AUTH, ALLOW_USER_AUTH]]"
        )));
    }
    let legacy = flows
        .iter()
        .any(|f| LEGACY_AUTH_FLOWS.contains(&f.as_str()));
    let new = flows.iter().any(|f| FLOWS.contains(&f.as_str()));
    if legacy && new {
        return Err(ApiError::invalid_parameter(
            "You cannot mix legacy and new ExplicitAuthFlows values.",
        ));
    }
    Ok(())
}

/// Fills in Cognito's defaults (access and ID tokens 60 minutes, refresh tokens 30 days)
/// and checks the ranges Cognito allows.
fn resolve_validity(mut v: TokenValidity) -> Result<TokenValidity, ApiError> {
    for (unit, default) in [
        (&mut v.access_token_unit, "minutes"),
        (&mut v.id_token_unit, "minutes"),
        (&mut v.refresh_token_unit, "days"),
    ] {
        if unit.is_empty() {
            *unit = default.to_owned();
        }
        if !["seconds", "minutes", "hours", "days"].contains(&unit.as_str()) {
            return Err(ApiError::invalid_parameter(format!(
                "1 validation error detected: Value '{unit}' at 'tokenValidityUnits' failed to satisfy constraint: Member must satisfy enum value set: [seconds, minutes, hours, days]"
            )));
        }
    }
    if v.access_token == 0 {
        v.access_token = if v.access_token_unit == "hours" {
            1
        } else {
            60
        };
    }
    if v.id_token == 0 {
        v.id_token = if v.id_token_unit == "hours" { 1 } else { 60 };
    }
    if v.refresh_token == 0 {
        v.refresh_token = if v.refresh_token_unit == "days" {
            30
        } else {
            43_200
        };
    }
    let in_range = |value, unit: &str, min, max| (min..=max).contains(&seconds(value, unit));
    if !in_range(v.access_token, &v.access_token_unit, 300, 86_400)
        || !in_range(v.id_token, &v.id_token_unit, 300, 86_400)
    {
        return Err(ApiError::invalid_parameter(
            "Invalid range for token validity: access and ID tokens must be valid for between 5 minutes and 1 day.",
        ));
    }
    if !in_range(v.refresh_token, &v.refresh_token_unit, 3_600, 315_360_000) {
        return Err(ApiError::invalid_parameter(
            "Invalid range for token validity: refresh tokens must be valid for between 60 minutes and 10 years.",
        ));
    }
    Ok(v)
}

/// Read and write attributes must be in the pool's schema; write attributes must also
/// be mutable.
fn validate_attributes(
    s: &UserPoolClientSettings,
    context: &Validation<'_>,
) -> Result<(), ApiError> {
    let schema = &context.pool.schema;
    let known = |name: &str| schema.iter().find(|a| a.name == name);
    if s.read_attributes.iter().any(|a| known(a).is_none()) {
        return Err(ApiError::invalid_parameter(format!(
            "Invalid read attributes specified while {} a client",
            context.operation
        )));
    }
    if s.write_attributes
        .iter()
        .any(|a| !known(a).is_some_and(|attr| attr.mutable))
    {
        return Err(ApiError::invalid_parameter(format!(
            "Invalid write attributes specified while {} a client",
            context.operation
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use portcullis_proto::events::v1::SchemaAttribute;

    use super::*;
    use crate::domain::given;

    const CTX: Ctx = Ctx { now_ms: 1 };

    fn pool() -> Box<UserPoolSettings> {
        let attr = |name: &str, mutable| SchemaAttribute {
            name: name.into(),
            mutable,
            ..Default::default()
        };
        Box::new(UserPoolSettings {
            schema: vec![
                attr("sub", false),
                attr("email", true),
                attr("custom:t", true),
            ],
            ..Default::default()
        })
    }

    fn create_with_secret(settings: UserPoolClientSettings, secret: Option<&str>) -> ClientCommand {
        ClientCommand::Create {
            pool_id: "us-east-1_abc".into(),
            client_id: "c1".into(),
            pool: pool(),
            settings,
            secret_id: secret.map(str::to_owned),
            custom_scopes: vec![],
            identity_providers: vec![],
        }
    }

    fn create(settings: UserPoolClientSettings) -> ClientCommand {
        create_with_secret(settings, None)
    }

    fn named(name: &str) -> UserPoolClientSettings {
        UserPoolClientSettings {
            client_name: name.into(),
            ..Default::default()
        }
    }

    fn history(command: &ClientCommand) -> Vec<Event> {
        given::<Client>(&[]).decide(command, &CTX).unwrap()
    }

    fn created(settings: UserPoolClientSettings) -> ClientState {
        given::<Client>(&history(&create(settings))).state.unwrap()
    }

    /// A confidential client's history: created with secret `s1`.
    fn confidential() -> Vec<Event> {
        history(&create_with_secret(named("app"), Some("s1")))
    }

    fn then(events: &[Event], command: ClientCommand) -> Result<Vec<Event>, ApiError> {
        given::<Client>(events).decide(&command, &CTX)
    }

    #[test]
    fn defaults_are_cognitos() {
        let state = created(named("app"));
        assert_eq!(state.validity_seconds(), (3_600, 3_600, 30 * 86_400));
        assert_eq!(state.settings.prevent_user_existence_errors, "LEGACY");
        assert_eq!(
            state
                .settings
                .refresh_token_rotation
                .clone()
                .unwrap()
                .feature,
            "DISABLED"
        );
        assert!(state.allows("ALLOW_USER_SRP_AUTH"));
        assert!(!state.allows("ALLOW_USER_PASSWORD_AUTH"));
        assert!(!state.has_secret());
    }

    #[test]
    fn legacy_names_allow_their_new_equivalents() {
        let state = created(UserPoolClientSettings {
            explicit_auth_flows: vec!["USER_PASSWORD_AUTH".into()],
            ..named("app")
        });
        assert!(state.allows("ALLOW_USER_PASSWORD_AUTH"));
        assert!(state.allows("ALLOW_REFRESH_TOKEN_AUTH"));
        assert!(!state.allows("ALLOW_ADMIN_USER_PASSWORD_AUTH"));
    }

    #[test]
    fn mixing_and_unknown_flows_are_refused() {
        let mixed = UserPoolClientSettings {
            explicit_auth_flows: vec!["USER_PASSWORD_AUTH".into(), "ALLOW_USER_SRP_AUTH".into()],
            ..named("app")
        };
        assert!(then(&[], create(mixed)).is_err());
        let unknown = UserPoolClientSettings {
            explicit_auth_flows: vec!["ALLOW_EVERYTHING".into()],
            ..named("app")
        };
        assert!(then(&[], create(unknown)).is_err());
    }

    #[test]
    fn validity_ranges_are_checked() {
        let too_short = UserPoolClientSettings {
            token_validity: Some(TokenValidity {
                access_token: 1,
                ..Default::default()
            }),
            ..named("app")
        };
        assert!(then(&[], create(too_short)).is_err());
        let ten_years = UserPoolClientSettings {
            token_validity: Some(TokenValidity {
                refresh_token: 3_650,
                ..Default::default()
            }),
            ..named("app")
        };
        assert!(then(&[], create(ten_years)).is_ok());
    }

    #[test]
    fn attributes_must_be_in_the_schema_and_written_ones_mutable() {
        let read = UserPoolClientSettings {
            read_attributes: vec!["email".into(), "custom:nope".into()],
            ..named("app")
        };
        let err = then(&[], create(read)).unwrap_err();
        assert_eq!(
            err.message,
            "Invalid read attributes specified while creating a client"
        );
        let write = UserPoolClientSettings {
            write_attributes: vec!["sub".into()],
            ..named("app")
        };
        assert!(then(&[], create(write)).is_err());
        let fine = UserPoolClientSettings {
            read_attributes: vec!["sub".into(), "custom:t".into()],
            write_attributes: vec!["email".into()],
            ..named("app")
        };
        assert!(then(&[], create(fine)).is_ok());
    }

    #[test]
    fn given_a_client_when_updated_then_omitted_settings_return_to_defaults() {
        let events = history(&create(UserPoolClientSettings {
            explicit_auth_flows: vec!["ALLOW_USER_PASSWORD_AUTH".into()],
            auth_session_validity: 10,
            ..named("app")
        }));
        let update = ClientCommand::Update {
            pool: pool(),
            custom_scopes: vec![],
            identity_providers: vec![],
            settings: UserPoolClientSettings::default(),
        };
        let updated = then(&events, update).unwrap();
        let [Event::UserPoolClientUpdated(event)] = updated.as_slice() else {
            panic!("{updated:?}")
        };
        let settings = event.settings.clone().unwrap();
        assert_eq!(settings.client_name, "app", "the name is kept");
        assert!(settings.explicit_auth_flows.is_empty());
        assert_eq!(settings.auth_session_validity, 3);
        let mut all = events.clone();
        all.extend(updated);
        assert_eq!(given::<Client>(&all).state.unwrap().settings, settings);
    }

    #[test]
    fn updates_are_validated_like_creates() {
        let update = ClientCommand::Update {
            pool: pool(),
            custom_scopes: vec![],
            identity_providers: vec![],
            settings: UserPoolClientSettings {
                write_attributes: vec!["custom:unknown".into()],
                ..Default::default()
            },
        };
        let err = then(&confidential(), update).unwrap_err();
        assert!(err.message.contains("while updating"), "{}", err.message);
    }

    #[test]
    fn given_a_deleted_client_then_it_is_gone() {
        let mut events = confidential();
        events.extend(then(&events, ClientCommand::Delete).unwrap());
        assert!(given::<Client>(&events).state.is_none());
        let err = then(&events, ClientCommand::Delete).unwrap_err();
        assert_eq!(err.code, ErrorCode::ResourceNotFoundException);
    }

    #[test]
    fn a_confidential_client_holds_at_most_two_secrets() {
        let mut events = confidential();
        let add = |id: &str| ClientCommand::AddSecret {
            secret_id: id.into(),
        };
        events.extend(then(&events, add("s2")).unwrap());
        let state = given::<Client>(&events).state.unwrap();
        let ids: Vec<&str> = state.secrets.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, ["s1", "s2"]);
        assert!(state.secrets[0].initial && !state.secrets[1].initial);
        let err = then(&events, add("s3")).unwrap_err();
        assert_eq!(err.code, ErrorCode::LimitExceededException);
        let public = history(&create(named("public")));
        assert!(then(&public, add("s1")).is_err());
    }

    #[test]
    fn the_last_secret_cannot_be_deleted_and_unknown_ones_are_not_found() {
        let delete = |id: &str| ClientCommand::DeleteSecret {
            secret_id: id.into(),
        };
        let mut events = confidential();
        assert_eq!(
            then(&events, delete("s1")).unwrap_err().code,
            ErrorCode::InvalidParameterException
        );
        assert_eq!(
            then(&events, delete("nope")).unwrap_err().code,
            ErrorCode::ResourceNotFoundException
        );
        events.extend(
            then(
                &events,
                ClientCommand::AddSecret {
                    secret_id: "s2".into(),
                },
            )
            .unwrap(),
        );
        events.extend(then(&events, delete("s1")).unwrap());
        let state = given::<Client>(&events).state.unwrap();
        assert_eq!(state.secrets.len(), 1);
        assert_eq!(state.secrets[0].id, "s2");
    }

    #[test]
    fn a_secret_created_before_ids_existed_gets_a_stable_id() {
        let legacy = Event::UserPoolClientCreated(UserPoolClientCreated {
            pool_id: "us-east-1_abc".into(),
            client_id: "c1".into(),
            settings: Some(named("app")),
            has_secret: true,
            secret_id: String::new(),
        });
        let state = given::<Client>(&[legacy]).state.unwrap();
        assert_eq!(state.secrets[0].id, "c1--1000");
        assert!(state.secrets[0].initial);
    }
}
