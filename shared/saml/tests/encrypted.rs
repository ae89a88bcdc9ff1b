//! Encrypted assertions: a signed assertion (signed by xmlsec1, `testdata/generate.py`)
//! encrypted here as an identity provider does it — AES-GCM or AES-CBC under a fresh
//! key, that key RSA-OAEP encrypted to the relying party — reads like the clear one;
//! altered, unsigned, misdirected or weakly wrapped ones do not.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use aws_lc_rs::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::cipher::{EncryptionContext, PaddedBlockEncryptingKey, UnboundCipherKey};
use aws_lc_rs::rsa::{
    OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256, OaepAlgorithm, OaepPublicEncryptingKey,
    PrivateDecryptingKey,
};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use portcullis_saml::certificate::self_signed;
use portcullis_saml::{DecryptionKey, Expectations, IdentityProvider, SamlError, read_response};
use time::macros::datetime;

fn fixture(name: &str) -> String {
    let path = format!("{}/testdata/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The relying party's key pair: PKCS#8 for decrypting, the public key for the test's
/// identity provider.
fn key_pair() -> (Vec<u8>, OaepPublicEncryptingKey) {
    let pkcs8 = self_signed("us-east-1_test", 1_790_000_000_000)
        .unwrap()
        .pkcs8;
    let public = PrivateDecryptingKey::from_pkcs8(&pkcs8)
        .unwrap()
        .public_key();
    (pkcs8, OaepPublicEncryptingKey::new(public).unwrap())
}

enum Data {
    Gcm256,
    Cbc128,
}

enum Transport {
    Mgf1pSha1,
    Oaep11Sha256,
    Pkcs1,
}

struct Encryption {
    data: Data,
    transport: Transport,
    /// The `EncryptedKey` beside the `EncryptedData` rather than in its `KeyInfo`.
    key_beside: bool,
}

fn random<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    aws_lc_rs::rand::fill(&mut bytes).unwrap();
    bytes
}

fn wrap_key(
    public: &OaepPublicEncryptingKey,
    algorithm: &'static OaepAlgorithm,
    key: &[u8],
) -> Vec<u8> {
    let mut out = vec![0u8; public.ciphertext_size()];
    public
        .encrypt(algorithm, key, &mut out, None)
        .unwrap()
        .to_vec()
}

/// `<saml:EncryptedAssertion>` holding `assertion`.
fn encrypt(assertion: &str, public: &OaepPublicEncryptingKey, how: &Encryption) -> String {
    let (data_uri, key, cipher_text) = match how.data {
        Data::Gcm256 => {
            let key: [u8; 32] = random();
            let nonce: [u8; 12] = random();
            let sealing = LessSafeKey::new(UnboundKey::new(&aead::AES_256_GCM, &key).unwrap());
            let mut body = assertion.as_bytes().to_vec();
            sealing
                .seal_in_place_append_tag(
                    Nonce::assume_unique_for_key(nonce),
                    Aad::empty(),
                    &mut body,
                )
                .unwrap();
            let mut all = nonce.to_vec();
            all.extend(body);
            (
                "http://www.w3.org/2009/xmlenc11#aes256-gcm",
                key.to_vec(),
                all,
            )
        }
        Data::Cbc128 => {
            let key: [u8; 16] = random();
            let iv: [u8; 16] = random();
            let encrypting = PaddedBlockEncryptingKey::cbc_pkcs7(
                UnboundCipherKey::new(&aws_lc_rs::cipher::AES_128, &key).unwrap(),
            )
            .unwrap();
            let mut body = assertion.as_bytes().to_vec();
            encrypting
                .less_safe_encrypt(&mut body, EncryptionContext::Iv128(iv.into()))
                .unwrap();
            let mut all = iv.to_vec();
            all.extend(body);
            (
                "http://www.w3.org/2001/04/xmlenc#aes128-cbc",
                key.to_vec(),
                all,
            )
        }
    };
    let (method, wrapped) = match how.transport {
        Transport::Mgf1pSha1 => (
            r#"<xenc:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p"><ds:DigestMethod Algorithm="http://www.w3.org/2000/09/xmldsig#sha1"/></xenc:EncryptionMethod>"#,
            wrap_key(public, &OAEP_SHA1_MGF1SHA1, &key),
        ),
        Transport::Oaep11Sha256 => (
            r#"<xenc:EncryptionMethod Algorithm="http://www.w3.org/2009/xmlenc11#rsa-oaep"><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><xenc11:MGF xmlns:xenc11="http://www.w3.org/2009/xmlenc11#" Algorithm="http://www.w3.org/2009/xmlenc11#mgf1sha256"/></xenc:EncryptionMethod>"#,
            wrap_key(public, &OAEP_SHA256_MGF1SHA256, &key),
        ),
        // Named as PKCS#1 v1.5, whatever it holds: the name alone is refused.
        Transport::Pkcs1 => (
            r#"<xenc:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#rsa-1_5"/>"#,
            wrap_key(public, &OAEP_SHA1_MGF1SHA1, &key),
        ),
    };
    let encrypted_key = format!(
        "<xenc:EncryptedKey Id=\"_k1\">{method}<xenc:CipherData><xenc:CipherValue>{}</xenc:CipherValue></xenc:CipherData></xenc:EncryptedKey>",
        STANDARD.encode(wrapped)
    );
    let (inside, beside) = if how.key_beside {
        (
            r##"<ds:KeyInfo><ds:RetrievalMethod URI="#_k1" Type="http://www.w3.org/2001/04/xmlenc#EncryptedKey"/></ds:KeyInfo>"##.to_owned(),
            encrypted_key,
        )
    } else {
        (
            format!("<ds:KeyInfo>{encrypted_key}</ds:KeyInfo>"),
            String::new(),
        )
    };
    format!(
        "<saml:EncryptedAssertion><xenc:EncryptedData xmlns:xenc=\"http://www.w3.org/2001/04/xmlenc#\" xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\" Type=\"http://www.w3.org/2001/04/xmlenc#Element\"><xenc:EncryptionMethod Algorithm=\"{data_uri}\"/>{inside}<xenc:CipherData><xenc:CipherValue>{}</xenc:CipherValue></xenc:CipherData></xenc:EncryptedData>{}</saml:EncryptedAssertion>",
        STANDARD.encode(cipher_text),
        // Outside the data, the key declares the prefixes it uses itself.
        beside.replacen(
            "<xenc:EncryptedKey ",
            "<xenc:EncryptedKey xmlns:xenc=\"http://www.w3.org/2001/04/xmlenc#\" xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\" ",
            1,
        ),
    )
}

/// The fixture response whose assertion is signed, and that assertion's text.
fn response_and_assertion() -> (String, String) {
    let response = fixture("assertion-exc.xml");
    let start = response.find("<saml:Assertion").unwrap();
    let end = response.find("</saml:Assertion>").unwrap() + "</saml:Assertion>".len();
    let assertion = response[start..end].to_owned();
    (response, assertion)
}

fn with_assertion_replaced(response: &str, assertion: &str, by: &str) -> String {
    response.replacen(assertion, by, 1)
}

fn idp() -> IdentityProvider {
    IdentityProvider::from_metadata(&fixture("metadata.xml")).unwrap()
}

fn read(xml: &str, key: Option<&DecryptionKey>) -> Result<portcullis_saml::Assertion, SamlError> {
    let expect = Expectations {
        audiences: &["urn:amazon:webservices"],
        recipients: &["https://signin.aws.amazon.com/saml"],
        in_response_to: None,
        now: datetime!(2026-03-01 10:01 UTC),
        skew: time::Duration::minutes(1),
        decryption: key,
    };
    read_response(xml, &idp(), &expect)
}

const GCM: Encryption = Encryption {
    data: Data::Gcm256,
    transport: Transport::Mgf1pSha1,
    key_beside: false,
};

#[test]
fn encrypted_assertions_read_like_clear_ones() {
    let (pkcs8, public) = key_pair();
    let key = DecryptionKey::from_pkcs8(&pkcs8).unwrap();
    let (response, assertion) = response_and_assertion();
    let clear = read(&response, None).unwrap();
    for how in [
        GCM,
        Encryption {
            data: Data::Cbc128,
            transport: Transport::Oaep11Sha256,
            key_beside: true,
        },
        Encryption {
            data: Data::Cbc128,
            transport: Transport::Mgf1pSha1,
            key_beside: false,
        },
    ] {
        let xml =
            with_assertion_replaced(&response, &assertion, &encrypt(&assertion, &public, &how));
        // The assertion's prefixes (saml, and xs in its signature's prefix list) are
        // declared on the response, outside what was encrypted.
        assert_eq!(read(&xml, Some(&key)).unwrap(), clear);
    }
}

#[test]
fn a_relying_party_takes_encrypted_or_clear_assertions_not_both() {
    let (pkcs8, public) = key_pair();
    let key = DecryptionKey::from_pkcs8(&pkcs8).unwrap();
    let (response, assertion) = response_and_assertion();
    let err = read(&response, Some(&key)).unwrap_err();
    assert!(
        err.to_string().contains("exactly one encrypted assertion"),
        "{err}"
    );
    let encrypted =
        with_assertion_replaced(&response, &assertion, &encrypt(&assertion, &public, &GCM));
    let err = read(&encrypted, None).unwrap_err();
    assert!(err.to_string().contains("not accepted"), "{err}");
}

#[test]
fn altered_misdirected_or_weakly_wrapped_assertions_are_refused() {
    let (pkcs8, public) = key_pair();
    let key = DecryptionKey::from_pkcs8(&pkcs8).unwrap();
    let (response, assertion) = response_and_assertion();

    // Encrypted to another relying party.
    let (other, _) = key_pair();
    let other = DecryptionKey::from_pkcs8(&other).unwrap();
    let xml = with_assertion_replaced(&response, &assertion, &encrypt(&assertion, &public, &GCM));
    assert!(matches!(
        read(&xml, Some(&other)),
        Err(SamlError::Decryption(_))
    ));

    // One bit of the cipher text changed.
    let encrypted = encrypt(&assertion, &public, &GCM);
    let start = encrypted.rfind("<xenc:CipherValue>").unwrap() + "<xenc:CipherValue>".len();
    let end = encrypted[start..].find('<').unwrap() + start;
    let mut body = STANDARD.decode(&encrypted[start..end]).unwrap();
    body[20] ^= 1;
    let altered = format!(
        "{}{}{}",
        &encrypted[..start],
        STANDARD.encode(body),
        &encrypted[end..]
    );
    let xml = with_assertion_replaced(&response, &assertion, &altered);
    assert!(matches!(
        read(&xml, Some(&key)),
        Err(SamlError::Decryption(_))
    ));

    // PKCS#1 v1.5 key transport.
    let weak = Encryption {
        data: Data::Gcm256,
        transport: Transport::Pkcs1,
        key_beside: false,
    };
    let xml = with_assertion_replaced(&response, &assertion, &encrypt(&assertion, &public, &weak));
    let err = read(&xml, Some(&key)).unwrap_err();
    assert!(err.to_string().contains("PKCS#1 v1.5"), "{err}");

    // Encrypted but signed by nobody: the key is the relying party's public one, so
    // encryption vouches for nothing.
    let signature_start = assertion.find("<ds:Signature").unwrap();
    let signature_end = assertion.find("</ds:Signature>").unwrap() + "</ds:Signature>".len();
    let unsigned = format!(
        "{}{}",
        &assertion[..signature_start],
        &assertion[signature_end..]
    );
    let xml = with_assertion_replaced(&response, &assertion, &encrypt(&unsigned, &public, &GCM));
    let err = read(&xml, Some(&key)).unwrap_err();
    assert!(err.to_string().contains("not signed"), "{err}");

    // The signed assertion's content changed before encryption.
    let changed = assertion.replace("alice@example.com", "mallory@example.com");
    assert_ne!(changed, assertion);
    let xml = with_assertion_replaced(&response, &assertion, &encrypt(&changed, &public, &GCM));
    assert!(matches!(
        read(&xml, Some(&key)),
        Err(SamlError::Signature(..))
    ));
}
