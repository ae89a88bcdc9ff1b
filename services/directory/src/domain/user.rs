//! The user aggregate.

use portcullis_proto::events::v1::{
    Attribute, UserConfirmed, UserDeleted, UserDisabled, UserEnabled, UserPasswordChanged,
    UserPoolSettings, UserSignedUp,
};
use portcullis_types::{Email, PhoneNumber};

use super::{Aggregate, ApiError, Ctx, ErrorCode, Event};

#[derive(Debug, Default, Clone)]
pub struct User {
    pub state: Option<UserState>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserStatus {
    Unconfirmed,
    Confirmed,
    ForceChangePassword,
}

impl UserStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            UserStatus::Unconfirmed => "UNCONFIRMED",
            UserStatus::Confirmed => "CONFIRMED",
            UserStatus::ForceChangePassword => "FORCE_CHANGE_PASSWORD",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "CONFIRMED" => UserStatus::Confirmed,
            "FORCE_CHANGE_PASSWORD" => UserStatus::ForceChangePassword,
            _ => UserStatus::Unconfirmed,
        }
    }
}

#[derive(Debug, Clone)]
pub struct UserState {
    pub pool_id: String,
    pub sub: String,
    pub username: String,
    pub attributes: Vec<Attribute>,
    pub status: UserStatus,
    pub enabled: bool,
    pub created_ms: i64,
    pub modified_ms: i64,
}

impl UserState {
    fn set_attribute(&mut self, name: &str, value: &str) {
        match self.attributes.iter_mut().find(|a| a.name == name) {
            Some(existing) => value.clone_into(&mut existing.value),
            None => self.attributes.push(Attribute {
                name: name.to_owned(),
                value: value.to_owned(),
            }),
        }
    }

    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|a| a.name == name)
            .map(|a| a.value.as_str())
    }
}

pub enum UserCommand {
    /// Creates the user. `pool` is the pool's settings at the time of the command, so
    /// the decision is checked against the schema the pool has.
    SignUp {
        pool_id: String,
        pool: Box<UserPoolSettings>,
        sub: String,
        username: String,
        attributes: Vec<Attribute>,
        confirmed: bool,
    },
    /// Confirms the user: by an administrator, or with a code sent to
    /// `verified_attribute`, which the code then proves too.
    Confirm {
        verified_attribute: Option<String>,
    },
    /// Records a password change made by authn-flow (which owns credentials).
    RecordPasswordChange {
        method: String,
    },
    /// Enables or disables sign-in; setting the state the user already has is a no-op.
    SetEnabled(bool),
    Delete,
}

impl Aggregate for User {
    const KIND: &'static str = "user";
    type Command = UserCommand;

    fn decide(&self, command: &UserCommand, _ctx: &Ctx) -> Result<Vec<Event>, ApiError> {
        match command {
            UserCommand::SignUp {
                pool_id,
                pool,
                sub,
                username,
                attributes,
                confirmed,
            } => {
                if self.state.is_some() {
                    return Err(ApiError::new(
                        ErrorCode::UsernameExistsException,
                        "User already exists",
                    ));
                }
                let attributes = sign_up_attributes(pool, username, attributes)?;
                // With an email or phone number as user name, the internal name is the sub.
                let internal = if pool.username_attributes.is_empty() {
                    username.clone()
                } else {
                    sub.clone()
                };
                Ok(vec![Event::UserSignedUp(UserSignedUp {
                    pool_id: pool_id.clone(),
                    sub: sub.clone(),
                    username: internal,
                    attributes,
                    status: if *confirmed {
                        "CONFIRMED"
                    } else {
                        "UNCONFIRMED"
                    }
                    .into(),
                    origin: "SIGN_UP".into(),
                })])
            }
            UserCommand::SetEnabled(enabled) => {
                let state = self.existing()?;
                Ok(match (state.enabled, enabled) {
                    (true, false) => vec![Event::UserDisabled(UserDisabled {})],
                    (false, true) => vec![Event::UserEnabled(UserEnabled {})],
                    _ => Vec::new(),
                })
            }
            UserCommand::Delete => {
                self.existing()?;
                Ok(vec![Event::UserDeleted(UserDeleted {})])
            }
            UserCommand::RecordPasswordChange { method } => {
                self.existing()?;
                Ok(vec![Event::UserPasswordChanged(UserPasswordChanged {
                    method: method.clone(),
                })])
            }
            UserCommand::Confirm { verified_attribute } => {
                let state = self.existing()?;
                if state.status != UserStatus::Unconfirmed {
                    return Err(ApiError::not_authorized(format!(
                        "User cannot be confirmed. Current status is {}",
                        state.status.as_str()
                    )));
                }
                if let Some(name) = verified_attribute
                    && !matches!(name.as_str(), "email" | "phone_number")
                {
                    return Err(ApiError::invalid_parameter(format!(
                        "{name} cannot be verified."
                    )));
                }
                Ok(vec![Event::UserConfirmed(UserConfirmed {
                    method: if verified_attribute.is_some() {
                        "CODE"
                    } else {
                        "ADMIN"
                    }
                    .into(),
                    verified_attribute: verified_attribute.clone().unwrap_or_default(),
                })])
            }
        }
    }

