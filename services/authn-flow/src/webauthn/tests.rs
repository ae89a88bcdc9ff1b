//! The relying party against a software authenticator written here: P-256 and Ed25519
//! keys from aws-lc, authenticator data and attestation objects built byte by byte.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _,
};

use super::cbor::{Value, encode};
use super::*;

const RP: &str = "login.example.com";
const ORIGIN: &str = "https://login.example.com";

enum Key {
    P256(EcdsaKeyPair),
    Ed(Ed25519KeyPair),
}

/// A software authenticator holding one credential.
struct Authenticator {
    id: Vec<u8>,
    key: Key,
    counter: u32,
    flags: u8,
}

impl Authenticator {
    fn p256() -> Self {
        let pkcs8 =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &SystemRandom::new())
                .unwrap();
        let key =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref()).unwrap();
        Self {
            id: vec![0xc1; 32],
            key: Key::P256(key),
            counter: 0,
            flags: FLAG_USER_PRESENT | FLAG_USER_VERIFIED,
        }
    }

    fn ed25519() -> Self {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        Self {
            id: vec![0xed; 16],
            key: Key::Ed(Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap()),
            ..Self::p256()
        }
    }

    fn cose(&self) -> Value {
        match &self.key {
            Key::P256(k) => {
                let point = k.public_key().as_ref();
                Value::Map(vec![
                    (Value::Int(1), Value::Int(2)),
                    (Value::Int(3), Value::Int(-7)),
                    (Value::Int(-1), Value::Int(1)),
                    (Value::Int(-2), Value::Bytes(point[1..33].to_vec())),
                    (Value::Int(-3), Value::Bytes(point[33..65].to_vec())),
                ])
            }
            Key::Ed(k) => Value::Map(vec![
                (Value::Int(1), Value::Int(1)),
                (Value::Int(3), Value::Int(-8)),
                (Value::Int(-1), Value::Int(6)),
                (
                    Value::Int(-2),
                    Value::Bytes(k.public_key().as_ref().to_vec()),
                ),
            ]),
        }
    }

    fn auth_data(&self, rp_id: &str, attested: bool) -> Vec<u8> {
        let mut out = digest::digest(&digest::SHA256, rp_id.as_bytes())
            .as_ref()
            .to_vec();
        out.push(self.flags | if attested { FLAG_ATTESTED_DATA } else { 0 });
        out.extend(self.counter.to_be_bytes());
        if attested {
            out.extend([0u8; 16]);
            out.extend(u16::try_from(self.id.len()).unwrap().to_be_bytes());
            out.extend(&self.id);
            out.extend(encode(&self.cose()));
        }
        out
    }

    fn client_data(kind: &str, challenge: &[u8], origin: &str) -> Vec<u8> {
        serde_json::to_vec(&json!({
            "type": kind, "challenge": B64URL.encode(challenge), "origin": origin,
        }))
        .unwrap()
    }

    /// `navigator.credentials.create()`.
    fn create(&self, challenge: &[u8], rp_id: &str, origin: &str) -> Json {
        let attestation = Value::Map(vec![
            (Value::Text("fmt".into()), Value::Text("none".into())),
            (Value::Text("attStmt".into()), Value::Map(vec![])),
            (
                Value::Text("authData".into()),
                Value::Bytes(self.auth_data(rp_id, true)),
            ),
        ]);
        json!({
            "id": B64URL.encode(&self.id), "rawId": B64URL.encode(&self.id), "type": "public-key",
            "authenticatorAttachment": "platform",
            "response": {
                "clientDataJSON": B64URL.encode(Self::client_data("webauthn.create", challenge, origin)),
                "attestationObject": B64URL.encode(encode(&attestation)),
                "transports": ["internal", "hybrid"],
            },
            "clientExtensionResults": {},
        })
    }

    /// `navigator.credentials.get()`: counts up and signs.
    fn get(&mut self, challenge: &[u8], rp_id: &str, origin: &str) -> Json {
        self.counter += 1;
        let data = self.auth_data(rp_id, false);
        let client = Self::client_data("webauthn.get", challenge, origin);
        let mut message = data.clone();
        message.extend(digest::digest(&digest::SHA256, &client).as_ref());
        let sig = match &self.key {
            Key::P256(k) => k
                .sign(&SystemRandom::new(), &message)
                .unwrap()
                .as_ref()
                .to_vec(),
            Key::Ed(k) => k.sign(&message).as_ref().to_vec(),
        };
        json!({
            "id": B64URL.encode(&self.id), "rawId": B64URL.encode(&self.id), "type": "public-key",
            "response": {
                "clientDataJSON": B64URL.encode(client),
                "authenticatorData": B64URL.encode(data),
                "signature": B64URL.encode(sig),
                "userHandle": B64URL.encode(b"user"),
            },
            "clientExtensionResults": {},
        })
    }
}

fn expected(challenge: &[u8]) -> Expected<'_> {
    Expected {
        challenge,
        relying_party_id: RP,
        user_verification_required: true,
    }
}

