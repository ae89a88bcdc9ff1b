//! The app client aggregate.

use portcullis_proto::events::v1::{TokenValidity, UserPoolClientCreated, UserPoolClientSettings};

use portcullis_types::{LEGACY_AUTH_FLOWS, auth_flow_allowed, validity_seconds as seconds};

use super::{Aggregate, ApiError, Ctx, ErrorCode, Event};

#[derive(Debug, Default, Clone)]
pub struct Client {
    pub state: Option<ClientState>,
}

#[derive(Debug, Clone)]
pub struct ClientState {
    pub pool_id: String,
    pub client_id: String,
    pub settings: UserPoolClientSettings,
    pub has_secret: bool,
    pub created_ms: i64,
    pub modified_ms: i64,
}

pub enum ClientCommand {
    Create {
        pool_id: String,
        client_id: String,
        settings: UserPoolClientSettings,
        generate_secret: bool,
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

impl Aggregate for Client {
    const KIND: &'static str = "client";
    type Command = ClientCommand;

    fn decide(&self, command: &ClientCommand, _ctx: &Ctx) -> Result<Vec<Event>, ApiError> {
        match command {
            ClientCommand::Create {
                pool_id,
                client_id,
                settings,
                generate_secret,
            } => {
                if self.state.is_some() {
                    return Err(ApiError::new(
                        ErrorCode::ConcurrentModificationException,
                        "User pool client already exists.",
                    ));
                }
                Ok(vec![Event::UserPoolClientCreated(UserPoolClientCreated {
                    pool_id: pool_id.clone(),
                    client_id: client_id.clone(),
                    settings: Some(resolve_settings(settings.clone())?),
                    has_secret: *generate_secret,
                })])
            }
        }
    }

    fn evolve(&mut self, event: &Event, at_ms: i64) {
        if let Event::UserPoolClientCreated(created) = event {
            self.state = Some(ClientState {
                pool_id: created.pool_id.clone(),
                client_id: created.client_id.clone(),
                settings: created.settings.clone().unwrap_or_default(),
                has_secret: created.has_secret,
                created_ms: at_ms,
                modified_ms: at_ms,
            });
        }
    }
}

impl ClientState {
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

fn resolve_settings(mut s: UserPoolClientSettings) -> Result<UserPoolClientSettings, ApiError> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::given;

    const CTX: Ctx = Ctx { now_ms: 1 };

    fn create(settings: UserPoolClientSettings) -> ClientCommand {
        ClientCommand::Create {
            pool_id: "us-east-1_abc".into(),
            client_id: "c1".into(),
            settings,
            generate_secret: false,
        }
    }

    fn created(settings: UserPoolClientSettings) -> ClientState {
        let events = given::<Client>(&[])
            .decide(&create(settings), &CTX)
            .unwrap();
        given::<Client>(&events).state.unwrap()
    }

    #[test]
    fn defaults_are_cognitos() {
        let state = created(UserPoolClientSettings {
            client_name: "app".into(),
            ..Default::default()
        });
        assert_eq!(state.validity_seconds(), (3_600, 3_600, 30 * 86_400));
        assert_eq!(state.settings.prevent_user_existence_errors, "LEGACY");
        assert!(state.allows("ALLOW_USER_SRP_AUTH"));
        assert!(!state.allows("ALLOW_USER_PASSWORD_AUTH"));
    }

    #[test]
    fn legacy_names_allow_their_new_equivalents() {
        let state = created(UserPoolClientSettings {
            client_name: "app".into(),
            explicit_auth_flows: vec!["USER_PASSWORD_AUTH".into()],
            ..Default::default()
        });
        assert!(state.allows("ALLOW_USER_PASSWORD_AUTH"));
        assert!(state.allows("ALLOW_REFRESH_TOKEN_AUTH"));
        assert!(!state.allows("ALLOW_ADMIN_USER_PASSWORD_AUTH"));
    }

    #[test]
    fn mixing_and_unknown_flows_are_refused() {
        let mixed = UserPoolClientSettings {
            client_name: "app".into(),
            explicit_auth_flows: vec!["USER_PASSWORD_AUTH".into(), "ALLOW_USER_SRP_AUTH".into()],
            ..Default::default()
        };
        assert!(given::<Client>(&[]).decide(&create(mixed), &CTX).is_err());
        let unknown = UserPoolClientSettings {
            client_name: "app".into(),
            explicit_auth_flows: vec!["ALLOW_EVERYTHING".into()],
            ..Default::default()
        };
        assert!(given::<Client>(&[]).decide(&create(unknown), &CTX).is_err());
    }

    #[test]
    fn validity_ranges_are_checked() {
        let too_short = UserPoolClientSettings {
            client_name: "app".into(),
            token_validity: Some(TokenValidity {
                access_token: 1,
                ..Default::default()
            }),
            ..Default::default()
        };
        assert!(
            given::<Client>(&[])
                .decide(&create(too_short), &CTX)
                .is_err()
        );
    }
}
