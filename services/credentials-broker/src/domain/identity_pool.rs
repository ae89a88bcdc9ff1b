//! An identity pool: which providers may sign in, whether guests may, its roles and role
//! mappings, how provider claims become principal tags, and its tags.

use std::collections::{BTreeMap, HashMap};

use portcullis_proto::events::v1::{
    IdentityPoolCreated, IdentityPoolDeleted, IdentityPoolRolesSet, IdentityPoolSettings,
    IdentityPoolTagsChanged, IdentityPoolUpdated, PrincipalTagMapSet, RoleMapping,
};

use super::validate::{self, length, pattern};
use super::{Aggregate, ApiError, Ctx, Event};

#[derive(Debug, Default, Clone)]
pub struct IdentityPool {
    pub state: Option<PoolState>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PoolState {
    pub id: String,
    pub settings: IdentityPoolSettings,
    pub tags: HashMap<String, String>,
    pub roles: HashMap<String, String>,
    pub role_mappings: HashMap<String, RoleMapping>,
    /// Provider name -> (use defaults, tag key -> claim).
    pub tag_maps: BTreeMap<String, (bool, HashMap<String, String>)>,
    pub created_ms: i64,
}

pub enum PoolCommand {
    Create {
        id: String,
        settings: IdentityPoolSettings,
        tags: HashMap<String, String>,
    },
    Update {
        settings: IdentityPoolSettings,
        tags: Option<HashMap<String, String>>,
    },
    Delete,
    SetRoles {
        roles: HashMap<String, String>,
        role_mappings: HashMap<String, RoleMapping>,
    },
    SetTagMap {
        provider: String,
        use_defaults: bool,
        tags: HashMap<String, String>,
    },
    Tag(HashMap<String, String>),
    Untag(Vec<String>),
}

/// Cognito's limit of tags on a resource.
pub const MAX_TAGS: usize = 50;
/// Rules in one `Rules` role mapping.
pub const MAX_RULES: usize = 25;

pub fn pool_not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("IdentityPool '{id}' not found."))
}

impl Aggregate for IdentityPool {
    const KIND: &'static str = "identitypool";
    type Command = PoolCommand;

    fn decide(&self, command: &PoolCommand, _ctx: &Ctx) -> Result<Vec<Event>, ApiError> {
        let state = match (command, &self.state) {
            (PoolCommand::Create { id, settings, tags }, None) => {
                validate_settings(settings)?;
                validate_tags(tags)?;
                return Ok(vec![Event::IdentityPoolCreated(IdentityPoolCreated {
                    identity_pool_id: id.clone(),
                    settings: Some(settings.clone()),
                    tags: tags.clone(),
                })]);
            }
            (PoolCommand::Create { id, .. }, Some(_)) => {
                return Err(ApiError::new(
                    super::ErrorCode::ResourceConflictException,
                    format!("IdentityPool '{id}' already exists."),
                ));
            }
            (_, None) => return Err(ApiError::not_found("IdentityPool not found.")),
            (_, Some(state)) => state,
        };
        let id = state.id.clone();
        match command {
            // Both cases were answered above.
            PoolCommand::Create { .. } => Ok(Vec::new()),
            PoolCommand::Update { settings, tags } => {
                validate_settings(settings)?;
                let old = &state.settings.developer_provider_name;
                if !old.is_empty() && *old != settings.developer_provider_name {
                    return Err(ApiError::invalid_parameter(
                        "Developer provider name cannot be changed once set.",
                    ));
                }
                let mut events = vec![Event::IdentityPoolUpdated(IdentityPoolUpdated {
                    identity_pool_id: id.clone(),
                    settings: Some(settings.clone()),
                })];
                if let Some(tags) = tags {
                    validate_tags(tags)?;
                    if *tags != state.tags {
                        events.push(tags_changed(&id, tags.clone()));
                    }
                }
                Ok(events)
            }
            PoolCommand::Delete => Ok(vec![Event::IdentityPoolDeleted(IdentityPoolDeleted {
                identity_pool_id: id,
            })]),
            PoolCommand::SetRoles {
                roles,
                role_mappings,
            } => {
                validate_roles(roles, role_mappings)?;
                Ok(vec![Event::IdentityPoolRolesSet(IdentityPoolRolesSet {
                    identity_pool_id: id,
                    roles: roles.clone(),
                    role_mappings: role_mappings.clone(),
                })])
            }
            PoolCommand::SetTagMap {
                provider,
                use_defaults,
                tags,
            } => {
                length(provider, "identityProviderName", 1, 128)?;
                validate_principal_tags(tags)?;
                Ok(vec![Event::PrincipalTagMapSet(PrincipalTagMapSet {
                    identity_pool_id: id,
                    provider_name: provider.clone(),
                    use_defaults: *use_defaults,
                    principal_tags: tags.clone(),
                })])
            }
            PoolCommand::Tag(added) => {
                let mut tags = state.tags.clone();
                tags.extend(added.iter().map(|(k, v)| (k.clone(), v.clone())));
                validate_tags(&tags)?;
                Ok(if tags == state.tags {
                    Vec::new()
                } else {
                    vec![tags_changed(&id, tags)]
                })
            }
            PoolCommand::Untag(keys) => {
                let mut tags = state.tags.clone();
                for key in keys {
                    tags.remove(key);
                }
                Ok(if tags == state.tags {
                    Vec::new()
                } else {
                    vec![tags_changed(&id, tags)]
                })
            }
        }
    }

