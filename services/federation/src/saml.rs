//! Signing in through a SAML 2.0 identity provider, as a service provider: the
//! `AuthnRequest` sent by the HTTP-Redirect binding, and the `Response` posted back to
//! the assertion consumer service (`/saml2/idpresponse`), checked by the shared SAML
//! reader against the provider's metadata and this sign-in's request.
//!
//! The pool is the service provider `urn:amazon:cognito:sp:<pool id>`, as in Cognito.

use std::collections::HashMap;

use aws_lc_rs::digest;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use portcullis_errors::ApiError;
use portcullis_saml::{DecryptionKey, Expectations, IdentityProvider};
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::details::{ENCRYPTION_KEY, METADATA_DOCUMENT};
use crate::oauth::{Identity, OAuth, refused};

/// Clock difference tolerated on the assertion's bounds.
const SKEW: time::Duration = time::Duration::minutes(5);

/// The service provider's entity id for a pool.
pub fn entity_id(pool_id: &str) -> String {
    format!("urn:amazon:cognito:sp:{pool_id}")
}

/// The assertion consumer service that goes with a domain's OAuth callback.
pub fn acs_url(callback_url: &str) -> String {
    match callback_url.strip_suffix("/oauth2/idpresponse") {
        Some(base) => format!("{base}/saml2/idpresponse"),
        None => callback_url.to_owned(),
    }
}

const MD_NS: &str = "urn:oasis:names:tc:SAML:2.0:metadata";
const DS_NS: &str = "http://www.w3.org/2000/09/xmldsig#";

fn key_descriptor(usage: &str, certificate: &str, methods: &[&str]) -> String {
    let methods: String = methods
        .iter()
        .map(|m| format!("<md:EncryptionMethod Algorithm=\"{m}\"/>"))
        .collect();
    format!(
        "<md:KeyDescriptor use=\"{usage}\"><ds:KeyInfo xmlns:ds=\"{DS_NS}\"><ds:X509Data>\
         <ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>{methods}\
         </md:KeyDescriptor>",
        xml_escape(certificate)
    )
}

/// The pool's service-provider metadata at the domain whose paths start at `base`: its
/// entity id, the pool's signing certificate, the consumer and logout services, and,
/// for a provider with encrypted responses, that provider's encryption certificate with
/// the algorithms Portcullis decrypts (the strongest first).
pub fn sp_metadata(
    pool_id: &str,
    base: &str,
    signing_certificate: &str,
    requests_signed: bool,
    encryption_certificate: Option<&str>,
) -> String {
    let mut keys = key_descriptor("signing", signing_certificate, &[]);
    if let Some(certificate) = encryption_certificate {
        keys.push_str(&key_descriptor(
            "encryption",
            certificate,
            &[
                "http://www.w3.org/2009/xmlenc11#aes256-gcm",
                "http://www.w3.org/2009/xmlenc11#aes128-gcm",
                "http://www.w3.org/2001/04/xmlenc#aes256-cbc",
                "http://www.w3.org/2001/04/xmlenc#aes128-cbc",
                "http://www.w3.org/2009/xmlenc11#rsa-oaep",
                "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p",
            ],
        ));
    }
    format!(
        "<md:EntityDescriptor xmlns:md=\"{MD_NS}\" entityID=\"{entity}\">\
         <md:SPSSODescriptor AuthnRequestsSigned=\"{requests_signed}\" WantAssertionsSigned=\"true\" \
         protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\">{keys}\
         <md:SingleLogoutService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect\" \
         Location=\"{logout}\"/>\
         <md:AssertionConsumerService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST\" \
         Location=\"{acs}\" index=\"1\" isDefault=\"true\"/>\
         </md:SPSSODescriptor></md:EntityDescriptor>",
        entity = xml_escape(&entity_id(pool_id)),
        logout = xml_escape(&format!("{base}/saml2/logout")),
        acs = xml_escape(&format!("{base}/saml2/idpresponse")),
    )
}

