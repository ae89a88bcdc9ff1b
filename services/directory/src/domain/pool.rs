//! The user pool aggregate.

use portcullis_proto::events::v1::{PasswordPolicy, UserPoolCreated, UserPoolSettings};

use super::{Aggregate, ApiError, Ctx, ErrorCode, Event, schema};

#[derive(Debug, Default, Clone)]
pub struct Pool {
    pub state: Option<PoolState>,
}

#[derive(Debug, Clone)]
pub struct PoolState {
    pub id: String,
    pub settings: UserPoolSettings,
    pub created_ms: i64,
    pub modified_ms: i64,
}

pub enum PoolCommand {
    Create {
        id: String,
        settings: UserPoolSettings,
    },
}

impl Aggregate for Pool {
    const KIND: &'static str = "pool";
    type Command = PoolCommand;

    fn decide(&self, command: &PoolCommand, _ctx: &Ctx) -> Result<Vec<Event>, ApiError> {
        match command {
            PoolCommand::Create { id, settings } => {
                if self.state.is_some() {
                    return Err(ApiError::new(
                        ErrorCode::ConcurrentModificationException,
                        "User pool already exists.",
                    ));
                }
                let settings = resolve_settings(settings.clone())?;
                Ok(vec![Event::UserPoolCreated(UserPoolCreated {
                    pool_id: id.clone(),
                    settings: Some(settings),
                })])
            }
        }
    }

    fn evolve(&mut self, event: &Event, at_ms: i64) {
        if let Event::UserPoolCreated(created) = event {
            self.state = Some(PoolState {
                id: created.pool_id.clone(),
                settings: created.settings.clone().unwrap_or_default(),
                created_ms: at_ms,
                modified_ms: at_ms,
            });
        }
    }
}

/// Cognito's defaults when a policy is not given at all.
fn default_password_policy() -> PasswordPolicy {
    PasswordPolicy {
        minimum_length: 8,
        require_uppercase: true,
        require_lowercase: true,
        require_numbers: true,
        require_symbols: true,
        temporary_password_validity_days: 7,
        password_history_size: 0,
    }
}

/// Validates a CreateUserPool request and fills in Cognito's defaults, so that the event
/// records the settings the pool actually has.
fn resolve_settings(mut settings: UserPoolSettings) -> Result<UserPoolSettings, ApiError> {
    validate_name(&settings.pool_name)?;
    let mut policy = settings
        .password_policy
        .take()
        .unwrap_or_else(default_password_policy);
    if policy.minimum_length == 0 {
        policy.minimum_length = 8;
    }
    if !(6..=99).contains(&policy.minimum_length) {
        return Err(ApiError::invalid_parameter(format!(
            "1 validation error detected: Value '{}' at 'policies.passwordPolicy.minimumLength' failed to satisfy constraint: Member must have value {} than or equal to {}",
            policy.minimum_length,
            if policy.minimum_length < 6 {
                "greater"
            } else {
                "less"
            },
            if policy.minimum_length < 6 { 6 } else { 99 },
        )));
    }
    if policy.temporary_password_validity_days == 0 {
        policy.temporary_password_validity_days = 7;
    }
    settings.password_policy = Some(policy);
    validate_username_attributes(&settings)?;
    settings.schema = schema::resolve(&settings.schema)?;
    default_enum(
        &mut settings.deletion_protection,
        "INACTIVE",
        &["ACTIVE", "INACTIVE"],
        "deletionProtection",
    )?;
    default_enum(
        &mut settings.mfa_configuration,
        "OFF",
        &["OFF", "ON", "OPTIONAL"],
        "mfaConfiguration",
    )?;
    default_enum(
        &mut settings.user_pool_tier,
        "ESSENTIALS",
        &["LITE", "ESSENTIALS", "PLUS"],
        "userPoolTier",
    )?;
    Ok(settings)
}

fn validate_name(name: &str) -> Result<(), ApiError> {
    let len = name.chars().count();
    let valid = (1..=128).contains(&len)
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || " +=,.@-_".contains(c));
    if valid {
        Ok(())
    } else {
        Err(ApiError::invalid_parameter(format!(
            "1 validation error detected: Value '{name}' at 'poolName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w\\s+=,.@-]+"
        )))
    }
}

