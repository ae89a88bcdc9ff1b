//! A user pool's identity providers, one aggregate for all of them
//! (`<pool>/identityproviders/<pool>`), so that names and `IdpIdentifiers` are unique in
//! the pool by the same optimistic-concurrency check every write passes.
//!
//! Pure: a provider's details come in already checked and completed
//! ([`crate::details`]), since completing them may fetch documents from the network.

use std::collections::BTreeMap;

use portcullis_aggregate::{Aggregate, ApiError, Ctx, ErrorCode, Event};
use portcullis_proto::events::v1::{
    IdentityProvider, IdentityProviderCreated, IdentityProviderDeleted, IdentityProviderUpdated,
};

/// Cognito's quota of identity providers in one pool.
pub const MAX_PROVIDERS: usize = 300;

#[derive(Debug, Default, Clone)]
pub struct PoolProviders {
    /// By provider name.
    pub providers: BTreeMap<String, ProviderState>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ProviderState {
    pub provider: IdentityProvider,
    pub created_ms: i64,
    pub modified_ms: i64,
}

pub enum ProviderCommand {
    Create {
        pool_id: String,
        provider: IdentityProvider,
    },
    /// Members given as `None` keep their values. `provider_type` is the type the
    /// details were checked for: when the provider was replaced by one of another type
    /// meanwhile, the update is refused rather than applied to it.
    Update {
        provider_name: String,
        provider_type: String,
        details: Option<(BTreeMap<String, String>, String)>,
        attribute_mapping: Option<BTreeMap<String, String>>,
        idp_identifiers: Option<Vec<String>>,
    },
    Delete {
        provider_name: String,
    },
}

pub fn duplicate(name: &str, pool_id: &str) -> ApiError {
    ApiError::new(
        ErrorCode::DuplicateProviderException,
        format!("{name} already exists in user pool {pool_id}."),
    )
}

pub fn not_found(name: &str) -> ApiError {
    ApiError::new(
        ErrorCode::ResourceNotFoundException,
        format!("Identity provider {name} does not exist."),
    )
}

impl PoolProviders {
    pub fn get(&self, name: &str) -> Option<&ProviderState> {
        self.providers.get(name)
    }

    pub fn by_identifier(&self, identifier: &str) -> Option<&ProviderState> {
        self.providers.values().find(|p| {
            p.provider
                .idp_identifiers
                .iter()
                .any(|i| i.eq_ignore_ascii_case(identifier))
        })
    }

    /// Refuses identifiers that repeat, or that another provider of the pool has.
    fn check_identifiers(&self, name: &str, identifiers: &[String]) -> Result<(), ApiError> {
        for (i, identifier) in identifiers.iter().enumerate() {
            let repeated = identifiers[..i]
                .iter()
                .any(|other| other.eq_ignore_ascii_case(identifier));
            let taken = self
                .by_identifier(identifier)
                .is_some_and(|p| p.provider.provider_name != name);
            if repeated || taken {
                return Err(ApiError::new(
                    ErrorCode::DuplicateProviderException,
                    format!("Duplicate identifier: {identifier}"),
                ));
            }
        }
        Ok(())
    }
}

impl Aggregate for PoolProviders {
    const KIND: &'static str = "identityproviders";
    type Command = ProviderCommand;

    fn decide(&self, command: &ProviderCommand, _ctx: &Ctx) -> Result<Vec<Event>, ApiError> {
        match command {
            ProviderCommand::Create { pool_id, provider } => {
                let name = &provider.provider_name;
                if self.providers.contains_key(name) {
                    return Err(duplicate(name, pool_id));
                }
                if self.providers.len() >= MAX_PROVIDERS {
                    return Err(ApiError::new(
                        ErrorCode::LimitExceededException,
                        format!("A user pool can have at most {MAX_PROVIDERS} identity providers."),
                    ));
                }
                self.check_identifiers(name, &provider.idp_identifiers)?;
                Ok(vec![Event::IdentityProviderCreated(
                    IdentityProviderCreated {
                        provider: Some(provider.clone()),
                    },
                )])
            }
            ProviderCommand::Update {
                provider_name,
                provider_type,
                details,
                attribute_mapping,
                idp_identifiers,
            } => {
                let current = self
                    .get(provider_name)
                    .ok_or_else(|| not_found(provider_name))?;
                if &current.provider.provider_type != provider_type {
                    return Err(ApiError::new(
                        ErrorCode::ConcurrentModificationException,
                        format!(
                            "Identity provider {provider_name} was replaced while it was being updated."
                        ),
                    ));
                }
                let mut next = current.provider.clone();
                if let Some((details, secret_ref)) = details {
                    next.details = details.clone().into_iter().collect();
                    next.secret_ref.clone_from(secret_ref);
                }
                if let Some(mapping) = attribute_mapping {
                    next.attribute_mapping = mapping.clone().into_iter().collect();
                }
                if let Some(identifiers) = idp_identifiers {
                    self.check_identifiers(provider_name, identifiers)?;
                    next.idp_identifiers.clone_from(identifiers);
                }
                Ok(vec![Event::IdentityProviderUpdated(
                    IdentityProviderUpdated {
                        provider: Some(next),
                    },
                )])
            }
            ProviderCommand::Delete { provider_name } => {
                if !self.providers.contains_key(provider_name) {
                    return Err(not_found(provider_name));
                }
                Ok(vec![Event::IdentityProviderDeleted(
                    IdentityProviderDeleted {
                        provider_name: provider_name.clone(),
                    },
                )])
            }
        }
    }