/// The provider's metadata: the file given, or the document fetched from its URL.
pub fn metadata(
    details: &HashMap<String, String>,
    name: &str,
) -> Result<IdentityProvider, ApiError> {
    let document = details
        .get("MetadataFile")
        .or_else(|| details.get(METADATA_DOCUMENT))
        .map(String::as_str)
        .unwrap_or_default();
    IdentityProvider::from_metadata(document).map_err(|err| {
        tracing::warn!(provider = name, error = %err, "stored SAML metadata unreadable");
        refused(&format!("The identity provider {name} is not usable."))
    })
}

/// The key the provider's assertions are encrypted to, when its `EncryptedResponses` is
/// `true` (then only encrypted assertions are taken).
pub fn decryption_key(
    details: &HashMap<String, String>,
    name: &str,
) -> Result<Option<DecryptionKey>, ApiError> {
    if details
        .get("EncryptedResponses")
        .is_none_or(|v| v != "true")
    {
        return Ok(None);
    }
    let key = details
        .get(ENCRYPTION_KEY)
        .and_then(|text| STANDARD.decode(text).ok())
        .and_then(|der| DecryptionKey::from_pkcs8(&der).ok());
    match key {
        Some(key) => Ok(Some(key)),
        None => {
            tracing::error!(provider = name, "a provider's encryption key is unreadable");
            Err(refused(&format!(
                "The identity provider {name} is not usable."
            )))
        }
    }
}

/// A DEFLATE stream (RFC 1951) of stored blocks: what the HTTP-Redirect binding needs,
/// without compressing (a request is small).
fn deflate_stored(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 5 * (data.len() / 65_535 + 1));
    let mut chunks = data.chunks(65_535).peekable();
    if chunks.peek().is_none() {
        return vec![0x01, 0x00, 0x00, 0xff, 0xff];
    }
    while let Some(chunk) = chunks.next() {
        let last = chunks.peek().is_none();
        out.push(u8::from(last));
        let len = u16::try_from(chunk.len()).unwrap_or(u16::MAX);
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(chunk);
    }
    out
}

/// An `IssueInstant`: RFC 3339 in whole seconds.
fn instant(now: OffsetDateTime) -> Result<String, ApiError> {
    now.replace_nanosecond(0)
        .map_err(|_| ApiError::internal())?
        .format(&Rfc3339)
        .map_err(|_| ApiError::internal())
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('"', "&quot;")
        .replace('>', "&gt;")
}

/// The signature algorithm of signed requests (`RequestSigningAlgorithm` `rsa-sha256`).
pub const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";

/// The HTTP-Redirect query of this sign-in's `AuthnRequest` and state; with `signed`,
/// it ends with `SigAlg`, and the caller appends the `Signature` of exactly this text.
pub fn authn_request_query(
    pool_id: &str,
    sso_url: &str,
    acs: &str,
    request_id: &str,
    relay_state: &str,
    now: OffsetDateTime,
    signed: bool,
) -> Result<String, ApiError> {
    let instant = instant(now)?;
    let xml = format!(
        r#"<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{id}" Version="2.0" IssueInstant="{instant}" Destination="{destination}" AssertionConsumerServiceURL="{acs}" ProtocolBinding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"><saml:Issuer>{issuer}</saml:Issuer><samlp:NameIDPolicy AllowCreate="true"/></samlp:AuthnRequest>"#,
        id = xml_escape(request_id),
        destination = xml_escape(sso_url),
        acs = xml_escape(acs),
        issuer = xml_escape(&entity_id(pool_id)),
    );
    let encoded = STANDARD.encode(deflate_stored(xml.as_bytes()));
    let mut pairs = vec![
        ("SAMLRequest", encoded.as_str()),
        ("RelayState", relay_state),
    ];
    if signed {
        pairs.push(("SigAlg", RSA_SHA256));
    }
    serde_urlencoded::to_string(pairs).map_err(|_| ApiError::internal())
}

/// The provider's single sign-on URL with `query`.
pub fn with_query(sso_url: &str, query: &str) -> String {
    let separator = if sso_url.contains('?') { '&' } else { '?' };
    format!("{sso_url}{separator}{query}")
}

