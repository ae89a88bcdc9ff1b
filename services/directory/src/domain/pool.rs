//! The user pool aggregate.

use portcullis_proto::events::v1::{
    CustomAttributesAdded, LogConfiguration, LogDeliveryConfigured, SchemaAttribute, Tag,
    UserPoolCreated, UserPoolDeleted, UserPoolSettings, UserPoolTagsChanged, UserPoolUpdated,
};

use super::pool_settings::{self, custom_attributes, validate_log_configurations, validate_tags};
use super::{Aggregate, ApiError, Ctx, ErrorCode, Event, schema};

#[derive(Debug, Default, Clone)]
pub struct Pool {
    pub state: Option<PoolState>,
    /// A deleted pool loads as no pool, and its id is never taken again.
    pub deleted: bool,
}

#[derive(Debug, Clone)]
pub struct PoolState {
    pub id: String,
    pub settings: UserPoolSettings,
    pub created_ms: i64,
    pub modified_ms: i64,
    pub log_configurations: Vec<LogConfiguration>,
}

pub enum PoolCommand {
    Create {
        id: String,
        settings: UserPoolSettings,
    },
    /// UpdateUserPool: `settings` as the request gave them (see [`updated_settings`]).
    Update {
        settings: UserPoolSettings,
        replace_tags: bool,
    },
    Delete,
    AddCustomAttributes(Vec<SchemaAttribute>),
    /// TagResource (`set`) and UntagResource (`remove`).
    ChangeTags {
        set: Vec<Tag>,
        remove: Vec<String>,
    },
    SetLogDelivery(Vec<LogConfiguration>),
    /// SetUserPoolMfaConfig.
    SetMfaConfig(Box<portcullis_proto::directory::v1::SetUserPoolMfaConfigRequest>),
}

fn no_pool() -> ApiError {
    ApiError::not_found("User pool does not exist.")
}

impl Aggregate for Pool {
    const KIND: &'static str = "pool";
    type Command = PoolCommand;

    fn decide(&self, command: &PoolCommand, _ctx: &Ctx) -> Result<Vec<Event>, ApiError> {
        if let PoolCommand::Create { id, settings } = command {
            if self.state.is_some() || self.deleted {
                return Err(ApiError::new(
                    ErrorCode::ConcurrentModificationException,
                    "User pool already exists.",
                ));
            }
            let settings = resolve_settings(settings.clone())?;
            return Ok(vec![Event::UserPoolCreated(UserPoolCreated {
                pool_id: id.clone(),
                settings: Some(settings),
            })]);
        }
        let state = self.state.as_ref().ok_or_else(no_pool)?;
        let pool_id = state.id.clone();
        let event = match command {
            PoolCommand::Create { .. } => unreachable!("handled above"),
            PoolCommand::Update {
                settings,
                replace_tags,
            } => {
                let settings = updated_settings(&state.settings, settings.clone(), *replace_tags)?;
                Event::UserPoolUpdated(UserPoolUpdated {
                    pool_id,
                    settings: Some(settings),
                })
            }
            PoolCommand::Delete => {
                if state.settings.deletion_protection == "ACTIVE" {
                    return Err(ApiError::invalid_parameter(
                        "The user pool cannot be deleted because deletion protection is activated. Deletion protection must be inactivated first.",
                    ));
                }
                Event::UserPoolDeleted(UserPoolDeleted { pool_id })
            }
            PoolCommand::AddCustomAttributes(requested) => {
                let attributes = custom_attributes(&state.settings.schema, requested)?;
                Event::CustomAttributesAdded(CustomAttributesAdded {
                    pool_id,
                    attributes,
                })
            }
            PoolCommand::ChangeTags { set, remove } => {
                validate_tags(set, "tags")?;
                let mut tags = state.settings.user_pool_tags.clone();
                tags.retain(|t| !remove.contains(&t.key) && !set.iter().any(|n| n.key == t.key));
                tags.extend(set.iter().cloned());
                tags.sort_by(|a, b| a.key.cmp(&b.key));
                validate_tags(&tags, "tags")?;
                let mut current = state.settings.user_pool_tags.clone();
                current.sort_by(|a, b| a.key.cmp(&b.key));
                if tags == current {
                    return Ok(Vec::new());
                }
                Event::UserPoolTagsChanged(UserPoolTagsChanged { pool_id, tags })
            }
            PoolCommand::SetMfaConfig(request) => Event::UserPoolMfaConfigured(
                super::mfa::configure(&pool_id, &state.settings, request)?,
            ),
            PoolCommand::SetLogDelivery(configurations) => {
                validate_log_configurations(configurations)?;
                Event::LogDeliveryConfigured(LogDeliveryConfigured {
                    pool_id,
                    log_configurations: configurations.clone(),
                })
            }
        };
        Ok(vec![event])
    }

