//! JWT reading and verification as every token-accepting path does it: header (`alg`,
//! `kid`, `crit`), base64url segments, the RS256 signature, `exp`/`nbf` and `iss`.
//!
//! Input: a token (`header.payload.signature`), tried as it is; and, read as JSON
//! claims, signed by the verifier's own key so the time and issuer checks behind the
//! signature are reached too.

#![no_main]

use std::sync::LazyLock;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use libfuzzer_sys::fuzz_target;
use portcullis_token::jwt::Verifier;
use portcullis_token::keys::SigningKey;

const ISSUER: &str = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_FUZZ";

static KEY: LazyLock<SigningKey> =
    LazyLock::new(|| SigningKey::generate().expect("an RSA key is generated"));
static VERIFIER: LazyLock<Verifier> = LazyLock::new(|| {
    let mut verifier = Verifier::new(ISSUER).with_leeway(2);
    verifier
        .add_signing_key(&KEY)
        .expect("our own key is usable");
    verifier
});

fuzz_target!(|data: &[u8]| {
    if let Ok(token) = std::str::from_utf8(data) {
        // Nobody but us holds the key, so nothing the fuzzer writes may verify.
        assert!(VERIFIER.verify(token).is_err(), "a forged token verified");
        // The same text as the header of a token with our kid's segments around it.
        let forged = format!(
            "{}.{}.{}",
            URL_SAFE_NO_PAD.encode(token),
            URL_SAFE_NO_PAD.encode(br#"{"iss":"x","exp":1}"#),
            URL_SAFE_NO_PAD.encode([0u8; 256]),
        );
        assert!(
            VERIFIER.verify(&forged).is_err(),
            "a forged header verified"
        );
    }
    if let Ok(claims) = serde_json::from_slice::<serde_json::Value>(data) {
        if let Ok(token) = KEY.sign_rs256(&claims) {
            if let Ok(verified) = VERIFIER.verify(&token) {
                assert_eq!(verified["iss"], ISSUER, "only our issuer is accepted");
                assert!(verified.get("exp").is_some(), "exp is required");
            }
        }
    }
});
