//! SAML 2.0 for a relying party: reading identity-provider metadata and accepting the
//! signed responses such a provider sends.
//!
//! - [`xml`]: a strict reader that keeps what signatures are computed over.
//! - [`c14n`]: Canonical XML 1.0 and Exclusive Canonicalization 1.0.
//! - [`dsig`]: enveloped XML signatures by one of the provider's keys.
//! - [`metadata`]: the provider's entity id, signing keys and endpoints.
//! - [`response`]: the checks of a `Response` and its assertion.

pub mod c14n;
pub mod dsig;
pub mod key;
pub mod metadata;
pub mod response;
pub mod xml;

pub use metadata::IdentityProvider;
pub use response::{Assertion, Expectations, SamlError, read_response};