    fn evolve(&mut self, event: &Event, at_ms: i64) {
        if let Event::UserPoolCreated(created) = event {
            self.state = Some(PoolState {
                id: created.pool_id.clone(),
                settings: created.settings.clone().unwrap_or_default(),
                created_ms: at_ms,
                modified_ms: at_ms,
                log_configurations: Vec::new(),
            });
            return;
        }
        if let Event::UserPoolDeleted(_) = event {
            self.state = None;
            self.deleted = true;
            return;
        }
        let Some(state) = self.state.as_mut() else {
            return;
        };
        match event {
            Event::UserPoolUpdated(updated) => {
                state.settings = updated.settings.clone().unwrap_or_default();
                state.modified_ms = at_ms;
            }
            Event::CustomAttributesAdded(added) => {
                state
                    .settings
                    .schema
                    .extend(added.attributes.iter().cloned());
                state.modified_ms = at_ms;
            }
            Event::UserPoolTagsChanged(changed) => {
                state.settings.user_pool_tags = changed.tags.clone();
            }
            Event::LogDeliveryConfigured(configured) => {
                state.log_configurations = configured.log_configurations.clone();
            }
            Event::UserPoolMfaConfigured(configured) => {
                super::mfa::apply(&mut state.settings, configured);
                state.modified_ms = at_ms;
            }
            _ => {}
        }
    }
}

/// Validates a CreateUserPool request and fills in Cognito's defaults.
fn resolve_settings(mut settings: UserPoolSettings) -> Result<UserPoolSettings, ApiError> {
    validate_username_attributes(&settings)?;
    settings.schema = schema::resolve(&settings.schema)?;
    pool_settings::resolve(settings)
}

