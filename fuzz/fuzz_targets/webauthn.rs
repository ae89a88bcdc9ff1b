//! The WebAuthn relying party's readers: the CBOR decoder, authenticator data with its
//! attested credential and COSE key, the attestation object and `clientDataJSON`.
//!
//! Input: authenticator data after the relying-party hash (flags, counter, attested
//! credential data, extensions). The target prefixes the hash of `login.example.com`,
//! wraps it in an attestation object and a registration response with a matching
//! `rawId`, so the fuzzer starts past the checks a random input cannot pass. The same
//! bytes are also read as a whole CBOR item, as an attestation object, as an
//! assertion's authenticator data and as `clientDataJSON`.

#![no_main]

use aws_lc_rs::digest;
use base64::Engine as _;
use libfuzzer_sys::fuzz_target;
use portcullis_authn_flow::webauthn::{
    B64URL, Expected, Passkey, PublicKey, cbor, verify_assertion, verify_registration,
};
use serde_json::json;

const RP: &str = "login.example.com";
const ORIGIN: &str = "https://login.example.com";
const CHALLENGE: &[u8] = b"fuzzing-challenge";

fn client_data(kind: &str) -> String {
    B64URL.encode(
        json!({ "type": kind, "challenge": B64URL.encode(CHALLENGE), "origin": ORIGIN })
            .to_string(),
    )
}

/// `{"fmt": "none", "attStmt": {}, "authData": <auth_data>}` in CBOR.
fn attestation_object(auth_data: &[u8]) -> Vec<u8> {
    let mut out = vec![0xa3, 0x63];
    out.extend_from_slice(b"fmt");
    out.push(0x64);
    out.extend_from_slice(b"none");
    out.push(0x67);
    out.extend_from_slice(b"attStmt");
    out.push(0xa0);
    out.push(0x68);
    out.extend_from_slice(b"authData");
    out.push(0x5a);
    out.extend_from_slice(&u32::try_from(auth_data.len()).unwrap_or(0).to_be_bytes());
    out.extend_from_slice(auth_data);
    out
}

/// The credential id an attested-credential-data block names, if it has one.
fn credential_id(auth_data: &[u8]) -> &[u8] {
    let len = auth_data
        .get(53..55)
        .map_or(0, |l| usize::from(u16::from_be_bytes([l[0], l[1]])));
    auth_data.get(55..55 + len).unwrap_or_default()
}

fn registration(attestation: &[u8], raw_id: &[u8], client_data_json: &str) -> serde_json::Value {
    json!({
        "type": "public-key",
        "id": B64URL.encode(raw_id),
        "rawId": B64URL.encode(raw_id),
        "response": {
            "clientDataJSON": client_data_json,
            "attestationObject": B64URL.encode(attestation),
            "transports": ["internal"],
        },
    })
}

fuzz_target!(|data: &[u8]| {
    let expected = Expected {
        challenge: CHALLENGE,
        relying_party_id: RP,
        user_verification_required: false,
    };
    let _ = cbor::decode(data);

    let mut auth_data = digest::digest(&digest::SHA256, RP.as_bytes())
        .as_ref()
        .to_vec();
    auth_data.extend_from_slice(data);
    let created = client_data("webauthn.create");
    let credential = registration(
        &attestation_object(&auth_data),
        credential_id(&auth_data),
        &created,
    );
    if let Ok(passkey) = verify_registration(&credential, &expected) {
        assert_eq!(passkey.relying_party_id, RP);
    }
    let _ = verify_registration(&registration(data, b"id", &created), &expected);
    let raw_client_data = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(data);
    let _ = verify_registration(
        &registration(&attestation_object(&auth_data), b"id", &raw_client_data),
        &expected,
    );

    let passkey = Passkey {
        credential_id: B64URL.encode(b"id"),
        public_key: PublicKey::EdDsa {
            key: "11".repeat(32),
        },
        sign_count: 7,
        transports: Vec::new(),
        attachment: None,
        relying_party_id: RP.to_owned(),
    };
    let assertion = json!({
        "type": "public-key",
        "id": B64URL.encode(b"id"),
        "rawId": B64URL.encode(b"id"),
        "response": {
            "clientDataJSON": client_data("webauthn.get"),
            "authenticatorData": B64URL.encode(&auth_data),
            "signature": B64URL.encode(data),
        },
    });
    let verified = verify_assertion(&assertion, &passkey, &expected);
    assert!(verified.is_err(), "a signature nobody made verified");
});
