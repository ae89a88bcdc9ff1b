//! Event-sourced aggregates, shared by the services that own them (the directory's
//! pools, clients and users; the credentials broker's identity pools, identities and
//! roles).
//!
//! An aggregate decides with pure, synchronous functions: `decide` turns a command into
//! events (or a Cognito-style error), `evolve` folds an event into state; time comes in
//! through [`Ctx`]. Events are the versioned protobuf payloads of `portcullis.events.v1`,
//! so what an aggregate decides is exactly what the log stores and subscribers receive.
//! [`AggregateStore`] loads a stream, decides, and appends with optimistic concurrency,
//! deciding again on a conflict.

pub use portcullis_errors::{ApiError, ErrorCode};
pub use portcullis_proto::events::v1::envelope::Payload as Event;

/// What a decision may depend on besides state and command.
#[derive(Debug, Clone, Copy)]
pub struct Ctx {
    /// Milliseconds since the Unix epoch.
    pub now_ms: i64,
}

/// An event-sourced aggregate.
pub trait Aggregate: Default + Send + 'static {
    /// The aggregate's kind in stream ids (`<pool>/<KIND>/<id>`).
    const KIND: &'static str;
    type Command: Send;

    fn decide(&self, command: &Self::Command, ctx: &Ctx) -> Result<Vec<Event>, ApiError>;

    /// Applies one event that happened at `at_ms`. Never fails: events are facts.
    fn evolve(&mut self, event: &Event, at_ms: i64);
}