/// UpdateUserPool's semantics: every member the request left out goes back to its
/// default, except the pool's name, tier, tags, key and issuer configuration (kept when
/// not given) and what cannot change after creation (schema, user name and alias
/// attributes, case sensitivity), which is always kept.
fn updated_settings(
    current: &UserPoolSettings,
    mut requested: UserPoolSettings,
    replace_tags: bool,
) -> Result<UserPoolSettings, ApiError> {
    if requested.pool_name.is_empty() {
        requested.pool_name.clone_from(&current.pool_name);
    }
    if requested.user_pool_tier.is_empty() {
        requested.user_pool_tier.clone_from(&current.user_pool_tier);
    }
    if !replace_tags {
        requested.user_pool_tags.clone_from(&current.user_pool_tags);
    }
    if requested.key_configuration.is_none() {
        requested
            .key_configuration
            .clone_from(&current.key_configuration);
    }
    if requested.issuer_type.is_empty() {
        requested.issuer_type.clone_from(&current.issuer_type);
    }
    requested.schema.clone_from(&current.schema);
    requested
        .username_attributes
        .clone_from(&current.username_attributes);
    requested
        .alias_attributes
        .clone_from(&current.alias_attributes);
    requested.username_case_sensitive = current.username_case_sensitive;
    // UpdateUserPool has no members for these; SetUserPoolMfaConfig owns them.
    requested
        .software_token_mfa_configuration
        .clone_from(&current.software_token_mfa_configuration);
    requested
        .email_mfa_configuration
        .clone_from(&current.email_mfa_configuration);
    requested
        .web_authn_configuration
        .clone_from(&current.web_authn_configuration);
    pool_settings::resolve(requested)
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
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::given;
    use portcullis_proto::events::v1::{
        LambdaConfig, LambdaVersionConfig, PasswordPolicy, VerificationMessageTemplate,
    };

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

    fn created(settings: UserPoolSettings) -> Vec<Event> {
        given::<Pool>(&[]).decide(&create(settings), &CTX).unwrap()
    }

    fn update(settings: UserPoolSettings) -> PoolCommand {
        PoolCommand::Update {
            settings,
            replace_tags: false,
        }
    }

    fn the_one(events: Vec<Event>) -> Event {
        let [event] = <[Event; 1]>::try_from(events).expect("one event");
        event
    }

    #[test]
    fn given_nothing_when_created_then_cognitos_other_defaults_are_recorded() {
        let Event::UserPoolCreated(created) = the_one(created(named("p"))) else {
            panic!()
        };
        let s = created.settings.unwrap();
        assert_eq!(
            s.sign_in_policy.unwrap().allowed_first_auth_factors,
            ["PASSWORD"]
        );
        assert_eq!(
            s.verification_message_template
                .unwrap()
                .default_email_option,
            "CONFIRM_WITH_CODE"
        );
        assert_eq!(
            s.email_configuration.unwrap().email_sending_account,
            "COGNITO_DEFAULT"
        );
        let recovery = s.account_recovery_setting.unwrap().recovery_mechanisms;
        assert_eq!(recovery[0].name, "verified_phone_number");
        assert_eq!(s.user_pool_tier, "ESSENTIALS");
        assert!(s.lambda_config.is_some());
    }

    #[test]
    fn messages_are_kept_in_step_and_must_hold_the_code() {
        let mut settings = named("p");
        settings.email_verification_message = "Your code: {####}".into();
        settings.verification_message_template = Some(VerificationMessageTemplate {
            sms_message: "Code {####}".into(),
            ..Default::default()
        });
        let Event::UserPoolCreated(created) = the_one(created(settings)) else {
            panic!()
        };
        let s = created.settings.unwrap();
        let t = s.verification_message_template.unwrap();
        assert_eq!(t.email_message, "Your code: {####}");
        assert_eq!(s.sms_verification_message, "Code {####}");

        let mut bad = named("p");
        bad.sms_authentication_message = "no code here".into();
        let err = given::<Pool>(&[]).decide(&create(bad), &CTX).unwrap_err();
        assert_eq!(
            err.message,
            "1 validation error detected: Value 'no code here' at 'smsAuthenticationMessage' failed to satisfy constraint: Member must satisfy regular expression pattern: .*\\{####\\}.*"
        );
    }

    #[test]
    fn lambda_triggers_are_checked() {
        let mut settings = named("p");
        settings.lambda_config = Some(LambdaConfig {
            pre_token_generation_config: Some(LambdaVersionConfig {
                lambda_version: "V9_0".into(),
                lambda_arn: "arn:aws:lambda:us-east-1:123456789012:function:f".into(),
            }),
            ..Default::default()
        });
        let err = given::<Pool>(&[])
            .decide(&create(settings), &CTX)
            .unwrap_err();
        assert!(
            err.message
                .contains("at 'lambdaConfig.preTokenGenerationConfig.lambdaVersion'"),
            "{}",
            err.message
        );
        let mut settings = named("p");
        settings.lambda_config = Some(LambdaConfig {
            pre_sign_up: "not an arn at all".into(),
            ..Default::default()
        });
        assert!(given::<Pool>(&[]).decide(&create(settings), &CTX).is_err());
    }

    #[test]
    fn given_a_pool_when_updated_then_absent_members_reset_and_immutable_ones_stay() {
        let mut settings = named("before");
        settings.mfa_configuration = "OPTIONAL".into();
        settings.username_attributes = vec!["email".into()];
        settings.user_pool_tags = vec![Tag {
            key: "team".into(),
            value: "a".into(),
        }];
        let pool = given::<Pool>(&created(settings));
        let request = UserPoolSettings {
            auto_verified_attributes: vec!["email".into()],
            username_attributes: vec!["phone_number".into()],
            ..Default::default()
        };
        let Event::UserPoolUpdated(updated) = the_one(pool.decide(&update(request), &CTX).unwrap())
        else {
            panic!()
        };
        let s = updated.settings.clone().unwrap();
        assert_eq!(s.pool_name, "before");
        assert_eq!(s.mfa_configuration, "OFF");
        assert_eq!(s.username_attributes, ["email"]);
        assert_eq!(s.auto_verified_attributes, ["email"]);
        assert_eq!(s.user_pool_tags.len(), 1);
        assert_eq!(s.schema[0].name, "sub");

        let mut folded = pool.clone();
        folded.evolve(&Event::UserPoolUpdated(updated), 9_000);
        let state = folded.state.unwrap();
        assert_eq!(state.modified_ms, 9_000);
        assert_eq!(state.created_ms, 1_000);
    }

    #[test]
    fn given_a_protected_pool_when_deleted_then_refused_until_unprotected() {
        let mut settings = named("p");
        settings.deletion_protection = "ACTIVE".into();
        let mut events = created(settings);
        let err = given::<Pool>(&events)
            .decide(&PoolCommand::Delete, &CTX)
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidParameterException);
        assert!(err.message.contains("deletion protection is activated"));

        events.extend(
            given::<Pool>(&events)
                .decide(&update(UserPoolSettings::default()), &CTX)
                .unwrap(),
        );
        events.extend(
            given::<Pool>(&events)
                .decide(&PoolCommand::Delete, &CTX)
                .unwrap(),
        );
        let gone = given::<Pool>(&events);
        assert!(gone.state.is_none() && gone.deleted);
        let err = gone.decide(&PoolCommand::Delete, &CTX).unwrap_err();
        assert_eq!(err.code, ErrorCode::ResourceNotFoundException);
        assert!(gone.decide(&create(named("p")), &CTX).is_err());
    }

    fn custom(name: &str) -> SchemaAttribute {
        SchemaAttribute {
            name: name.into(),
            attribute_data_type: "String".into(),
            mutable: true,
            ..Default::default()
        }
    }

    #[test]
    fn given_a_pool_when_custom_attributes_are_added_then_prefixed_unique_and_capped() {
        let mut events = created(named("p"));
        let added = given::<Pool>(&events)
            .decide(
                &PoolCommand::AddCustomAttributes(vec![custom("tier")]),
                &CTX,
            )
            .unwrap();
        let Event::CustomAttributesAdded(event) = &added[0] else {
            panic!()
        };
        assert_eq!(event.attributes[0].name, "custom:tier");
        events.extend(added);
        let pool = given::<Pool>(&events);
        assert!(
            pool.state
                .as_ref()
                .unwrap()
                .settings
                .schema
                .iter()
                .any(|a| a.name == "custom:tier")
        );
        let err = pool
            .decide(
                &PoolCommand::AddCustomAttributes(vec![custom("tier")]),
                &CTX,
            )
            .unwrap_err();
        assert_eq!(
            err.message,
            "Existing attribute already has name custom:tier."
        );
        let mut required = custom("r");
        required.required = true;
        assert!(
            pool.decide(&PoolCommand::AddCustomAttributes(vec![required]), &CTX)
                .is_err()
        );

        for batch in 0..2 {
            let attrs = (0..25)
                .map(|i| custom(&format!("a{batch}_{i}")))
                .filter(|a| a.name != "a1_24")
                .collect();
            let more = given::<Pool>(&events)
                .decide(&PoolCommand::AddCustomAttributes(attrs), &CTX)
                .unwrap();
            events.extend(more);
        }
        let err = given::<Pool>(&events)
            .decide(
                &PoolCommand::AddCustomAttributes(vec![custom("one_more")]),
                &CTX,
            )
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidParameterException);
        assert!(err.message.contains("at most 50 custom attributes"));
    }

    #[test]
    fn given_tags_when_changed_then_the_full_set_is_recorded_and_no_op_is_silent() {
        let events = created(named("p"));
        let tag = |k: &str, v: &str| Tag {
            key: k.into(),
            value: v.into(),
        };
        let set = PoolCommand::ChangeTags {
            set: vec![tag("b", "2"), tag("a", "1")],
            remove: vec![],
        };
        let changed = given::<Pool>(&events).decide(&set, &CTX).unwrap();
        let Event::UserPoolTagsChanged(event) = &changed[0] else {
            panic!()
        };
        assert_eq!(event.tags, [tag("a", "1"), tag("b", "2")]);
        let pool = given::<Pool>(&[events, changed].concat());
        assert!(pool.decide(&set, &CTX).unwrap().is_empty());
        let remove = PoolCommand::ChangeTags {
            set: vec![],
            remove: vec!["a".into()],
        };
        let Event::UserPoolTagsChanged(event) = the_one(pool.decide(&remove, &CTX).unwrap()) else {
            panic!()
        };
        assert_eq!(event.tags, [tag("b", "2")]);
    }

    #[test]
    fn given_a_pool_when_log_delivery_is_set_then_it_is_stored_as_given() {
        let events = created(named("p"));
        let config = LogConfiguration {
            log_level: "ERROR".into(),
            event_source: "userNotification".into(),
            ..Default::default()
        };
        let set = given::<Pool>(&events)
            .decide(&PoolCommand::SetLogDelivery(vec![config.clone()]), &CTX)
            .unwrap();
        let pool = given::<Pool>(&[events.clone(), set].concat());
        assert_eq!(pool.state.unwrap().log_configurations, [config]);
        let bad = LogConfiguration {
            log_level: "DEBUG".into(),
            event_source: "userNotification".into(),
            ..Default::default()
        };
        let err = given::<Pool>(&events)
            .decide(&PoolCommand::SetLogDelivery(vec![bad]), &CTX)
            .unwrap_err();
        assert!(
            err.message
                .contains("at 'logConfigurations.1.member.logLevel'")
        );
    }
}
