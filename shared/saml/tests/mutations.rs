//! Signed responses with one byte changed, or cut short: the reader never panics, and
//! whatever it still accepts says exactly what the signed original said.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use portcullis_saml::{Expectations, IdentityProvider, read_response};
use time::macros::datetime;

fn fixture(name: &str) -> String {
    let path = format!("{}/testdata/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A small deterministic generator (xorshift64), so a failure can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n as u64).unwrap()
    }
}

/// Bytes a mutation writes: markup, quotes, entity starts, digits, letters, space.
const ALPHABET: &[u8] = b"<>/=\"'&;:# \n\tAaZz019-_.!?[]";

#[test]
fn mutated_responses_never_panic_and_never_say_something_else() {
    let idp = IdentityProvider::from_metadata(&fixture("metadata.xml")).unwrap();
    let expect = Expectations {
        audiences: &["urn:amazon:webservices"],
        recipients: &["https://signin.aws.amazon.com/saml"],
        in_response_to: None,
        now: datetime!(2026-03-01 10:01 UTC),
        skew: time::Duration::minutes(1),
        decryption: None,
    };
    let mut rng = Rng(0x5EED_CAFE_F00D_BEEF);
    let mut accepted = 0usize;
    for name in [
        "assertion-exc.xml",
        "response-exc.xml",
        "assertion-c14n10.xml",
    ] {
        let original = fixture(name);
        let genuine = read_response(&original, &idp, &expect).unwrap();
        let bytes = original.as_bytes();
        for round in 0..1500 {
            let mut mutated = bytes.to_vec();
            if round % 10 == 0 {
                mutated.truncate(rng.below(bytes.len()));
            } else {
                let at = rng.below(bytes.len());
                mutated[at] = ALPHABET[rng.below(ALPHABET.len())];
            }
            // The fixtures are ASCII, so every mutation is still text.
            let text = String::from_utf8(mutated).unwrap();
            if let Ok(assertion) = read_response(&text, &idp, &expect) {
                accepted += 1;
                assert_eq!(assertion, genuine, "{name}, round {round}:\n{text}");
            }
        }
    }
    // Some changes do not matter (white space between attributes, the unsigned
    // certificate copy in KeyInfo); most do.
    assert!(
        accepted < 1500,
        "{accepted} of 4500 mutations still verified"
    );
}