/// The provider's single logout URL with a `LogoutRequest` for `name_id`, the state as
/// `RelayState`, signed by `sign` (the redirect binding's `SigAlg` and `Signature`).
#[allow(clippy::too_many_arguments)]
pub async fn logout_request_url(
    pool_id: &str,
    slo_url: &str,
    request_id: &str,
    name_id: &str,
    session_index: &str,
    relay_state: &str,
    now: OffsetDateTime,
    signer: &dyn crate::oauth::RequestSigner,
) -> Result<String, ApiError> {
    let instant = instant(now)?;
    let session = if session_index.is_empty() {
        String::new()
    } else {
        format!(
            "<samlp:SessionIndex>{}</samlp:SessionIndex>",
            xml_escape(session_index)
        )
    };
    let xml = format!(
        r#"<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{id}" Version="2.0" IssueInstant="{instant}" Destination="{destination}"><saml:Issuer>{issuer}</saml:Issuer><saml:NameID>{name_id}</saml:NameID>{session}</samlp:LogoutRequest>"#,
        id = xml_escape(request_id),
        destination = xml_escape(slo_url),
        issuer = xml_escape(&entity_id(pool_id)),
        name_id = xml_escape(name_id),
    );
    let encoded = STANDARD.encode(deflate_stored(xml.as_bytes()));
    let query = serde_urlencoded::to_string([
        ("SAMLRequest", encoded.as_str()),
        ("RelayState", relay_state),
        ("SigAlg", RSA_SHA256),
    ])
    .map_err(|_| ApiError::internal())?;
    let signature = STANDARD.encode(signer.sign(pool_id, query.as_bytes()).await?);
    let pair = serde_urlencoded::to_string([("Signature", signature.as_str())])
        .map_err(|_| ApiError::internal())?;
    Ok(with_query(slo_url, &format!("{query}&{pair}")))
}

/// A redirect binding's message (DEFLATE, at most 100,000 bytes inflated) as a document
/// whose root is the protocol's `name`.
fn inflated_message(deflated: &[u8], name: &str) -> Result<portcullis_saml::xml::Document, String> {
    let raw = miniz_oxide::inflate::decompress_to_vec_with_limit(deflated, 100_000)
        .map_err(|_| "not DEFLATE, or too large".to_owned())?;
    let xml = String::from_utf8(raw).map_err(|_| "not UTF-8".to_owned())?;
    let doc = portcullis_saml::xml::Document::parse(&xml).map_err(|e| e.to_string())?;
    let is_it = doc
        .element(doc.root())
        .is_some_and(|e| e.is(portcullis_saml::response::PROTOCOL_NS, name));
    if !is_it {
        return Err(format!("not a {name}"));
    }
    Ok(doc)
}

/// Reads a `LogoutResponse` of the HTTP-Redirect binding (DEFLATE, base64): it must
/// answer `request_id` and report success.
pub fn read_logout_response(encoded: &str, request_id: &str) -> Result<(), String> {
    let compact: String = encoded.chars().filter(|c| !c.is_whitespace()).collect();
    let deflated = STANDARD
        .decode(compact)
        .map_err(|_| "not base64".to_owned())?;
    let doc = inflated_message(&deflated, "LogoutResponse")?;
    let root = doc.root();
    let element = doc.element(root).ok_or("no document element")?;
    if element.attr("InResponseTo") != Some(request_id) {
        return Err("answers another request".into());
    }
    let success = doc
        .child_elements(root)
        .filter(|(_, e)| e.is(portcullis_saml::response::PROTOCOL_NS, "Status"))
        .flat_map(|(status, _)| doc.child_elements(status))
        .any(|(_, code)| {
            code.is(portcullis_saml::response::PROTOCOL_NS, "StatusCode")
                && code.attr("Value") == Some("urn:oasis:names:tc:SAML:2.0:status:Success")
        });
    if success {
        Ok(())
    } else {
        Err("the provider reports a failure".into())
    }
}