    fn evolve(&mut self, event: &Event, at_ms: i64) {
        match event {
            Event::UserSignedUp(e) => {
                self.state = Some(UserState {
                    pool_id: e.pool_id.clone(),
                    sub: e.sub.clone(),
                    username: e.username.clone(),
                    attributes: e.attributes.clone(),
                    status: UserStatus::parse(&e.status),
                    enabled: true,
                    created_ms: at_ms,
                    modified_ms: at_ms,
                });
            }
            Event::UserConfirmed(e) => {
                if let Some(state) = &mut self.state {
                    state.status = UserStatus::Confirmed;
                    state.modified_ms = at_ms;
                    if !e.verified_attribute.is_empty() {
                        state.set_attribute(&format!("{}_verified", e.verified_attribute), "true");
                    }
                }
            }
            Event::UserPasswordChanged(_) => {
                if let Some(state) = &mut self.state {
                    state.modified_ms = at_ms;
                }
            }
            Event::UserDisabled(_) | Event::UserEnabled(_) => {
                if let Some(state) = &mut self.state {
                    state.enabled = matches!(event, Event::UserEnabled(_));
                    state.modified_ms = at_ms;
                }
            }
            Event::UserDeleted(_) => self.state = None,
            _ => {}
        }
    }
}

impl User {
    pub fn existing(&self) -> Result<&UserState, ApiError> {
        self.state
            .as_ref()
            .ok_or_else(|| ApiError::new(ErrorCode::UserNotFoundException, "User does not exist."))
    }
}

fn schema_error(name: &str, problem: &str) -> ApiError {
    ApiError::invalid_parameter(format!(
        "Attributes did not conform to the schema: {name}: {problem}"
    ))
}

/// Checks sign-up attributes against the pool's schema and adds the ones Cognito derives
/// (the email or phone number that is the user name).
fn sign_up_attributes(
    pool: &UserPoolSettings,
    username: &str,
    given: &[Attribute],
) -> Result<Vec<Attribute>, ApiError> {
    let mut attributes: Vec<Attribute> = Vec::with_capacity(given.len() + 1);
    for attr in given {
        let Some(def) = pool.schema.iter().find(|s| s.name == attr.name) else {
            return Err(schema_error(
                &attr.name,
                "Attribute does not exist in the schema.",
            ));
        };
        if def.name == "sub" {
            return Err(schema_error(
                "sub",
                "Attribute cannot be updated. (changing an immutable attribute)",
            ));
        }
        if attributes.iter().any(|a| a.name == attr.name) {
            return Err(ApiError::invalid_parameter(format!(
                "Duplicate attribute: {}",
                attr.name
            )));
        }
        validate_value(&attr.name, &attr.value)?;
        attributes.push(attr.clone());
    }
    for name in &pool.username_attributes {
        let parsed_ok = match name.as_str() {
            "email" => Email::parse(username).is_ok(),
            _ => PhoneNumber::parse(username).is_ok(),
        };
        let wants = if pool.username_attributes.len() == 1 {
            Some(name)
        } else {
            None
        };
        if parsed_ok {
            attributes.retain(|a| &a.name != name);
            attributes.push(Attribute {
                name: name.clone(),
                value: username.to_owned(),
            });
            break;
        } else if let Some(name) = wants {
            let what = if name == "email" {
                "an email"
            } else {
                "a phone number"
            };
            return Err(ApiError::invalid_parameter(format!(
                "Username should be {what}."
            )));
        }
    }
    if !pool.username_attributes.is_empty()
        && !pool
            .username_attributes
            .iter()
            .any(|n| attributes.iter().any(|a| &a.name == n))
    {
        return Err(ApiError::invalid_parameter(
            "Username should be either an email or a phone number.",
        ));
    }
    if let Some(missing) = pool
        .schema
        .iter()
        .find(|s| s.required && s.name != "sub" && !attributes.iter().any(|a| a.name == s.name))
    {
        return Err(schema_error(&missing.name, "The attribute is required"));
    }
    Ok(attributes)
}

