//! The directory's aggregates, pure and synchronous: `decide` turns a command into
//! events (or a Cognito-style error), `evolve` folds an event into state. Nothing here
//! does I/O; time and ids come in through [`Ctx`].
//!
//! Events are the versioned protobuf payloads of `portcullis.events.v1`, so what the
//! domain decides is exactly what the log stores and subscribers receive.

pub mod branding;
pub mod client;
pub mod client_rules;
pub mod device;
pub mod group;
pub mod import_job;
pub mod import_row;
pub mod mfa;
pub mod pool;
pub mod pool_domain;
pub mod pool_settings;
pub mod provider_names;
pub mod resource_server;
pub mod risk_configuration;
pub mod schema;
pub mod ui_customization;
pub mod user;
pub mod waf;

pub use portcullis_aggregate::{Aggregate, Ctx, Event, event_type};
pub use portcullis_errors::{ApiError, ErrorCode};

/// Given/when/then for aggregates: feed past events, run a command, inspect the result.
#[cfg(test)]
pub(crate) use portcullis_aggregate::given;

#[cfg(test)]
mod kinds {
    use super::Aggregate;

    /// Other services drop what they cached about a pool or a user when the log records
    /// one of these kinds; a kind renamed here must be renamed there.
    #[test]
    fn the_kinds_other_services_watch_are_the_directorys() {
        let configuration = [
            super::pool::Pool::KIND,
            super::client::Client::KIND,
            super::group::Group::KIND,
            super::pool_domain::PoolDomains::KIND,
            super::ui_customization::UiCustomization::KIND,
            super::branding::Branding::KIND,
            super::resource_server::ResourceServer::KIND,
            super::risk_configuration::RiskConfigurationAggregate::KIND,
            super::waf::WafResource::KIND,
            super::waf::WebAclAssociation::KIND,
        ];
        assert_eq!(portcullis_types::POOL_CONFIGURATION_KINDS, configuration);
        assert_eq!(portcullis_types::USER_KINDS, [super::user::User::KIND]);
    }
}