#[test]
fn a_p256_passkey_registers_and_signs_in_with_a_growing_counter() {
    let mut device = Authenticator::p256();
    let passkey = verify_registration(&device.create(b"c1", RP, ORIGIN), &expected(b"c1")).unwrap();
    assert_eq!(passkey.credential_id, B64URL.encode(&device.id));
    assert_eq!(passkey.transports, ["internal", "hybrid"]);
    assert_eq!(passkey.attachment.as_deref(), Some("platform"));
    assert!(matches!(passkey.public_key, PublicKey::Es256 { .. }));

    let assertion = device.get(b"c2", RP, ORIGIN);
    assert_eq!(
        assertion_credential_id(&assertion).unwrap(),
        passkey.credential_id
    );
    let count = verify_assertion(&assertion, &passkey, &expected(b"c2")).unwrap();
    assert_eq!(count, 1);
    // The same assertion again: the counter did not grow.
    let stored = Passkey {
        sign_count: count,
        ..passkey
    };
    assert_eq!(
        verify_assertion(&assertion, &stored, &expected(b"c2")),
        Err(WebAuthnError::CounterWentBack)
    );
    let next = device.get(b"c3", RP, ORIGIN);
    assert_eq!(verify_assertion(&next, &stored, &expected(b"c3")), Ok(2));
}

#[test]
fn an_ed25519_passkey_works_too() {
    let mut device = Authenticator::ed25519();
    let passkey = verify_registration(&device.create(b"c", RP, ORIGIN), &expected(b"c")).unwrap();
    assert!(matches!(passkey.public_key, PublicKey::EdDsa { .. }));
    let assertion = device.get(b"d", RP, ORIGIN);
    assert_eq!(
        verify_assertion(&assertion, &passkey, &expected(b"d")),
        Ok(1)
    );
}

#[test]
fn registration_refuses_another_challenge_origin_relying_party_or_ceremony() {
    let device = Authenticator::p256();
    let check = |credential: Json| verify_registration(&credential, &expected(b"right"));
    assert_eq!(
        check(device.create(b"wrong", RP, ORIGIN)),
        Err(WebAuthnError::ChallengeMismatch)
    );
    assert_eq!(
        check(device.create(b"right", RP, "https://evil.example.net")),
        Err(WebAuthnError::OriginNotAllowed(
            "https://evil.example.net".into()
        ))
    );
    assert_eq!(
        check(device.create(b"right", "example.org", ORIGIN)),
        Err(WebAuthnError::RelyingPartyMismatch)
    );
    let mut unverified = Authenticator::p256();
    unverified.flags = FLAG_USER_PRESENT;
    assert_eq!(
        check(unverified.create(b"right", RP, ORIGIN)),
        Err(WebAuthnError::UserNotVerified)
    );
    let mut absent = Authenticator::p256();
    absent.flags = 0;
    assert_eq!(
        check(absent.create(b"right", RP, ORIGIN)),
        Err(WebAuthnError::UserNotPresent)
    );
    // An assertion is not a registration.
    let mut other = Authenticator::p256();
    let mut assertion = other.get(b"right", RP, ORIGIN);
    assertion["response"]["attestationObject"] = json!("");
    assert!(check(assertion).is_err());
}

#[test]
fn an_assertion_with_a_tampered_signature_or_data_or_another_key_fails() {
    let mut device = Authenticator::p256();
    let passkey = verify_registration(&device.create(b"c", RP, ORIGIN), &expected(b"c")).unwrap();
    let good = device.get(b"s", RP, ORIGIN);

    let mut tampered = good.clone();
    let mut data = B64URL
        .decode(tampered["response"]["authenticatorData"].as_str().unwrap())
        .unwrap();
    data[36] ^= 1; // the counter
    tampered["response"]["authenticatorData"] = json!(B64URL.encode(&data));
    assert_eq!(
        verify_assertion(&tampered, &passkey, &expected(b"s")),
        Err(WebAuthnError::BadSignature)
    );

    let mut impostor = Authenticator::p256();
    impostor.id = device.id.clone();
    let forged = impostor.get(b"s", RP, ORIGIN);
    assert_eq!(
        verify_assertion(&forged, &passkey, &expected(b"s")),
        Err(WebAuthnError::BadSignature)
    );
    assert_eq!(
        verify_assertion(&good, &passkey, &expected(b"other")),
        Err(WebAuthnError::ChallengeMismatch)
    );
    assert_eq!(verify_assertion(&good, &passkey, &expected(b"s")), Ok(1));
}

#[test]
fn origins_are_https_on_the_relying_party_or_below_it_or_localhost() {
    assert!(origin_allowed(
        "https://login.example.com",
        "login.example.com"
    ));
    assert!(origin_allowed(
        "https://a.login.example.com:8443",
        "login.example.com"
    ));
    assert!(origin_allowed("http://localhost:3000", "localhost"));
    assert!(!origin_allowed(
        "http://login.example.com",
        "login.example.com"
    ));
    assert!(!origin_allowed(
        "https://evillogin.example.com",
        "login.example.com"
    ));
    assert!(!origin_allowed(
        "https://login.example.com.evil.net",
        "login.example.com"
    ));
    assert!(!origin_allowed(
        "https://login.example.com/path",
        "login.example.com"
    ));
    assert!(!origin_allowed(
        "https://x@login.example.com",
        "login.example.com"
    ));
    assert!(!origin_allowed(
        "android:apk-key-hash:abc",
        "login.example.com"
    ));
}
