//! A SAML 2.0 `Response` as a relying party accepts it (Web Browser SSO profile): signed
//! by the identity provider (the response, its one assertion, or both), issued by it,
//! successful, meant for this relying party, within its validity window, and with a
//! bearer subject confirmation that has not expired.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::dsig::{SignatureError, verify_enveloped};
use crate::metadata::IdentityProvider;
use crate::xml::{Document, NodeId, XmlError};
use crate::xmlenc::{DecryptError, DecryptionKey};

pub const PROTOCOL_NS: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
pub const ASSERTION_NS: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
const SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";
const BEARER: &str = "urn:oasis:names:tc:SAML:2.0:cm:bearer";
/// The longest response read, in bytes of XML (Cognito caps a `SAMLResponse` at
/// 100,000 characters).
pub const MAX_RESPONSE_LEN: usize = 100_000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SamlError {
    #[error("The SAML response is not well-formed XML: {0}")]
    Xml(#[from] XmlError),
    #[error("The SAML {0} {1}.")]
    Signature(&'static str, SignatureError),
    #[error("The SAML response reports {0}.")]
    Status(String),
    #[error("The SAML assertion could not be decrypted: {0}.")]
    Decryption(#[from] DecryptError),
    #[error("{0}")]
    Invalid(String),
}

fn invalid<T>(message: impl Into<String>) -> Result<T, SamlError> {
    Err(SamlError::Invalid(message.into()))
}

/// What the relying party expects of a response.
#[derive(Debug, Clone)]
pub struct Expectations<'a> {
    /// Entity ids this relying party answers to; every `AudienceRestriction` must name
    /// one of them.
    pub audiences: &'a [&'a str],
    /// Where responses may be addressed (`Destination`, `Recipient`); not checked when
    /// empty.
    pub recipients: &'a [&'a str],
    /// The id of the request this answers (service-provider-initiated sign-in); any, or
    /// none, when `None`.
    pub in_response_to: Option<&'a str>,
    pub now: OffsetDateTime,
    /// Clock difference tolerated at each bound.
    pub skew: time::Duration,
    /// The relying party's key when it takes only encrypted assertions; `None` when it
    /// takes only assertions in the clear.
    pub decryption: Option<&'a DecryptionKey>,
}

/// A verified assertion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assertion {
    pub id: String,
    pub issuer: String,
    pub name_id: String,
    pub name_id_format: Option<String>,
    pub audience: String,
    pub session_index: Option<String>,
    /// Attribute names with their values, in document order, values of repeated names
    /// merged.
    pub attributes: Vec<(String, Vec<String>)>,
    /// When the assertion stops being usable (the earliest bound it states).
    pub not_on_or_after: Option<OffsetDateTime>,
}

impl Assertion {
    #[must_use]
    pub fn attribute(&self, name: &str) -> &[String] {
        self.attributes
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
            .unwrap_or_default()
    }
}

fn time_of(
    doc: &Document,
    id: NodeId,
    attribute: &str,
) -> Result<Option<OffsetDateTime>, SamlError> {
    let Some(value) = doc.element(id).and_then(|e| e.attr(attribute)) else {
        return Ok(None);
    };
    OffsetDateTime::parse(value, &Rfc3339)
        .map(Some)
        .or_else(|_| {
            invalid(format!(
                "The SAML {attribute} '{value}' is not a valid time."
            ))
        })
}

fn attr<'a>(doc: &'a Document, id: NodeId, name: &str) -> Option<&'a str> {
    doc.element(id).and_then(|e| e.attr(name))
}

fn one(doc: &Document, id: NodeId, ns: &str, name: &str) -> Result<Option<NodeId>, SamlError> {
    doc.only_child(id, ns, name)
        .map_err(|e| SamlError::Invalid(format!("The SAML response is malformed: {e}.")))
}

/// Signed or not: an error for a signature that is there and does not verify.
fn signed(
    doc: &Document,
    id: NodeId,
    what: &'static str,
    idp: &IdentityProvider,
) -> Result<bool, SamlError> {
    match verify_enveloped(doc, id, &idp.signing_keys) {
        Ok(()) => Ok(true),
        Err(SignatureError::Unsigned) => Ok(false),
        Err(e) => Err(SamlError::Signature(what, e)),
    }
}