fn validate_value(name: &str, value: &str) -> Result<(), ApiError> {
    match name {
        "email" => Email::parse(value)
            .map(drop)
            .map_err(|e| ApiError::invalid_parameter(e.0)),
        "phone_number" => PhoneNumber::parse(value)
            .map(drop)
            .map_err(|e| ApiError::invalid_parameter(e.0)),
        "email_verified" | "phone_number_verified" if value != "true" && value != "false" => {
            Err(schema_error(name, "Attribute value must be a boolean."))
        }
        _ if value.chars().count() > 2048 => Err(schema_error(name, "String is too long")),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{given, schema};
    use portcullis_proto::events::v1::SchemaAttribute;

    const CTX: Ctx = Ctx { now_ms: 1 };

    fn pool(username_attributes: &[&str], required: &[&str]) -> UserPoolSettings {
        let requested: Vec<SchemaAttribute> = required
            .iter()
            .map(|n| SchemaAttribute {
                name: (*n).into(),
                attribute_data_type: "String".into(),
                required: true,
                mutable: true,
                ..Default::default()
            })
            .collect();
        UserPoolSettings {
            username_attributes: username_attributes.iter().map(|s| (*s).into()).collect(),
            schema: schema::resolve(&requested).unwrap(),
            ..Default::default()
        }
    }

    fn attr(name: &str, value: &str) -> Attribute {
        Attribute {
            name: name.into(),
            value: value.into(),
        }
    }

    fn sign_up(pool: UserPoolSettings, username: &str, attributes: Vec<Attribute>) -> UserCommand {
        UserCommand::SignUp {
            pool_id: "us-east-1_p".into(),
            pool: Box::new(pool),
            sub: "0b4c3d2e-0000-7000-8000-000000000001".into(),
            username: username.into(),
            attributes,
            confirmed: false,
        }
    }

    #[test]
    fn given_nothing_when_signing_up_then_user_is_unconfirmed() {
        let events = given::<User>(&[])
            .decide(
                &sign_up(
                    pool(&[], &["email"]),
                    "alice",
                    vec![attr("email", "a@example.com")],
                ),
                &CTX,
            )
            .unwrap();
        let user = given::<User>(&events);
        let state = user.state.unwrap();
        assert_eq!(state.username, "alice");
        assert_eq!(state.status, UserStatus::Unconfirmed);
        assert_eq!(state.attribute("email"), Some("a@example.com"));
    }

    #[test]
    fn email_as_username_makes_sub_the_internal_name() {
        let events = given::<User>(&[])
            .decide(
                &sign_up(pool(&["email"], &[]), "a@example.com", vec![]),
                &CTX,
            )
            .unwrap();
        let state = given::<User>(&events).state.unwrap();
        assert_eq!(state.username, state.sub);
        assert_eq!(state.attribute("email"), Some("a@example.com"));
        let err = given::<User>(&[])
            .decide(&sign_up(pool(&["email"], &[]), "alice", vec![]), &CTX)
            .unwrap_err();
        assert_eq!(err.message, "Username should be an email.");
    }

    #[test]
    fn schema_violations_are_refused() {
        let unknown = sign_up(pool(&[], &[]), "bob", vec![attr("custom:nope", "1")]);
        let err = given::<User>(&[]).decide(&unknown, &CTX).unwrap_err();
        assert!(
            err.message
                .contains("Attribute does not exist in the schema.")
        );
        let missing = sign_up(pool(&[], &["email"]), "bob", vec![]);
        let err = given::<User>(&[]).decide(&missing, &CTX).unwrap_err();
        assert_eq!(
            err.message,
            "Attributes did not conform to the schema: email: The attribute is required"
        );
        let bad_email = sign_up(pool(&[], &[]), "bob", vec![attr("email", "nope")]);
        assert!(given::<User>(&[]).decide(&bad_email, &CTX).is_err());
    }

    #[test]
    fn given_confirmed_user_when_confirmed_again_then_not_authorized() {
        let signed = given::<User>(&[])
            .decide(&sign_up(pool(&[], &[]), "carol", vec![]), &CTX)
            .unwrap();
        let mut events = signed.clone();
        events.extend(
            given::<User>(&signed)
                .decide(
                    &UserCommand::Confirm {
                        verified_attribute: None,
                    },
                    &CTX,
                )
                .unwrap(),
        );
        let user = given::<User>(&events);
        assert_eq!(user.state.as_ref().unwrap().status, UserStatus::Confirmed);
        let err = user
            .decide(
                &UserCommand::Confirm {
                    verified_attribute: None,
                },
                &CTX,
            )
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::NotAuthorizedException);
        assert_eq!(
            err.message,
            "User cannot be confirmed. Current status is CONFIRMED"
        );
    }

    #[test]
    fn confirming_with_an_email_code_verifies_the_email() {
        let signed = given::<User>(&[])
            .decide(
                &sign_up(pool(&[], &[]), "hana", vec![attr("email", "h@example.com")]),
                &CTX,
            )
            .unwrap();
        let confirm = UserCommand::Confirm {
            verified_attribute: Some("email".into()),
        };
        let mut events = signed.clone();
        events.extend(given::<User>(&signed).decide(&confirm, &CTX).unwrap());
        let state = given::<User>(&events).state.unwrap();
        assert_eq!(state.status, UserStatus::Confirmed);
        assert_eq!(state.attribute("email_verified"), Some("true"));
        let bogus = UserCommand::Confirm {
            verified_attribute: Some("name".into()),
        };
        assert!(given::<User>(&signed).decide(&bogus, &CTX).is_err());
    }

    #[test]
    fn a_password_change_is_recorded_without_the_password() {
        let change = UserCommand::RecordPasswordChange {
            method: "FORGOT_PASSWORD".into(),
        };
        let err = given::<User>(&[]).decide(&change, &CTX).unwrap_err();
        assert_eq!(err.code, ErrorCode::UserNotFoundException);
        let signed = given::<User>(&[])
            .decide(&sign_up(pool(&[], &[]), "ivan", vec![]), &CTX)
            .unwrap();
        let events = given::<User>(&signed).decide(&change, &CTX).unwrap();
        let [Event::UserPasswordChanged(changed)] = events.as_slice() else {
            panic!("{events:?}")
        };
        assert_eq!(changed.method, "FORGOT_PASSWORD");
    }

    #[test]
    fn disabling_is_idempotent_and_deleting_leaves_no_user() {
        let mut events = given::<User>(&[])
            .decide(&sign_up(pool(&[], &[]), "jo", vec![]), &CTX)
            .unwrap();
        events.extend(
            given::<User>(&events)
                .decide(&UserCommand::SetEnabled(false), &CTX)
                .unwrap(),
        );
        let user = given::<User>(&events);
        assert!(!user.state.as_ref().unwrap().enabled);
        assert!(
            user.decide(&UserCommand::SetEnabled(false), &CTX)
                .unwrap()
                .is_empty()
        );
        events.extend(user.decide(&UserCommand::Delete, &CTX).unwrap());
        let deleted = given::<User>(&events);
        assert!(deleted.state.is_none());
        let err = deleted.decide(&UserCommand::Delete, &CTX).unwrap_err();
        assert_eq!(err.code, ErrorCode::UserNotFoundException);
    }

    #[test]
    fn confirming_a_missing_user_is_user_not_found() {
        let err = given::<User>(&[])
            .decide(
                &UserCommand::Confirm {
                    verified_attribute: None,
                },
                &CTX,
            )
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::UserNotFoundException);
    }
}