    fn evolve(&mut self, event: &Event, at_ms: i64) {
        match event {
            Event::IdentityPoolCreated(created) => {
                self.state = Some(PoolState {
                    id: created.identity_pool_id.clone(),
                    settings: created.settings.clone().unwrap_or_default(),
                    tags: created.tags.clone(),
                    roles: HashMap::new(),
                    role_mappings: HashMap::new(),
                    tag_maps: BTreeMap::new(),
                    created_ms: at_ms,
                });
            }
            Event::IdentityPoolUpdated(updated) => {
                if let Some(state) = &mut self.state {
                    state.settings = updated.settings.clone().unwrap_or_default();
                }
            }
            Event::IdentityPoolDeleted(_) => self.state = None,
            Event::IdentityPoolRolesSet(set) => {
                if let Some(state) = &mut self.state {
                    state.roles = set.roles.clone();
                    state.role_mappings = set.role_mappings.clone();
                }
            }
            Event::PrincipalTagMapSet(set) => {
                if let Some(state) = &mut self.state {
                    state.tag_maps.insert(
                        set.provider_name.clone(),
                        (set.use_defaults, set.principal_tags.clone()),
                    );
                }
            }
            Event::IdentityPoolTagsChanged(changed) => {
                if let Some(state) = &mut self.state {
                    state.tags = changed.tags.clone();
                }
            }
            _ => {}
        }
    }
}

fn tags_changed(id: &str, tags: HashMap<String, String>) -> Event {
    Event::IdentityPoolTagsChanged(IdentityPoolTagsChanged {
        identity_pool_id: id.to_owned(),
        tags,
    })
}