/// Reads and checks a response (the XML, already decoded from base64).
pub fn read_response(
    xml: &str,
    idp: &IdentityProvider,
    expect: &Expectations<'_>,
) -> Result<Assertion, SamlError> {
    if xml.len() > MAX_RESPONSE_LEN {
        return invalid(format!(
            "The SAML response is longer than {MAX_RESPONSE_LEN} bytes."
        ));
    }
    let doc = Document::parse(xml)?;
    let response = doc.root();
    if !doc
        .element(response)
        .is_some_and(|e| e.is(PROTOCOL_NS, "Response"))
    {
        return invalid("The document is not a SAML 2.0 Response.");
    }
    if attr(&doc, response, "Version") != Some("2.0") {
        return invalid("The SAML response is not of version 2.0.");
    }
    let status = one(&doc, response, PROTOCOL_NS, "Status")?
        .and_then(|s| one(&doc, s, PROTOCOL_NS, "StatusCode").ok().flatten())
        .and_then(|c| attr(&doc, c, "Value"));
    if status != Some(SUCCESS) {
        return Err(SamlError::Status(
            status.map_or_else(|| "no status".to_owned(), |s| format!("status {s}")),
        ));
    }
    let response_signed = signed(&doc, response, "response", idp)?;
    if let Some(issuer) = one(&doc, response, ASSERTION_NS, "Issuer")? {
        check_issuer(&doc.text(issuer), idp)?;
    }
    if let Some(destination) = attr(&doc, response, "Destination") {
        check_recipient(destination, expect, "Destination")?;
    }
    if let (Some(expected), Some(actual)) =
        (expect.in_response_to, attr(&doc, response, "InResponseTo"))
        && expected != actual
    {
        return invalid("The SAML response answers another request.");
    }
    let mut encrypted = doc.children_named(response, ASSERTION_NS, "EncryptedAssertion");
    let mut assertions = doc.children_named(response, ASSERTION_NS, "Assertion");
    let Some(key) = expect.decryption else {
        if encrypted.next().is_some() {
            return invalid("Encrypted SAML assertions are not accepted.");
        }
        let (Some(assertion), None) = (assertions.next(), assertions.next()) else {
            return invalid("A SAML response must hold exactly one assertion.");
        };
        let assertion_signed = signed(&doc, assertion, "assertion", idp)?;
        if !response_signed && !assertion_signed {
            return invalid("The SAML response and its assertion are not signed.");
        }
        return read_assertion(&doc, assertion, idp, expect);
    };
    let (Some(container), None, None) = (encrypted.next(), encrypted.next(), assertions.next())
    else {
        return invalid("A SAML response must hold exactly one encrypted assertion.");
    };
    let plain = crate::xmlenc::decrypt(&doc, container, key)?;
    let inner = Document::parse(&in_context(&plain, &doc.in_scope(container)))
        .map_err(|_| DecryptError("the decrypted content is not XML"))?;
    let mut children = inner.child_elements(inner.root());
    let (Some((assertion, element)), None) = (children.next(), children.next()) else {
        return Err(DecryptError("the decrypted content is not one element").into());
    };
    if !element.is(ASSERTION_NS, "Assertion") {
        return Err(DecryptError("the decrypted content is not an assertion").into());
    }
    let assertion_signed = signed(&inner, assertion, "assertion", idp)?;
    if !response_signed && !assertion_signed {
        return invalid("The SAML response and its assertion are not signed.");
    }
    read_assertion(&inner, assertion, idp, expect)
}

/// A decrypted element as a document of its own, inside a wrapper that declares the
/// namespaces in scope where its `EncryptedAssertion` stood (the element may use them).
fn in_context(plain: &str, scope: &std::collections::BTreeMap<String, String>) -> String {
    let mut plain = plain.trim_start_matches('\u{feff}').trim_start();
    if plain.starts_with("<?xml")
        && let Some(end) = plain.find("?>")
    {
        plain = &plain[end + 2..];
    }
    let mut wrapped = String::from("<decrypted");
    for (prefix, uri) in scope {
        let uri = uri
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('"', "&quot;");
        if prefix.is_empty() {
            wrapped.push_str(&format!(" xmlns=\"{uri}\""));
        } else {
            wrapped.push_str(&format!(" xmlns:{prefix}=\"{uri}\""));
        }
    }
    wrapped.push('>');
    wrapped.push_str(plain);
    wrapped.push_str("</decrypted>");
    wrapped
}

fn check_issuer(issuer: &str, idp: &IdentityProvider) -> Result<(), SamlError> {
    if !idp.entity_id.is_empty() && issuer.trim() != idp.entity_id {
        return invalid(format!(
            "The SAML issuer '{}' is not the identity provider's entity id.",
            issuer.trim()
        ));
    }
    Ok(())
}

fn check_recipient(value: &str, expect: &Expectations<'_>, what: &str) -> Result<(), SamlError> {
    if !expect.recipients.is_empty() && !expect.recipients.contains(&value) {
        return invalid(format!("The SAML {what} '{value}' is not this service."));
    }
    Ok(())
}

