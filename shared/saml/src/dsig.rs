//! XML signatures as SAML uses them: one `ds:Signature` inside the element it signs,
//! with one reference to that element by its `ID`, the enveloped-signature transform
//! and a canonicalization.
//!
//! Anything more general is refused rather than half-understood: other reference URIs,
//! several references, XPath or XSLT transforms, keys taken from the message. A caller
//! reads only the element whose signature verified, which is what keeps signature
//! wrapping out: a signature elsewhere in the document vouches for nothing else.

use aws_lc_rs::digest;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use subtle::ConstantTimeEq;

use crate::c14n::{Canonicalization, EXC_C14N, Method};
use crate::key::{PublicKey, SignatureAlgorithm};
use crate::xml::{Document, NodeId};

pub const DSIG_NS: &str = "http://www.w3.org/2000/09/xmldsig#";
const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("it is not signed")]
    Unsigned,
    #[error("its signature is malformed: {0}")]
    Malformed(&'static str),
    #[error("its signature uses an algorithm that is not accepted: {0}")]
    Unsupported(String),
    #[error("it was changed after it was signed")]
    Altered,
    #[error("its signature is not from a signing key of the identity provider")]
    WrongKey,
}

fn digest_algorithm(uri: &str) -> Option<&'static digest::Algorithm> {
    Some(match uri {
        "http://www.w3.org/2001/04/xmlenc#sha256" => &digest::SHA256,
        "http://www.w3.org/2001/04/xmldsig-more#sha384" => &digest::SHA384,
        "http://www.w3.org/2001/04/xmlenc#sha512" => &digest::SHA512,
        _ => return None,
    })
}

fn base64(text: &str) -> Result<Vec<u8>, SignatureError> {
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    STANDARD
        .decode(compact)
        .map_err(|_| SignatureError::Malformed("a value is not base64"))
}

/// The one child of `id` named `ds:<name>`.
fn required(doc: &Document, id: NodeId, name: &'static str) -> Result<NodeId, SignatureError> {
    doc.only_child(id, DSIG_NS, name)
        .map_err(SignatureError::Malformed)?
        .ok_or(SignatureError::Malformed(name))
}

fn algorithm(doc: &Document, id: NodeId) -> &str {
    doc.element(id)
        .and_then(|e| e.attr("Algorithm"))
        .unwrap_or_default()
}

/// The canonicalization a `CanonicalizationMethod` or `Transform` element names.
fn canonicalization(doc: &Document, id: NodeId) -> Option<Canonicalization> {
    let prefixes = doc
        .children_named(id, EXC_C14N, "InclusiveNamespaces")
        .next()
        .and_then(|n| doc.element(n))
        .and_then(|e| e.attr("PrefixList"));
    Canonicalization::from_uri(algorithm(doc, id), prefixes)
}

/// Verifies the signature `element` carries over itself against `keys`.
pub fn verify_enveloped(
    doc: &Document,
    element: NodeId,
    keys: &[PublicKey],
) -> Result<(), SignatureError> {
    let signature = doc
        .only_child(element, DSIG_NS, "Signature")
        .map_err(SignatureError::Malformed)?
        .ok_or(SignatureError::Unsigned)?;
    let signed_info = required(doc, signature, "SignedInfo")?;

    let c14n_method = required(doc, signed_info, "CanonicalizationMethod")?;
    let signed_info_c14n = canonicalization(doc, c14n_method)
        .ok_or_else(|| SignatureError::Unsupported(algorithm(doc, c14n_method).to_owned()))?;
    let signature_method = required(doc, signed_info, "SignatureMethod")?;
    let signature_algorithm = SignatureAlgorithm::from_uri(algorithm(doc, signature_method))
        .ok_or_else(|| SignatureError::Unsupported(algorithm(doc, signature_method).to_owned()))?;

    let mut references = doc.children_named(signed_info, DSIG_NS, "Reference");
    let (Some(reference), None) = (references.next(), references.next()) else {
        return Err(SignatureError::Malformed(
            "there must be exactly one reference",
        ));
    };
    let id = doc
        .element(element)
        .and_then(|e| e.attr("ID"))
        .filter(|id| !id.is_empty())
        .ok_or(SignatureError::Malformed("the signed element has no ID"))?;
    let ids = doc.ids().map_err(SignatureError::Malformed)?;
    let uri = doc
        .element(reference)
        .and_then(|e| e.attr("URI"))
        .unwrap_or_default();
    if uri.strip_prefix('#') != Some(id) || ids.get(id) != Some(&element) {
        return Err(SignatureError::Malformed(
            "the reference is not to the element that carries the signature",
        ));
    }

    // Transforms: the enveloped signature, then at most one canonicalization; without
    // one, Canonical XML 1.0 turns the node set into octets. In the other order the
    // canonicalization would hand octets to the enveloped-signature transform, which
    // takes a node set: such a signature never verifies (xmlsec1 refuses it too).
    let transforms = doc
        .only_child(reference, DSIG_NS, "Transforms")
        .map_err(SignatureError::Malformed)?;
    let mut transforms = transforms
        .into_iter()
        .flat_map(|t| doc.children_named(t, DSIG_NS, "Transform"));
    if transforms
        .next()
        .is_none_or(|t| algorithm(doc, t) != ENVELOPED)
    {
        return Err(SignatureError::Malformed(
            "the reference's first transform is not the enveloped signature",
        ));
    }
    let reference_c14n = match transforms.next() {
        Some(t) => Some(
            canonicalization(doc, t)
                .ok_or_else(|| SignatureError::Unsupported(algorithm(doc, t).to_owned()))?,
        ),
        None => None,
    };
    if let Some(t) = transforms.next() {
        return Err(SignatureError::Unsupported(algorithm(doc, t).to_owned()));
    }
    // A same-document reference leaves comments out, whatever the algorithm says.
    let reference_c14n = Canonicalization {
        comments: false,
        ..reference_c14n.unwrap_or(Canonicalization {
            method: Method::Inclusive { v11: false },
            comments: false,
        })
    };
    let digest_method = required(doc, reference, "DigestMethod")?;
    let digest_algorithm = digest_algorithm(algorithm(doc, digest_method))
        .ok_or_else(|| SignatureError::Unsupported(algorithm(doc, digest_method).to_owned()))?;
    let expected_digest = base64(&doc.text(required(doc, reference, "DigestValue")?))?;
    let signature_value = base64(&doc.text(required(doc, signature, "SignatureValue")?))?;

    let signed_bytes = signed_info_c14n.apply(doc, signed_info, None);
    if !keys
        .iter()
        .any(|key| key.verifies(signature_algorithm, &signed_bytes, &signature_value))
    {
        return Err(SignatureError::WrongKey);
    }
    let content = reference_c14n.apply(doc, element, Some(signature));
    let digest = digest::digest(digest_algorithm, &content);
    if !bool::from(digest.as_ref().ct_eq(&expected_digest)) {
        return Err(SignatureError::Altered);
    }
    Ok(())
}