/// Checks a pool's configuration against the model's constraints.
pub fn validate_settings(settings: &IdentityPoolSettings) -> Result<(), ApiError> {
    let name = &settings.identity_pool_name;
    length(name, "identityPoolName", 1, 128)?;
    pattern(name, "identityPoolName", r"[\w\s+=,.@-]+", |c| {
        c.is_alphanumeric() || c == '_' || c.is_whitespace() || "+=,.@-".contains(c)
    })?;
    if settings.supported_login_providers.len() > 10 {
        return Err(validate::too_many("supportedLoginProviders", 10));
    }
    for (provider, app_id) in &settings.supported_login_providers {
        length(provider, "supportedLoginProviders", 1, 128)?;
        length(app_id, "supportedLoginProviders", 1, 128)?;
        pattern(app_id, "supportedLoginProviders", r"[\w.;_/-]+", |c| {
            c.is_alphanumeric() || "_.;/-".contains(c)
        })?;
        if !validate::SOCIAL_PROVIDERS.contains(&provider.as_str()) {
            return Err(ApiError::invalid_parameter(format!(
                "Invalid login provider: {provider}"
            )));
        }
    }
    let developer = &settings.developer_provider_name;
    if !developer.is_empty() {
        length(developer, "developerProviderName", 1, 128)?;
        pattern(developer, "developerProviderName", r"[\w._-]+", |c| {
            c.is_alphanumeric() || "_.-".contains(c)
        })?;
        if validate::SOCIAL_PROVIDERS.contains(&developer.as_str())
            || developer.starts_with("cognito-")
        {
            return Err(ApiError::invalid_parameter(format!(
                "Developer provider name {developer} is reserved."
            )));
        }
    }
    for (i, provider) in settings.cognito_identity_providers.iter().enumerate() {
        let at = format!("cognitoIdentityProviders.{}.member", i + 1);
        length(
            &provider.provider_name,
            &format!("{at}.providerName"),
            1,
            128,
        )?;
        pattern(
            &provider.provider_name,
            &format!("{at}.providerName"),
            r"[\w._:/-]+",
            |c| c.is_alphanumeric() || "_.:/-".contains(c),
        )?;
        length(&provider.client_id, &format!("{at}.clientId"), 1, 128)?;
        pattern(
            &provider.client_id,
            &format!("{at}.clientId"),
            r"[\w_]+",
            |c| c.is_alphanumeric() || c == '_',
        )?;
        if crate::logins::user_pool_of(&provider.provider_name).is_none() {
            return Err(ApiError::invalid_parameter(format!(
                "Invalid Cognito Identity Provider: {}",
                provider.provider_name
            )));
        }
    }
    for arn in settings
        .open_id_connect_provider_arns
        .iter()
        .chain(&settings.saml_provider_arns)
    {
        length(arn, "providerArn", 20, 2048)?;
    }
    for arn in &settings.open_id_connect_provider_arns {
        if !arn.starts_with("arn:aws:iam::") || !arn.contains(":oidc-provider/") {
            return Err(ApiError::invalid_parameter(format!(
                "Invalid OpenIdConnect provider ARN: {arn}"
            )));
        }
    }
    for arn in &settings.saml_provider_arns {
        if !arn.starts_with("arn:aws:iam::") || !arn.contains(":saml-provider/") {
            return Err(ApiError::invalid_parameter(format!(
                "Invalid SAML provider ARN: {arn}"
            )));
        }
    }
    Ok(())
}

pub fn validate_tags(tags: &HashMap<String, String>) -> Result<(), ApiError> {
    if tags.len() > MAX_TAGS {
        return Err(validate::too_many("tags", MAX_TAGS));
    }
    for (key, value) in tags {
        length(key, "tags", 1, 128)?;
        length(value, "tags", 0, 256)?;
        if key.starts_with("aws:") {
            return Err(ApiError::invalid_parameter(
                "Tag keys starting with 'aws:' are reserved for system use.",
            ));
        }
    }
    Ok(())
}

fn validate_principal_tags(tags: &HashMap<String, String>) -> Result<(), ApiError> {
    if tags.len() > 50 {
        return Err(validate::too_many("principalTags", 50));
    }
    for (key, claim) in tags {
        length(key, "principalTags", 1, 128)?;
        length(claim, "principalTags", 1, 256)?;
    }
    Ok(())
}