    fn evolve(&mut self, event: &Event, at_ms: i64) {
        match event {
            Event::IdentityProviderCreated(IdentityProviderCreated {
                provider: Some(provider),
            }) => {
                self.providers.insert(
                    provider.provider_name.clone(),
                    ProviderState {
                        provider: provider.clone(),
                        created_ms: at_ms,
                        modified_ms: at_ms,
                    },
                );
            }
            Event::IdentityProviderUpdated(IdentityProviderUpdated {
                provider: Some(provider),
            }) => {
                if let Some(state) = self.providers.get_mut(&provider.provider_name) {
                    state.provider = provider.clone();
                    state.modified_ms = at_ms;
                }
            }
            Event::IdentityProviderDeleted(deleted) => {
                self.providers.remove(&deleted.provider_name);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use portcullis_aggregate::given;

    const CTX: Ctx = Ctx { now_ms: 1 };

    fn provider(name: &str, identifiers: &[&str]) -> IdentityProvider {
        IdentityProvider {
            provider_name: name.into(),
            provider_type: "SAML".into(),
            details: [("MetadataFile".to_owned(), "<md/>".to_owned())].into(),
            attribute_mapping: Default::default(),
            idp_identifiers: identifiers.iter().map(|s| (*s).to_owned()).collect(),
            secret_ref: String::new(),
        }
    }

    fn create(provider: IdentityProvider) -> ProviderCommand {
        ProviderCommand::Create {
            pool_id: "us-east-1_x".into(),
            provider,
        }
    }

    fn then(events: &[Event], command: ProviderCommand) -> Result<Vec<Event>, ApiError> {
        given::<PoolProviders>(events).decide(&command, &CTX)
    }

    #[test]
    fn names_are_unique_in_the_pool() {
        let events = then(&[], create(provider("Corp", &[]))).unwrap();
        let err = then(&events, create(provider("Corp", &[]))).unwrap_err();
        assert_eq!(err.code, ErrorCode::DuplicateProviderException);
        assert!(then(&events, create(provider("corp", &[]))).is_ok());
    }

    #[test]
    fn identifiers_are_unique_in_the_pool_without_regard_to_case() {
        let events = then(&[], create(provider("Corp", &["example.com"]))).unwrap();
        let err = then(&events, create(provider("Other", &["EXAMPLE.com"]))).unwrap_err();
        assert_eq!(err.code, ErrorCode::DuplicateProviderException);
        let err = then(&[], create(provider("Other", &["a.com", "A.com"]))).unwrap_err();
        assert_eq!(err.code, ErrorCode::DuplicateProviderException);
        // A provider may keep its own identifiers on update.
        let update = ProviderCommand::Update {
            provider_name: "Corp".into(),
            provider_type: "SAML".into(),
            details: None,
            attribute_mapping: None,
            idp_identifiers: Some(vec!["example.com".into(), "example.org".into()]),
        };
        let updated = then(&events, update).unwrap();
        let state = given::<PoolProviders>(&[events, updated].concat());
        assert_eq!(
            state
                .by_identifier("Example.org")
                .unwrap()
                .provider
                .provider_name,
            "Corp"
        );
    }

    #[test]
    fn an_update_keeps_what_it_does_not_name_and_checks_the_type() {
        let events = then(&[], create(provider("Corp", &["x"]))).unwrap();
        let update = |provider_type: &str| ProviderCommand::Update {
            provider_name: "Corp".into(),
            provider_type: provider_type.into(),
            details: None,
            attribute_mapping: Some([("email".to_owned(), "mail".to_owned())].into()),
            idp_identifiers: None,
        };
        let err = then(&events, update("OIDC")).unwrap_err();
        assert_eq!(err.code, ErrorCode::ConcurrentModificationException);
        let updated = then(&events, update("SAML")).unwrap();
        let state = given::<PoolProviders>(&[events, updated].concat());
        let corp = state.get("Corp").unwrap();
        assert_eq!(corp.provider.idp_identifiers, ["x"]);
        assert_eq!(corp.provider.attribute_mapping["email"], "mail");
        assert_eq!(corp.provider.details["MetadataFile"], "<md/>");
    }

    #[test]
    fn missing_providers_are_not_found() {
        let err = then(
            &[],
            ProviderCommand::Delete {
                provider_name: "Corp".into(),
            },
        )
        .unwrap_err();
        assert_eq!(err.code, ErrorCode::ResourceNotFoundException);
        let events = then(&[], create(provider("Corp", &[]))).unwrap();
        let deleted = then(
            &events,
            ProviderCommand::Delete {
                provider_name: "Corp".into(),
            },
        )
        .unwrap();
        assert!(
            given::<PoolProviders>(&[events, deleted].concat())
                .providers
                .is_empty()
        );
    }
}