fn validate_username_attributes(settings: &UserPoolSettings) -> Result<(), ApiError> {
    let allowed = ["email", "phone_number"];
    if let Some(bad) = settings
        .username_attributes
        .iter()
        .find(|a| !allowed.contains(&a.as_str()))
    {
        return Err(ApiError::invalid_parameter(format!(
            "1 validation error detected: Value '[{bad}]' at 'usernameAttributes' failed to satisfy constraint: Member must satisfy constraint: [Member must satisfy enum value set: [phone_number, email]]"
        )));
    }
    if !settings.username_attributes.is_empty() && !settings.alias_attributes.is_empty() {
        return Err(ApiError::invalid_parameter(
            "Only one of the aliasAttributes or usernameAttributes can be set in a User Pool.",
        ));
    }
    let aliases = ["email", "phone_number", "preferred_username"];
    if let Some(bad) = settings
        .alias_attributes
        .iter()
        .find(|a| !aliases.contains(&a.as_str()))
    {
        return Err(ApiError::invalid_parameter(format!(
            "1 validation error detected: Value '[{bad}]' at 'aliasAttributes' failed to satisfy constraint: Member must satisfy constraint: [Member must satisfy enum value set: [phone_number, email, preferred_username]]"
        )));
    }
    let verifiable = ["email", "phone_number"];
    if let Some(bad) = settings
        .auto_verified_attributes
        .iter()
        .find(|a| !verifiable.contains(&a.as_str()))
    {
        return Err(ApiError::invalid_parameter(format!(
            "1 validation error detected: Value '[{bad}]' at 'autoVerifiedAttributes' failed to satisfy constraint: Member must satisfy constraint: [Member must satisfy enum value set: [phone_number, email]]"
        )));
    }
    Ok(())
}

fn default_enum(
    value: &mut String,
    default: &str,
    allowed: &[&str],
    member: &str,
) -> Result<(), ApiError> {
    if value.is_empty() {
        *value = default.to_owned();
    }
    if allowed.contains(&value.as_str()) {
        Ok(())
    } else {
        Err(ApiError::invalid_parameter(format!(
            "1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: Member must satisfy enum value set: [{}]",
            allowed.join(", ")
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::given;

    const CTX: Ctx = Ctx { now_ms: 5_000 };

    fn create(settings: UserPoolSettings) -> PoolCommand {
        PoolCommand::Create {
            id: "us-east-1_abcDEF123".into(),
            settings,
        }
    }

    fn named(name: &str) -> UserPoolSettings {
        UserPoolSettings {
            pool_name: name.into(),
            ..Default::default()
        }
    }

    #[test]
    fn given_nothing_when_created_then_defaults_are_recorded() {
        let events = given::<Pool>(&[])
            .decide(&create(named("my pool")), &CTX)
            .unwrap();
        let [Event::UserPoolCreated(created)] = events.as_slice() else {
            panic!("{events:?}")
        };
        let settings = created.settings.as_ref().unwrap();
        let policy = settings.password_policy.as_ref().unwrap();
        assert_eq!(policy.minimum_length, 8);
        assert!(policy.require_symbols);
        assert_eq!(settings.deletion_protection, "INACTIVE");
        assert_eq!(settings.mfa_configuration, "OFF");
        assert_eq!(settings.schema[0].name, "sub");
    }

    #[test]
    fn given_created_when_folded_then_state_has_times() {
        let events = given::<Pool>(&[])
            .decide(&create(named("p")), &CTX)
            .unwrap();
        let pool = given::<Pool>(&events);
        let state = pool.state.unwrap();
        assert_eq!(state.id, "us-east-1_abcDEF123");
        assert_eq!(state.created_ms, 1_000);
    }

    #[test]
    fn given_existing_pool_when_created_again_then_refused() {
        let events = given::<Pool>(&[])
            .decide(&create(named("p")), &CTX)
            .unwrap();
        assert!(
            given::<Pool>(&events)
                .decide(&create(named("p")), &CTX)
                .is_err()
        );
    }

    #[test]
    fn bad_settings_are_refused_with_cognito_messages() {
        let err = given::<Pool>(&[])
            .decide(&create(named("")), &CTX)
            .unwrap_err();
        assert!(err.message.contains("at 'poolName'"));
        let mut short = named("p");
        short.password_policy = Some(PasswordPolicy {
            minimum_length: 5,
            ..Default::default()
        });
        let err = given::<Pool>(&[]).decide(&create(short), &CTX).unwrap_err();
        assert!(
            err.message.contains("greater than or equal to 6"),
            "{}",
            err.message
        );
        let mut both = named("p");
        both.username_attributes = vec!["email".into()];
        both.alias_attributes = vec!["email".into()];
        assert!(given::<Pool>(&[]).decide(&create(both), &CTX).is_err());
    }

    #[test]
    fn a_given_policy_keeps_its_false_requirements() {
        let mut settings = named("p");
        settings.password_policy = Some(PasswordPolicy {
            minimum_length: 6,
            ..Default::default()
        });
        let events = given::<Pool>(&[]).decide(&create(settings), &CTX).unwrap();
        let Event::UserPoolCreated(created) = &events[0] else {
            panic!()
        };
        let policy = created
            .settings
            .as_ref()
            .unwrap()
            .password_policy
            .as_ref()
            .unwrap();
        assert!(!policy.require_uppercase);
        assert_eq!(policy.temporary_password_validity_days, 7);
    }
}