fn read_assertion(
    doc: &Document,
    assertion: NodeId,
    idp: &IdentityProvider,
    expect: &Expectations<'_>,
) -> Result<Assertion, SamlError> {
    if attr(doc, assertion, "Version") != Some("2.0") {
        return invalid("The SAML assertion is not of version 2.0.");
    }
    let id = attr(doc, assertion, "ID").unwrap_or_default().to_owned();
    let Some(issuer) = one(doc, assertion, ASSERTION_NS, "Issuer")? else {
        return invalid("The SAML assertion has no issuer.");
    };
    let issuer = doc.text(issuer).trim().to_owned();
    check_issuer(&issuer, idp)?;
    let (early, late) = (expect.now + expect.skew, expect.now - expect.skew);
    let mut not_on_or_after: Option<OffsetDateTime> = None;
    let mut bound = |t: OffsetDateTime| {
        not_on_or_after = Some(not_on_or_after.map_or(t, |n| n.min(t)));
    };

    // Conditions: the window and the audience.
    let Some(conditions) = one(doc, assertion, ASSERTION_NS, "Conditions")? else {
        return invalid("The SAML assertion has no conditions.");
    };
    if time_of(doc, conditions, "NotBefore")?.is_some_and(|t| t > early) {
        return invalid("The SAML assertion is not valid yet.");
    }
    if let Some(t) = time_of(doc, conditions, "NotOnOrAfter")? {
        if t <= late {
            return invalid("The SAML assertion has expired.");
        }
        bound(t);
    }
    let mut audience = None;
    for restriction in doc.children_named(conditions, ASSERTION_NS, "AudienceRestriction") {
        let found = doc
            .children_named(restriction, ASSERTION_NS, "Audience")
            .map(|a| doc.text(a).trim().to_owned())
            .find(|a| expect.audiences.contains(&a.as_str()));
        match found {
            Some(a) => {
                audience.get_or_insert(a);
            }
            None => return invalid("The SAML assertion is meant for another audience."),
        }
    }
    let Some(audience) = audience else {
        return invalid("The SAML assertion names no audience.");
    };

    // The subject, confirmed by a bearer confirmation that is still good.
    let Some(subject) = one(doc, assertion, ASSERTION_NS, "Subject")? else {
        return invalid("The SAML assertion has no subject.");
    };
    let Some(name_id) = one(doc, subject, ASSERTION_NS, "NameID")? else {
        return invalid("The SAML assertion's subject has no NameID.");
    };
    let name_id_format = attr(doc, name_id, "Format").map(str::to_owned);
    let name_id = doc.text(name_id).trim().to_owned();
    if name_id.is_empty() {
        return invalid("The SAML assertion's NameID is empty.");
    }
    let mut confirmed = None;
    for confirmation in doc.children_named(subject, ASSERTION_NS, "SubjectConfirmation") {
        if attr(doc, confirmation, "Method") != Some(BEARER) {
            continue;
        }
        let Some(data) = one(doc, confirmation, ASSERTION_NS, "SubjectConfirmationData")? else {
            continue;
        };
        let Some(until) = time_of(doc, data, "NotOnOrAfter")? else {
            continue;
        };
        if until <= late {
            return invalid("The SAML assertion's subject confirmation has expired.");
        }
        if let Some(recipient) = attr(doc, data, "Recipient") {
            check_recipient(recipient, expect, "Recipient")?;
        }
        if let (Some(expected), Some(actual)) =
            (expect.in_response_to, attr(doc, data, "InResponseTo"))
            && expected != actual
        {
            return invalid("The SAML assertion answers another request.");
        }
        confirmed = Some(until);
        break;
    }
    let Some(until) = confirmed else {
        return invalid("The SAML assertion has no bearer subject confirmation with an expiry.");
    };
    bound(until);

    let mut session_index = None;
    for statement in doc.children_named(assertion, ASSERTION_NS, "AuthnStatement") {
        if let Some(t) = time_of(doc, statement, "SessionNotOnOrAfter")? {
            if t <= late {
                return invalid("The SAML session has ended.");
            }
            bound(t);
        }
        if session_index.is_none() {
            session_index = attr(doc, statement, "SessionIndex").map(str::to_owned);
        }
    }

    let mut attributes: Vec<(String, Vec<String>)> = Vec::new();
    for statement in doc.children_named(assertion, ASSERTION_NS, "AttributeStatement") {
        for attribute in doc.children_named(statement, ASSERTION_NS, "Attribute") {
            let name = attr(doc, attribute, "Name").unwrap_or_default().to_owned();
            if name.is_empty() {
                continue;
            }
            let values: Vec<String> = doc
                .children_named(attribute, ASSERTION_NS, "AttributeValue")
                .map(|v| doc.text(v))
                .collect();
            match attributes.iter_mut().find(|(n, _)| *n == name) {
                Some((_, existing)) => existing.extend(values),
                None => attributes.push((name, values)),
            }
        }
    }

    Ok(Assertion {
        id,
        issuer,
        name_id,
        name_id_format,
        audience,
        session_index,
        attributes,
        not_on_or_after,
    })
}
