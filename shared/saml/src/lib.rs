//! SAML 2.0 for a relying party: reading identity-provider metadata and accepting the
//! signed responses such a provider sends.
//!
//! - [`xml`]: a strict reader that keeps what signatures are computed over.
//! - [`c14n`]: Canonical XML 1.0 and Exclusive Canonicalization 1.0.
//! - [`dsig`]: enveloped XML signatures by one of the provider's keys.
//! - [`metadata`]: the provider's entity id, signing keys and endpoints.
//! - [`response`]: the checks of a `Response` and its assertion.
//! - [`xmlenc`]: decryption of an `EncryptedAssertion` (RSA-OAEP key transport, AES).
//! - [`certificate`]: a self-signed certificate for the relying party's own keys.

pub mod c14n;
pub mod certificate;
pub mod dsig;
pub mod key;
pub mod metadata;
pub mod response;
pub mod xml;
pub mod xmlenc;

pub use metadata::IdentityProvider;
pub use response::{Assertion, Expectations, SamlError, read_response};
pub use xmlenc::DecryptionKey;