/// The stable name of an event, used as its `event_type` and NATS subject token.
pub fn event_type(event: &Event) -> &'static str {
    match event {
        Event::UserPoolCreated(_) => "UserPoolCreated",
        Event::UserPoolClientCreated(_) => "UserPoolClientCreated",
        Event::UserSignedUp(_) => "UserSignedUp",
        Event::UserConfirmed(_) => "UserConfirmed",
        Event::UserPasswordChanged(_) => "UserPasswordChanged",
        Event::UserDisabled(_) => "UserDisabled",
        Event::UserEnabled(_) => "UserEnabled",
        Event::UserDeleted(_) => "UserDeleted",
        Event::UserAttributesUpdated(_) => "UserAttributesUpdated",
        Event::UserAttributesDeleted(_) => "UserAttributesDeleted",
        Event::UserPasswordResetRequired(_) => "UserPasswordResetRequired",
        Event::UserAddedToGroup(_) => "UserAddedToGroup",
        Event::UserRemovedFromGroup(_) => "UserRemovedFromGroup",
        Event::UserSettingsChanged(_) => "UserSettingsChanged",
        Event::UserAttributeUpdatePending(_) => "UserAttributeUpdatePending",
        Event::UserSignedOut(_) => "UserSignedOut",
        Event::UserSessionRevoked(_) => "UserSessionRevoked",
        Event::UserPoolUpdated(_) => "UserPoolUpdated",
        Event::UserPoolDeleted(_) => "UserPoolDeleted",
        Event::CustomAttributesAdded(_) => "CustomAttributesAdded",
        Event::UserPoolTagsChanged(_) => "UserPoolTagsChanged",
        Event::LogDeliveryConfigured(_) => "LogDeliveryConfigured",
        Event::UserPoolClientUpdated(_) => "UserPoolClientUpdated",
        Event::UserPoolClientDeleted(_) => "UserPoolClientDeleted",
        Event::UserPoolClientSecretAdded(_) => "UserPoolClientSecretAdded",
        Event::UserPoolClientSecretDeleted(_) => "UserPoolClientSecretDeleted",
        Event::GroupCreated(_) => "GroupCreated",
        Event::GroupUpdated(_) => "GroupUpdated",
        Event::GroupDeleted(_) => "GroupDeleted",
        Event::UserImportJobCreated(_) => "UserImportJobCreated",
        Event::UserImportJobFileUploaded(_) => "UserImportJobFileUploaded",
        Event::UserImportJobStarted(_) => "UserImportJobStarted",
        Event::UserImportJobProgressed(_) => "UserImportJobProgressed",
        Event::UserImportJobStopRequested(_) => "UserImportJobStopRequested",
        Event::UserImportJobCompleted(_) => "UserImportJobCompleted",
        Event::DeviceConfirmed(_) => "DeviceConfirmed",
        Event::DeviceStatusUpdated(_) => "DeviceStatusUpdated",
        Event::DeviceForgotten(_) => "DeviceForgotten",
        Event::DeviceSignedIn(_) => "DeviceSignedIn",
        Event::UserAuthEventRecorded(_) => "UserAuthEventRecorded",
        Event::UserPoolMfaConfigured(_) => "UserPoolMfaConfigured",
        Event::UserMfaPreferenceChanged(_) => "UserMfaPreferenceChanged",
        Event::UserSoftwareTokenVerified(_) => "UserSoftwareTokenVerified",
        Event::UserPoolDomainCreated(_) => "UserPoolDomainCreated",
        Event::UserPoolDomainUpdated(_) => "UserPoolDomainUpdated",
        Event::UserPoolDomainDeleted(_) => "UserPoolDomainDeleted",
        Event::ResourceServerCreated(_) => "ResourceServerCreated",
        Event::ResourceServerUpdated(_) => "ResourceServerUpdated",
        Event::ResourceServerDeleted(_) => "ResourceServerDeleted",
        Event::UiCustomizationSet(_) => "UiCustomizationSet",
        Event::ManagedLoginBrandingSet(_) => "ManagedLoginBrandingSet",
        Event::ManagedLoginBrandingDeleted(_) => "ManagedLoginBrandingDeleted",
        Event::RiskConfigurationSet(_) => "RiskConfigurationSet",
        Event::UserAuthEventFeedbackGiven(_) => "UserAuthEventFeedbackGiven",
        Event::WafResourceWritten(_) => "WafResourceWritten",
        Event::WafResourceDeleted(_) => "WafResourceDeleted",
        Event::WebAclAssociationSet(_) => "WebAclAssociationSet",
        Event::IdentityPoolCreated(_) => "IdentityPoolCreated",
        Event::IdentityPoolUpdated(_) => "IdentityPoolUpdated",
        Event::IdentityPoolDeleted(_) => "IdentityPoolDeleted",
        Event::IdentityPoolRolesSet(_) => "IdentityPoolRolesSet",
        Event::PrincipalTagMapSet(_) => "PrincipalTagMapSet",
        Event::IdentityPoolTagsChanged(_) => "IdentityPoolTagsChanged",
        Event::IdentityCreated(_) => "IdentityCreated",
        Event::IdentityLoginLinked(_) => "IdentityLoginLinked",
        Event::IdentityLoginUnlinked(_) => "IdentityLoginUnlinked",
        Event::IdentityDeleted(_) => "IdentityDeleted",
        Event::IamRoleCreated(_) => "IamRoleCreated",
        Event::IamRoleDeleted(_) => "IamRoleDeleted",
        Event::IamRolePolicyPut(_) => "IamRolePolicyPut",
        Event::IamRolePolicyDeleted(_) => "IamRolePolicyDeleted",
        Event::IamRoleTrustPolicyUpdated(_) => "IamRoleTrustPolicyUpdated",
        Event::IamOpenIdConnectProviderCreated(_) => "IamOpenIdConnectProviderCreated",
        Event::IamOpenIdConnectProviderDeleted(_) => "IamOpenIdConnectProviderDeleted",
        Event::IamSamlProviderCreated(_) => "IamSamlProviderCreated",
        Event::IamSamlProviderDeleted(_) => "IamSamlProviderDeleted",
        Event::IdentityProviderCreated(_) => "IdentityProviderCreated",
        Event::IdentityProviderUpdated(_) => "IdentityProviderUpdated",
        Event::IdentityProviderDeleted(_) => "IdentityProviderDeleted",
    }
}

/// Given/when/then for aggregates: feed past events, then run a command or inspect the
/// state.
pub fn given<A: Aggregate>(events: &[Event]) -> A {
    let mut state = A::default();
    for event in events {
        state.evolve(event, 1_000);
    }
    state
}

mod store;

pub use store::{AggregateStore, CommandMeta, Executed, Loaded, log_error};