/// A provider's `LogoutRequest`, as read and verified.
pub struct IncomingLogout {
    pub id: String,
    pub issuer: String,
    pub name_id: String,
    pub relay_state: String,
}

/// The raw (still URL-encoded) value of `name` in a query string.
fn raw_param<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
}

fn url_decoded(raw: &str) -> Option<String> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(&format!("v={raw}")).ok()?;
    pairs.into_iter().next().map(|(_, v)| v)
}

/// A `LogoutRequest` a provider sent by the HTTP-Redirect binding: its query signed
/// (`SigAlg`, `Signature`, over the parameters as sent) by a key of `idp`'s metadata,
/// and the request inflated and read.
pub fn read_logout_request(query: &str, idp: &IdentityProvider) -> Result<IncomingLogout, String> {
    let request = raw_param(query, "SAMLRequest").ok_or("no SAMLRequest")?;
    let relay = raw_param(query, "RelayState");
    let algorithm = raw_param(query, "SigAlg").ok_or("the request is not signed")?;
    let signature = raw_param(query, "Signature").ok_or("the request is not signed")?;
    let mut signed = format!("SAMLRequest={request}");
    if let Some(relay) = relay {
        signed.push_str(&format!("&RelayState={relay}"));
    }
    signed.push_str(&format!("&SigAlg={algorithm}"));
    let algorithm = url_decoded(algorithm)
        .and_then(|uri| portcullis_saml::key::SignatureAlgorithm::from_uri(&uri))
        .ok_or("an unknown signature algorithm")?;
    let signature = url_decoded(signature)
        .and_then(|text| STANDARD.decode(text).ok())
        .ok_or("an unreadable signature")?;
    if !idp
        .signing_keys
        .iter()
        .any(|key| key.verifies(algorithm, signed.as_bytes(), &signature))
    {
        return Err("the signature is not from a signing key of the provider".into());
    }
    let deflated = url_decoded(request)
        .and_then(|text| STANDARD.decode(text).ok())
        .ok_or("the request is not base64")?;
    let doc = inflated_message(&deflated, "LogoutRequest")?;
    let root = doc.root();
    let element = doc.element(root).ok_or("no document element")?;
    let child = |name: &str| {
        doc.child_elements(root)
            .find(|(_, e)| e.is(portcullis_saml::response::ASSERTION_NS, name))
            .map(|(id, _)| doc.text(id).trim().to_owned())
            .unwrap_or_default()
    };
    Ok(IncomingLogout {
        id: element.attr("ID").unwrap_or_default().to_owned(),
        issuer: child("Issuer"),
        name_id: child("NameID"),
        relay_state: relay.and_then(url_decoded).unwrap_or_default(),
    })
}

/// The provider's logout service URL with a signed, successful `LogoutResponse` to its
/// request `in_response_to`.
pub async fn logout_response_url(
    pool_id: &str,
    slo_url: &str,
    in_response_to: &str,
    relay_state: &str,
    now: OffsetDateTime,
    signer: &dyn crate::oauth::RequestSigner,
) -> Result<String, ApiError> {
    let id = format!("_{}", hex::encode(crate::oauth::random_token(16)?));
    let xml = format!(
        r#"<samlp:LogoutResponse xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{id}" Version="2.0" IssueInstant="{instant}" Destination="{destination}" InResponseTo="{answers}"><saml:Issuer>{issuer}</saml:Issuer><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status></samlp:LogoutResponse>"#,
        instant = instant(now)?,
        destination = xml_escape(slo_url),
        answers = xml_escape(in_response_to),
        issuer = xml_escape(&entity_id(pool_id)),
    );
    let encoded = STANDARD.encode(deflate_stored(xml.as_bytes()));
    let mut pairs = vec![("SAMLResponse", encoded.as_str())];
    if !relay_state.is_empty() {
        pairs.push(("RelayState", relay_state));
    }
    pairs.push(("SigAlg", RSA_SHA256));
    let query = serde_urlencoded::to_string(pairs).map_err(|_| ApiError::internal())?;
    let signature = STANDARD.encode(signer.sign(pool_id, query.as_bytes()).await?);
    let pair = serde_urlencoded::to_string([("Signature", signature.as_str())])
        .map_err(|_| ApiError::internal())?;
    Ok(with_query(slo_url, &format!("{query}&{pair}")))
}

