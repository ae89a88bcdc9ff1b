//! The IAM subset identity pools rely on: roles (trust policy, inline policies, session
//! length) and the OpenID Connect and SAML providers roles and pools trust.
//!
//! Each role and provider is an aggregate in the `iam` scope of the log; listings read an
//! in-memory [`index`] folded from the log.

pub mod grpc;
mod index;
pub mod providers;
pub mod role;
mod roles;
mod store;
#[cfg(test)]
mod tests;
pub mod validate;

/// The stream scope of every IAM aggregate.
pub const SCOPE: &str = "iam";

pub use roles::{Page, RoleDef, RoleInput};
pub use store::{OidcProviderDef, OidcProviders, Roles, SamlProviderDef, SamlProviders};