fn validate_roles(
    roles: &HashMap<String, String>,
    mappings: &HashMap<String, RoleMapping>,
) -> Result<(), ApiError> {
    for (kind, arn) in roles {
        if kind != "authenticated" && kind != "unauthenticated" {
            return Err(ApiError::invalid_parameter(format!(
                "1 validation error detected: Value '{kind}' at 'roles' failed to satisfy constraint: Map keys must satisfy constraint: [Member must satisfy regular expression pattern: (un)?authenticated]"
            )));
        }
        validate_role_arn(arn)?;
    }
    if mappings.len() > 10 {
        return Err(validate::too_many("roleMappings", 10));
    }
    for (provider, mapping) in mappings {
        length(provider, "roleMappings", 1, 128)?;
        match mapping.r#type.as_str() {
            "Token" => {
                if !mapping.rules.is_empty() {
                    return Err(ApiError::invalid_parameter(
                        "RulesConfiguration can only be set when the role mapping type is Rules.",
                    ));
                }
            }
            "Rules" => {
                if mapping.rules.is_empty() {
                    return Err(ApiError::invalid_parameter(
                        "RulesConfiguration is required when the role mapping type is Rules.",
                    ));
                }
                if mapping.rules.len() > MAX_RULES {
                    return Err(ApiError::invalid_parameter(format!(
                        "A role mapping can have at most {MAX_RULES} rules."
                    )));
                }
                for rule in &mapping.rules {
                    length(&rule.claim, "claim", 1, 64)?;
                    length(&rule.value, "value", 1, 128)?;
                    if !matches!(
                        rule.match_type.as_str(),
                        "Equals" | "Contains" | "StartsWith" | "NotEqual"
                    ) {
                        return Err(validate::enum_error(
                            &rule.match_type,
                            "matchType",
                            "[Equals, Contains, StartsWith, NotEqual]",
                        ));
                    }
                    validate_role_arn(&rule.role_arn)?;
                }
            }
            other => {
                return Err(validate::enum_error(other, "type", "[Token, Rules]"));
            }
        }
        match mapping.ambiguous_role_resolution.as_str() {
            "AuthenticatedRole" | "Deny" => {}
            "" => {
                return Err(ApiError::invalid_parameter(
                    "AmbiguousRoleResolution must be specified when the role mapping type is Token or Rules.",
                ));
            }
            other => {
                return Err(validate::enum_error(
                    other,
                    "ambiguousRoleResolution",
                    "[AuthenticatedRole, Deny]",
                ));
            }
        }
    }
    Ok(())
}

