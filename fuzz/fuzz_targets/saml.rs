//! The SAML reader: the XML parser, the canonicalisations, signature verification and
//! the checks of a response (as the federation service reads a posted `SAMLResponse`),
//! identity-provider metadata, and the X.509 reading of the keys metadata carries.
//!
//! Input: a document (the seeds are the signed responses of `shared/saml/testdata`).
//! The response is checked against that directory's provider at the fixtures' time, so
//! signed seeds verify and mutations reach every check behind the signature. The same
//! bytes are also read as a DER certificate, and the response once more by a relying
//! party that takes only encrypted assertions.

#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_saml::c14n::{self, Canonicalization};
use portcullis_saml::key::PublicKey;
use portcullis_saml::xml::Document;
use portcullis_saml::{DecryptionKey, Expectations, IdentityProvider, read_response};
use std::sync::LazyLock;
use time::macros::datetime;

static IDP: LazyLock<IdentityProvider> = LazyLock::new(|| {
    IdentityProvider::from_metadata(include_str!("../../shared/saml/testdata/metadata.xml"))
        .expect("the fixture's metadata reads")
});

/// A relying party's key, for the reading that takes only encrypted assertions.
static KEY: LazyLock<DecryptionKey> = LazyLock::new(|| {
    let issued = portcullis_saml::certificate::self_signed("fuzz", 1_790_000_000_000)
        .expect("a key is made");
    DecryptionKey::from_pkcs8(&issued.pkcs8).expect("the key reads")
});

const METHODS: [&str; 6] = [
    c14n::C14N,
    c14n::C14N_WITH_COMMENTS,
    c14n::C14N_11,
    c14n::C14N_11_WITH_COMMENTS,
    c14n::EXC_C14N,
    c14n::EXC_C14N_WITH_COMMENTS,
];

fuzz_target!(|data: &[u8]| {
    let _ = PublicKey::from_certificate(data);
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let expect = Expectations {
        audiences: &[
            "urn:amazon:webservices",
            "https://signin.aws.amazon.com/saml",
        ],
        recipients: &["https://signin.aws.amazon.com/saml"],
        in_response_to: None,
        now: datetime!(2026-03-01 10:01 UTC),
        skew: time::Duration::minutes(1),
        decryption: None,
    };
    let _ = read_response(text, &IDP, &expect);
    let encrypted = Expectations {
        decryption: Some(&KEY),
        ..expect.clone()
    };
    let _ = read_response(text, &IDP, &encrypted);
    let _ = IdentityProvider::from_metadata(text);

    let Ok(doc) = Document::parse(text) else {
        return;
    };
    let _ = doc.ids();
    let elements: Vec<usize> = (0..data.len())
        .filter(|&id| doc.element(id).is_some())
        .take(8)
        .collect();
    for uri in METHODS {
        let method =
            Canonicalization::from_uri(uri, Some("#default saml ds")).expect("a known method");
        for &id in &elements {
            let omit = elements.last().copied().filter(|&last| last != id);
            let _ = method.apply(&doc, id, omit);
        }
    }
    // The canonical form of a whole document is canonical: reading it back and
    // canonicalising again changes nothing.
    let canonical = Canonicalization::from_uri(c14n::C14N_WITH_COMMENTS, None)
        .expect("a known method")
        .apply(&doc, doc.root(), None);
    let again = std::str::from_utf8(&canonical).expect("canonical XML is UTF-8");
    let reread = Document::parse(again).expect("canonical XML reads back");
    let twice = Canonicalization::from_uri(c14n::C14N_WITH_COMMENTS, None)
        .expect("a known method")
        .apply(&reread, reread.root(), None);
    assert_eq!(canonical, twice, "canonicalisation is idempotent");
});
