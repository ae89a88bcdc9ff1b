//! Responses signed by other implementations (xmlsec1 and signxml; `testdata/generate.py`)
//! verify, and altered, rewrapped, misaddressed or stale ones do not.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use portcullis_saml::dsig::SignatureError;
use portcullis_saml::key::PublicKey;
use portcullis_saml::{Expectations, IdentityProvider, SamlError, read_response};
use time::macros::datetime;

fn fixture(name: &str) -> String {
    let path = format!("{}/testdata/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn idp() -> IdentityProvider {
    IdentityProvider::from_metadata(&fixture("metadata.xml")).unwrap()
}

const AUDIENCES: &[&str] = &[
    "urn:amazon:webservices",
    "https://signin.aws.amazon.com/saml",
];
const RECIPIENTS: &[&str] = &["https://signin.aws.amazon.com/saml"];

fn expect_at(now: time::OffsetDateTime) -> Expectations<'static> {
    Expectations {
        audiences: AUDIENCES,
        recipients: RECIPIENTS,
        in_response_to: None,
        now,
        skew: time::Duration::minutes(1),
        decryption: None,
    }
}

fn expect() -> Expectations<'static> {
    expect_at(datetime!(2026-03-01 10:01 UTC))
}

fn read(xml: &str) -> Result<portcullis_saml::Assertion, SamlError> {
    read_response(xml, &idp(), &expect())
}

const SIGNED: [&str; 6] = [
    "assertion-exc-signxml.xml",
    "assertion-exc.xml",
    "assertion-ecdsa.xml",
    "assertion-c14n10.xml",
    "response-exc.xml",
    "response-c14n11.xml",
];

#[test]
fn metadata_gives_the_entity_its_keys_and_endpoints() {
    let idp = idp();
    assert_eq!(idp.entity_id, "https://idp.example.com/saml");
    assert_eq!(idp.signing_keys.len(), 2);
    assert!(matches!(idp.signing_keys[0], PublicKey::Rsa(_)));
    assert!(matches!(idp.signing_keys[1], PublicKey::Ec { .. }));
    assert_eq!(
        idp.single_sign_on[0].location,
        "https://idp.example.com/sso"
    );
    assert!(!idp.want_authn_requests_signed);
    for bad in [
        "<EntityDescriptor xmlns='urn:oasis:names:tc:SAML:2.0:metadata' entityID='x'/>",
        "<a/>",
        "not xml",
    ] {
        assert!(IdentityProvider::from_metadata(bad).is_err(), "{bad}");
    }
}

