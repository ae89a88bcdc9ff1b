//! `SECRET_HASH`: Base64(HMAC-SHA256(key = client secret, message = user name + client
//! id)), which Cognito requires on every unauthenticated call by a client that has a
//! secret.

use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use subtle::ConstantTimeEq;

pub fn compute(client_secret: &str, username: &str, client_id: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, client_secret.as_bytes());
    let mut message = Vec::with_capacity(username.len() + client_id.len());
    message.extend_from_slice(username.as_bytes());
    message.extend_from_slice(client_id.as_bytes());
    STANDARD.encode(hmac::sign(&key, &message).as_ref())
}

/// Whether `given` is the secret hash for any of `usernames`, compared in constant time.
pub fn matches(client_secret: &str, usernames: &[&str], client_id: &str, given: &str) -> bool {
    usernames.iter().fold(false, |found, name| {
        let expected = compute(client_secret, name, client_id);
        found | bool::from(expected.as_bytes().ct_eq(given.as_bytes()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_vector_computed_by_a_real_client() {
        // From ../shared/testdata/cognito-srp-vectors.json (pycognito's computation).
        let vectors: serde_json::Value =
            serde_json::from_str(include_str!("../tests/data/secret_hash.json")).unwrap();
        for v in vectors.as_array().unwrap() {
            let got = compute(
                v["client_secret"].as_str().unwrap(),
                v["username"].as_str().unwrap(),
                v["client_id"].as_str().unwrap(),
            );
            assert_eq!(got, v["secret_hash"].as_str().unwrap());
        }
    }

    #[test]
    fn wrong_secret_or_name_does_not_match() {
        let good = compute("s3cret", "alice", "client");
        assert!(matches("s3cret", &["bob", "alice"], "client", &good));
        assert!(!matches("other", &["alice"], "client", &good));
        assert!(!matches("s3cret", &["bob"], "client", &good));
        assert!(!matches("s3cret", &["alice"], "client", ""));
    }
}
