//! The names of a pool's identity providers, read from the federation service's
//! stream of them (`<pool>/identityproviders/<pool>`): what an app client's
//! `SupportedIdentityProviders` may name. A read-only view: it has no commands.

use std::collections::BTreeSet;

use portcullis_proto::events::v1::IdentityProviderCreated;

use super::{Aggregate, ApiError, Ctx, Event};

#[derive(Debug, Default, Clone)]
pub struct ProviderNames {
    pub names: BTreeSet<String>,
}

impl Aggregate for ProviderNames {
    const KIND: &'static str = "identityproviders";
    type Command = std::convert::Infallible;

    fn decide(&self, command: &Self::Command, _ctx: &Ctx) -> Result<Vec<Event>, ApiError> {
        match *command {}
    }

    fn evolve(&mut self, event: &Event, _at_ms: i64) {
        match event {
            Event::IdentityProviderCreated(IdentityProviderCreated {
                provider: Some(provider),
            }) => {
                self.names.insert(provider.provider_name.clone());
            }
            Event::IdentityProviderDeleted(deleted) => {
                self.names.remove(&deleted.provider_name);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use portcullis_aggregate::given;
    use portcullis_proto::events::v1::{IdentityProvider, IdentityProviderDeleted};

    #[test]
    fn names_come_and_go_with_their_providers() {
        let created = |name: &str| {
            Event::IdentityProviderCreated(IdentityProviderCreated {
                provider: Some(IdentityProvider {
                    provider_name: name.into(),
                    ..Default::default()
                }),
            })
        };
        let events = [
            created("Google"),
            created("Corp"),
            Event::IdentityProviderDeleted(IdentityProviderDeleted {
                provider_name: "Google".into(),
            }),
        ];
        let names = given::<ProviderNames>(&events).names;
        assert_eq!(names.into_iter().collect::<Vec<_>>(), ["Corp"]);
    }
}