fn validate_role_arn(arn: &str) -> Result<(), ApiError> {
    length(arn, "roleARN", 20, 2048)?;
    if !arn.starts_with("arn:aws:iam::") || !arn.contains(":role/") {
        return Err(ApiError::invalid_parameter(format!(
            "Invalid role ARN: {arn}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use portcullis_proto::events::v1::MappingRule;

    use super::*;
    use crate::domain::given;

    const ID: &str = "us-east-1:5b4fe6c4-7a49-4b16-9b6f-0d3f4a2a1c11";
    const CTX: Ctx = Ctx { now_ms: 5_000 };

    fn settings(name: &str) -> IdentityPoolSettings {
        IdentityPoolSettings {
            identity_pool_name: name.into(),
            allow_unauthenticated_identities: true,
            ..Default::default()
        }
    }

    fn created() -> Vec<Event> {
        IdentityPool::default()
            .decide(
                &PoolCommand::Create {
                    id: ID.into(),
                    settings: settings("my pool"),
                    tags: HashMap::new(),
                },
                &CTX,
            )
            .unwrap()
    }

    #[test]
    fn a_pool_is_created_with_its_settings() {
        let pool: IdentityPool = given(&created());
        let state = pool.state.unwrap();
        assert_eq!(state.id, ID);
        assert_eq!(state.settings.identity_pool_name, "my pool");
        assert!(state.settings.allow_unauthenticated_identities);
    }

    #[test]
    fn names_outside_the_pattern_are_refused() {
        let err = IdentityPool::default()
            .decide(
                &PoolCommand::Create {
                    id: ID.into(),
                    settings: settings("bad/name"),
                    tags: HashMap::new(),
                },
                &CTX,
            )
            .unwrap_err();
        assert!(err.message.contains("identityPoolName"), "{}", err.message);
    }

    #[test]
    fn unknown_social_providers_and_bad_user_pool_names_are_refused() {
        let mut s = settings("p");
        s.supported_login_providers
            .insert("example.com".into(), "app".into());
        assert!(validate_settings(&s).is_err());
        let mut s = settings("p");
        s.supported_login_providers
            .insert("accounts.google.com".into(), "123.apps".into());
        assert!(validate_settings(&s).is_ok());
        s.cognito_identity_providers
            .push(portcullis_proto::events::v1::CognitoIdentityProvider {
                provider_name: "cognito-idp.us-east-1.amazonaws.com/not-a-pool".into(),
                client_id: "abc".into(),
                server_side_token_check: false,
            });
        assert!(validate_settings(&s).is_err());
    }

    #[test]
    fn the_developer_provider_name_cannot_change_once_set() {
        let mut s = settings("p");
        s.developer_provider_name = "login.example".into();
        let mut events = created();
        events.push(Event::IdentityPoolUpdated(IdentityPoolUpdated {
            identity_pool_id: ID.into(),
            settings: Some(s.clone()),
        }));
        let pool: IdentityPool = given(&events);
        s.developer_provider_name = "other.example".into();
        let err = pool
            .decide(
                &PoolCommand::Update {
                    settings: s,
                    tags: None,
                },
                &CTX,
            )
            .unwrap_err();
        assert!(err.message.contains("cannot be changed"));
    }

    #[test]
    fn role_mappings_are_checked() {
        let pool: IdentityPool = given(&created());
        let role = "arn:aws:iam::000000000000:role/reader".to_owned();
        let rules = RoleMapping {
            r#type: "Rules".into(),
            ambiguous_role_resolution: "Deny".into(),
            rules: vec![MappingRule {
                claim: "cognito:groups".into(),
                match_type: "Contains".into(),
                value: "admins".into(),
                role_arn: role.clone(),
            }],
        };
        let set = |mapping: RoleMapping| {
            pool.decide(
                &PoolCommand::SetRoles {
                    roles: [("authenticated".to_owned(), role.clone())].into(),
                    role_mappings: [("provider".to_owned(), mapping)].into(),
                },
                &CTX,
            )
        };
        assert!(set(rules.clone()).is_ok());
        let mut no_rules = rules.clone();
        no_rules.rules.clear();
        assert!(set(no_rules).is_err());
        let mut bad_match = rules.clone();
        bad_match.rules[0].match_type = "Regex".into();
        assert!(set(bad_match).is_err());
        let mut no_resolution = rules.clone();
        no_resolution.ambiguous_role_resolution.clear();
        assert!(set(no_resolution).is_err());
        let mut too_many = rules;
        too_many.rules = vec![too_many.rules[0].clone(); MAX_RULES + 1];
        assert!(set(too_many).is_err());
    }

    #[test]
    fn tags_are_merged_and_removed() {
        let mut events = created();
        let pool: IdentityPool = given(&events);
        events.extend(
            pool.decide(
                &PoolCommand::Tag([("team".to_owned(), "a".to_owned())].into()),
                &CTX,
            )
            .unwrap(),
        );
        let pool: IdentityPool = given(&events);
        assert_eq!(pool.state.as_ref().unwrap().tags["team"], "a");
        let untag = pool
            .decide(&PoolCommand::Untag(vec!["team".into()]), &CTX)
            .unwrap();
        events.extend(untag);
        let pool: IdentityPool = given(&events);
        assert!(pool.state.unwrap().tags.is_empty());
        let reserved = IdentityPool::default().decide(
            &PoolCommand::Create {
                id: ID.into(),
                settings: settings("p"),
                tags: [("aws:x".to_owned(), "v".to_owned())].into(),
            },
            &CTX,
        );
        assert!(reserved.is_err());
    }
}