impl OAuth {
    /// Checks a posted `SAMLResponse` against the provider's metadata and the request
    /// it answers, remembers its assertion until it expires (a second use is refused),
    /// and reads who signed in.
    pub async fn finish_saml(
        &self,
        provider_name: &str,
        (idp, decryption): (&IdentityProvider, Option<&DecryptionKey>),
        pool_id: &str,
        acs: &str,
        request_id: Option<&str>,
        saml_response: &str,
    ) -> Result<Identity, ApiError> {
        let bad = |why: &str| {
            tracing::info!(provider = provider_name, why, "SAML response refused");
            refused(&format!(
                "The identity provider {provider_name} returned an invalid answer."
            ))
        };
        let compact: String = saml_response
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        let raw = STANDARD.decode(compact).map_err(|_| bad("not base64"))?;
        let xml = String::from_utf8(raw).map_err(|_| bad("not UTF-8"))?;
        let entity = entity_id(pool_id);
        let expect = Expectations {
            audiences: &[entity.as_str()],
            recipients: &[acs],
            in_response_to: request_id,
            now: OffsetDateTime::now_utc(),
            skew: SKEW,
            decryption,
        };
        let assertion = portcullis_saml::read_response(&xml, idp, &expect)
            .map_err(|err| bad(&err.to_string()))?;
        // Each assertion signs in once, until it would have expired anyway.
        let hashed = digest::digest(&digest::SHA256, assertion.id.as_bytes());
        let until = assertion.not_on_or_after.map_or(300, |t| {
            (t - OffsetDateTime::now_utc()).whole_seconds().max(1) + SKEW.whole_seconds()
        });
        let fresh = self
            .ephemeral
            .put_if_absent(
                &format!("federation/assertion/{}", hex::encode(hashed)),
                Bytes::from_static(b"1"),
                std::time::Duration::from_secs(u64::try_from(until).unwrap_or(300)),
            )
            .await
            .map_err(|err| {
                tracing::error!(error = %err, "assertion memory unavailable");
                ApiError::unavailable()
            })?;
        if !fresh {
            return Err(bad("assertion used before"));
        }
        let mut claims = serde_json::Map::new();
        for (name, values) in &assertion.attributes {
            let value = if values.len() == 1 {
                values[0].clone()
            } else {
                values.join(",")
            };
            claims.insert(name.clone(), Value::String(value));
        }
        claims.insert("NameID".into(), Value::String(assertion.name_id.clone()));
        let mut sources = serde_json::Map::new();
        sources.insert("samlResponse".into(), Value::Object(claims.clone()));
        Ok(Identity {
            subject: assertion.name_id,
            issuer: assertion.issuer,
            claims,
            sources,
            session_index: assertion.session_index.unwrap_or_default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Inflates stored blocks only (what [`deflate_stored`] writes).
    fn inflate_stored(mut data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        loop {
            let last = data[0] & 1 == 1;
            assert_eq!(data[0] >> 1, 0, "stored block");
            let len = usize::from(u16::from_le_bytes([data[1], data[2]]));
            let nlen = u16::from_le_bytes([data[3], data[4]]);
            assert_eq!(!nlen as usize, len);
            out.extend_from_slice(&data[5..5 + len]);
            data = &data[5 + len..];
            if last {
                return out;
            }
        }
    }

    fn logout_response(in_response_to: &str, status: &str) -> String {
        let xml = format!(
            r#"<samlp:LogoutResponse xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_r" Version="2.0" InResponseTo="{in_response_to}"><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:{status}"/></samlp:Status></samlp:LogoutResponse>"#
        );
        STANDARD.encode(deflate_stored(xml.as_bytes()))
    }

    #[test]
    fn a_logout_response_must_answer_the_request_and_succeed() {
        assert!(read_logout_response(&logout_response("_req", "Success"), "_req").is_ok());
        let other = read_logout_response(&logout_response("_other", "Success"), "_req");
        assert_eq!(other.unwrap_err(), "answers another request");
        let failed = read_logout_response(&logout_response("_req", "Requester"), "_req");
        assert_eq!(failed.unwrap_err(), "the provider reports a failure");
        assert!(read_logout_response("not base64!", "_req").is_err());
        let plain = STANDARD.encode("<samlp:LogoutResponse/>");
        assert!(read_logout_response(&plain, "_req").is_err());
    }

    #[test]
    fn stored_deflate_round_trips_across_blocks() {
        for size in [0, 10, 65_535, 70_000] {
            let data: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
            assert_eq!(inflate_stored(&deflate_stored(&data)), data);
        }
    }

    #[test]
    fn sp_metadata_names_the_pool_its_services_and_keys() {
        use portcullis_saml::xml::Document;
        let xml = sp_metadata(
            "us-east-1_abc",
            "https://a.example/d?x&y",
            "MIIC",
            true,
            None,
        );
        let doc = Document::parse(&xml).unwrap();
        let root = doc.element(doc.root()).unwrap();
        assert!(root.is(MD_NS, "EntityDescriptor"));
        assert_eq!(
            root.attr("entityID"),
            Some("urn:amazon:cognito:sp:us-east-1_abc")
        );
        let (descriptor, element) = doc.child_elements(doc.root()).next().unwrap();
        assert_eq!(element.attr("AuthnRequestsSigned"), Some("true"));
        let uses: Vec<&str> = doc
            .children_named(descriptor, MD_NS, "KeyDescriptor")
            .filter_map(|k| doc.element(k).and_then(|e| e.attr("use")))
            .collect();
        assert_eq!(uses, ["signing"]);
        let acs = doc
            .children_named(descriptor, MD_NS, "AssertionConsumerService")
            .next()
            .unwrap();
        assert_eq!(
            doc.element(acs).unwrap().attr("Location"),
            Some("https://a.example/d?x&y/saml2/idpresponse")
        );

        let xml = sp_metadata("us-east-1_abc", "https://a", "MIIC", false, Some("MIIE"));
        let doc = Document::parse(&xml).unwrap();
        let (descriptor, _) = doc.child_elements(doc.root()).next().unwrap();
        let keys: Vec<usize> = doc
            .children_named(descriptor, MD_NS, "KeyDescriptor")
            .collect();
        assert_eq!(keys.len(), 2);
        assert_eq!(
            doc.element(keys[1]).unwrap().attr("use"),
            Some("encryption")
        );
        assert!(xml.contains("<ds:X509Certificate>MIIE</ds:X509Certificate>"));
    }

    #[test]
    fn the_request_names_the_pool_and_its_consumer_service() {
        let query = authn_request_query(
            "us-east-1_abc",
            "https://idp.example/sso?x=1",
            "https://auth.example/saml2/idpresponse",
            "_req1",
            "state-1",
            OffsetDateTime::UNIX_EPOCH,
            false,
        )
        .unwrap();
        let url = with_query("https://idp.example/sso?x=1", &query);
        assert!(url.starts_with("https://idp.example/sso?x=1&SAMLRequest="));
        let query = url.split_once('?').unwrap().1;
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap();
        let request = &pairs.iter().find(|(k, _)| k == "SAMLRequest").unwrap().1;
        let xml = String::from_utf8(inflate_stored(&STANDARD.decode(request).unwrap())).unwrap();
        assert!(xml.contains(r#"ID="_req1""#));
        assert!(xml.contains("<saml:Issuer>urn:amazon:cognito:sp:us-east-1_abc</saml:Issuer>"));
        assert!(
            xml.contains(r#"AssertionConsumerServiceURL="https://auth.example/saml2/idpresponse""#)
        );
        assert!(
            pairs
                .iter()
                .any(|(k, v)| k == "RelayState" && v == "state-1")
        );
        assert_eq!(
            acs_url("https://a.example/oauth2/idpresponse"),
            "https://a.example/saml2/idpresponse"
        );
    }
}