#[test]
fn every_signing_form_verifies_and_reads() {
    for name in SIGNED {
        let assertion = read(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(assertion.name_id, "alice@example.com", "{name}");
        assert_eq!(assertion.issuer, "https://idp.example.com/saml");
        assert_eq!(assertion.audience, "urn:amazon:webservices");
        assert_eq!(assertion.session_index.as_deref(), Some("_s1"));
        assert_eq!(assertion.attribute("department"), ["a & b"]);
        assert_eq!(assertion.attribute("groups"), ["x", "y"]);
        assert_eq!(
            assertion.attribute("https://aws.amazon.com/SAML/Attributes/Role"),
            ["arn:aws:iam::000000000000:role/reader,arn:aws:iam::000000000000:saml-provider/corp"]
        );
        assert_eq!(
            assertion.not_on_or_after,
            Some(datetime!(2026-03-01 10:05 UTC))
        );
    }
}

#[test]
fn another_providers_key_does_not_verify() {
    let other = IdentityProvider::from_metadata(&fixture("metadata-other.xml")).unwrap();
    for name in SIGNED {
        let err = read_response(&fixture(name), &other, &expect()).unwrap_err();
        assert!(
            matches!(err, SamlError::Signature(_, SignatureError::WrongKey)),
            "{name}: {err}"
        );
    }
}

#[test]
fn altered_content_is_refused() {
    for name in SIGNED {
        let xml = fixture(name).replace(">alice@example.com<", ">mallory@example.com<");
        let err = read(&xml).unwrap_err();
        assert!(
            matches!(err, SamlError::Signature(_, SignatureError::Altered)),
            "{name}: {err}"
        );
        // A changed attribute value, and a changed digest in the signed part.
        let xml = fixture(name).replace("a &amp; b", "admins");
        assert!(read(&xml).is_err(), "{name}");
        let xml = fixture(name).replacen("<ds:DigestValue>", "<ds:DigestValue>AAAA", 1);
        assert!(read(&xml).is_err(), "{name}");
    }
}

#[test]
fn a_signature_elsewhere_vouches_for_nothing_else() {
    let signed = fixture("assertion-exc.xml");
    let start = signed.find("<saml:Assertion").unwrap();
    let end = signed.find("</saml:Assertion>").unwrap() + "</saml:Assertion>".len();
    let genuine = &signed[start..end];
    let forged = genuine
        .replace(">alice@example.com<", ">mallory@example.com<")
        .replace("ID=\"_a1\"", "ID=\"_evil\"");
    let forged = forged[..forged.find("<ds:Signature").unwrap()].to_owned()
        + &forged[forged.find("</ds:Signature>").unwrap() + "</ds:Signature>".len()..];

    // A second assertion beside the signed one.
    let two = signed.replace(genuine, &format!("{forged}{genuine}"));
    assert!(read(&two).is_err());
    // The signed one hidden in an extension, the forged one in its place.
    let hidden = signed.replace(
        genuine,
        &format!("<samlp:Extensions>{genuine}</samlp:Extensions>{forged}"),
    );
    let err = read(&hidden).unwrap_err();
    assert!(err.to_string().contains("not signed"), "{err}");
    // The forged one taking the signed one's ID.
    let same_id = signed.replace(
        genuine,
        &format!(
            "<samlp:Extensions>{genuine}</samlp:Extensions>{}",
            forged.replace("_evil", "_a1")
        ),
    );
    assert!(read(&same_id).is_err());
}

#[test]
fn the_enveloped_signature_transform_comes_first() {
    // A canonicalization before it would hand it octets, which it cannot take: such a
    // signature never verifies, and xmlsec1 refuses it (found by `differential.rs`).
    let enveloped =
        "<ds:Transform Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature\"/>";
    let signed = fixture("assertion-exc.xml");
    assert!(signed.contains(&format!("<ds:Transforms>{enveloped}")));
    let swapped = signed
        .replace(enveloped, "")
        .replace("</ds:Transforms>", &format!("{enveloped}</ds:Transforms>"));
    let err = read(&swapped).unwrap_err();
    assert!(
        matches!(err, SamlError::Signature(_, SignatureError::Malformed(_))),
        "{err}"
    );
}

#[test]
fn a_comment_inside_a_value_does_not_cut_it_short() {
    // Canonicalization leaves comments out, so the signature still verifies; the value
    // read must be the whole signed text, not the part before the comment.
    for name in SIGNED {
        let xml = fixture(name).replace(">alice@example.com<", ">alice@example.com<!---->.evil<");
        let err = read(&xml).unwrap_err();
        assert!(
            matches!(err, SamlError::Signature(_, SignatureError::Altered)),
            "{name}: {err}"
        );
        let xml = fixture(name).replace(">alice@example.com<", ">alice@<!-- x -->example.com<");
        assert_eq!(read(&xml).unwrap().name_id, "alice@example.com", "{name}");
    }
}

#[test]
fn unsigned_and_failed_responses_are_refused() {
    let signed = fixture("response-exc.xml");
    let start = signed.find("<ds:Signature").unwrap();
    let end = signed.find("</ds:Signature>").unwrap() + "</ds:Signature>".len();
    let unsigned = format!("{}{}", &signed[..start], &signed[end..]);
    let err = read(&unsigned).unwrap_err();
    assert!(err.to_string().contains("not signed"), "{err}");

    // Only the assertion is signed: the status is the response's own.
    let failed = fixture("assertion-exc.xml").replace("status:Success", "status:Responder");
    assert!(matches!(read(&failed), Err(SamlError::Status(_))));
}

#[test]
fn time_audience_and_recipient_are_checked() {
    let xml = fixture("assertion-exc.xml");
    let idp = idp();
    let early = read_response(&xml, &idp, &expect_at(datetime!(2026-03-01 09:57 UTC)));
    assert!(early.unwrap_err().to_string().contains("not valid yet"));
    let late = read_response(&xml, &idp, &expect_at(datetime!(2026-03-01 10:06:01 UTC)));
    assert!(late.unwrap_err().to_string().contains("expired"));
    // Within the skew at both ends.
    assert!(read_response(&xml, &idp, &expect_at(datetime!(2026-03-01 09:58:30 UTC))).is_ok());
    assert!(read_response(&xml, &idp, &expect_at(datetime!(2026-03-01 10:05:30 UTC))).is_ok());

    let elsewhere = Expectations {
        audiences: &["https://sp.example.org"],
        ..expect()
    };
    let err = read_response(&xml, &idp, &elsewhere).unwrap_err();
    assert!(err.to_string().contains("another audience"), "{err}");
    let misaddressed = Expectations {
        recipients: &["https://sp.example.org/acs"],
        ..expect()
    };
    let err = read_response(&xml, &idp, &misaddressed).unwrap_err();
    assert!(err.to_string().contains("Destination"), "{err}");
    let answering = Expectations {
        in_response_to: Some("_request"),
        ..expect()
    };
    // An unsolicited response (no InResponseTo) is the caller's to allow or refuse.
    assert!(read_response(&xml, &idp, &answering).is_ok());
}

#[test]
fn oversized_responses_are_not_read() {
    let padded = fixture("assertion-exc.xml").replace(
        "</samlp:Response>",
        &format!("<!--{}--></samlp:Response>", " ".repeat(100_000)),
    );
    let err = read(&padded).unwrap_err();
    assert!(err.to_string().contains("longer than"), "{err}");
}

#[test]
fn wrong_issuer_is_refused() {
    let mut idp = idp();
    idp.entity_id = "https://other.example.com".into();
    let err = read_response(&fixture("assertion-exc.xml"), &idp, &expect()).unwrap_err();
    assert!(err.to_string().contains("issuer"), "{err}");
}
