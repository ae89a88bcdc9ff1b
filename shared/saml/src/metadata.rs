//! SAML 2.0 metadata of an identity provider: its entity id, the keys it signs with and
//! where it takes sign-in and sign-out requests.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::dsig::DSIG_NS;
use crate::key::PublicKey;
use crate::xml::{Document, NodeId};

pub const METADATA_NS: &str = "urn:oasis:names:tc:SAML:2.0:metadata";
pub const HTTP_REDIRECT: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";
pub const HTTP_POST: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct MetadataError(pub String);

/// An endpoint: its binding URI and location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub binding: String,
    pub location: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityProvider {
    pub entity_id: String,
    pub signing_keys: Vec<PublicKey>,
    pub single_sign_on: Vec<Endpoint>,
    pub single_logout: Vec<Endpoint>,
    pub want_authn_requests_signed: bool,
}

impl IdentityProvider {
    /// Reads the first identity provider of a metadata document (an `EntityDescriptor`,
    /// or an `EntitiesDescriptor` holding them). It must have a signing key.
    pub fn from_metadata(text: &str) -> Result<Self, MetadataError> {
        let doc = Document::parse(text).map_err(|e| MetadataError(e.to_string()))?;
        let root = doc.root();
        let entity = if element_is(&doc, root, "EntityDescriptor") {
            Some(root)
        } else if element_is(&doc, root, "EntitiesDescriptor") {
            doc.children_named(root, METADATA_NS, "EntityDescriptor")
                .find(|&e| idp_descriptor(&doc, e).is_some())
        } else {
            None
        };
        let Some(entity) = entity else {
            return Err(MetadataError(
                "the document is not SAML 2.0 metadata of an identity provider".into(),
            ));
        };
        let entity_id = doc
            .element(entity)
            .and_then(|e| e.attr("entityID"))
            .unwrap_or_default()
            .to_owned();
        let Some(idp) = idp_descriptor(&doc, entity) else {
            return Err(MetadataError("the metadata has no IDPSSODescriptor".into()));
        };
        let mut signing_keys = Vec::new();
        for descriptor in doc.children_named(idp, METADATA_NS, "KeyDescriptor") {
            let usage = doc
                .element(descriptor)
                .and_then(|e| e.attr("use"))
                .unwrap_or("signing");
            if usage != "signing" {
                continue;
            }
            for certificate in certificates(&doc, descriptor) {
                let der = STANDARD
                    .decode(certificate.replace(|c: char| c.is_ascii_whitespace(), ""))
                    .map_err(|_| MetadataError("a certificate is not base64".into()))?;
                let key =
                    PublicKey::from_certificate(&der).map_err(|e| MetadataError(e.to_string()))?;
                signing_keys.push(key);
            }
        }
        if signing_keys.is_empty() {
            return Err(MetadataError(
                "the metadata has no signing certificate".into(),
            ));
        }
        let endpoints = |name: &'static str| -> Vec<Endpoint> {
            doc.children_named(idp, METADATA_NS, name)
                .filter_map(|n| doc.element(n))
                .map(|e| Endpoint {
                    binding: e.attr("Binding").unwrap_or_default().to_owned(),
                    location: e.attr("Location").unwrap_or_default().to_owned(),
                })
                .collect()
        };
        Ok(Self {
            entity_id,
            signing_keys,
            single_sign_on: endpoints("SingleSignOnService"),
            single_logout: endpoints("SingleLogoutService"),
            want_authn_requests_signed: doc
                .element(idp)
                .and_then(|e| e.attr("WantAuthnRequestsSigned"))
                .is_some_and(|v| v == "true" || v == "1"),
        })
    }
}

fn element_is(doc: &Document, id: NodeId, name: &str) -> bool {
    doc.element(id).is_some_and(|e| e.is(METADATA_NS, name))
}

fn idp_descriptor(doc: &Document, entity: NodeId) -> Option<NodeId> {
    doc.children_named(entity, METADATA_NS, "IDPSSODescriptor")
        .next()
}

/// The base64 text of the `ds:X509Certificate`s in a key descriptor.
fn certificates(doc: &Document, descriptor: NodeId) -> Vec<String> {
    doc.children_named(descriptor, DSIG_NS, "KeyInfo")
        .flat_map(|info| {
            doc.children_named(info, DSIG_NS, "X509Data")
                .collect::<Vec<_>>()
        })
        .flat_map(|data| {
            doc.children_named(data, DSIG_NS, "X509Certificate")
                .collect::<Vec<_>>()
        })
        .map(|c| doc.text(c))
        .collect()
}
