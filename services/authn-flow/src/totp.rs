//! RFC 6238 time-based one-time passwords as Cognito uses them: HMAC-SHA1, six digits,
//! 30-second steps, one step of clock drift either way, and a secret shown to the user
//! in base32 (RFC 4648, no padding).

use aws_lc_rs::hmac;
use subtle::ConstantTimeEq;

pub const STEP_SECONDS: i64 = 30;
const DIGITS: u32 = 6;
/// Steps of drift accepted either side of the current one.
const DRIFT: i64 = 1;
const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// A new random 160-bit secret, base32.
pub fn new_secret() -> Option<String> {
    let mut key = [0u8; 20];
    aws_lc_rs::rand::fill(&mut key).ok()?;
    Some(base32_encode(&key))
}

pub fn base32_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &b in bytes {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[((buffer >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

pub fn base32_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 5 / 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for c in text.bytes().filter(|&c| c != b'=') {
        let value = ALPHABET.iter().position(|&a| a == c.to_ascii_uppercase())?;
        buffer = (buffer << 5) | u32::try_from(value).ok()?;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push(u8::try_from((buffer >> bits) & 0xff).ok()?);
        }
    }
    Some(out)
}

/// The code for time step `step` (RFC 4226 dynamic truncation) with `digits` digits.
fn hotp(key: &[u8], step: i64, digits: u32) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, key);
    let tag = hmac::sign(&key, &step.to_be_bytes());
    let mac = tag.as_ref();
    let offset = usize::from(mac[mac.len() - 1] & 0x0f);
    let binary = u32::from_be_bytes([
        mac[offset] & 0x7f,
        mac[offset + 1],
        mac[offset + 2],
        mac[offset + 3],
    ]);
    let code = binary % 10u32.pow(digits);
    format!("{code:0width$}", width = digits as usize)
}

/// The six-digit code of `secret` (raw key bytes) at Unix time `seconds`.
pub fn code_at(key: &[u8], seconds: i64) -> String {
    hotp(key, seconds.div_euclid(STEP_SECONDS), DIGITS)
}

/// The time step `given` is the code of, within the drift window around `now_seconds`,
/// skipping steps up to `last_used` (a code once used cannot be used again). Every
/// candidate is compared in constant time.
pub fn matching_step(key: &[u8], given: &str, now_seconds: i64, last_used: i64) -> Option<i64> {
    let current = now_seconds.div_euclid(STEP_SECONDS);
    let mut found = None;
    for step in current - DRIFT..=current + DRIFT {
        let matches: bool = hotp(key, step, DIGITS)
            .as_bytes()
            .ct_eq(given.as_bytes())
            .into();
        if matches && step > last_used && found.is_none() {
            found = Some(step);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B, SHA-1 (eight digits; the key is the ASCII "12345678901234567890").
    #[test]
    fn rfc_6238_test_vectors() {
        let key = b"12345678901234567890";
        for (time, expected) in [
            (59, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ] {
            assert_eq!(hotp(key, time / STEP_SECONDS, 8), expected, "at {time}");
        }
        assert_eq!(code_at(key, 59), "287082");
    }

    #[test]
    fn base32_round_trips_and_matches_rfc_4648() {
        assert_eq!(base32_encode(b"foobar"), "MZXW6YTBOI");
        assert_eq!(base32_decode("MZXW6YTBOI======").unwrap(), b"foobar");
        assert_eq!(base32_decode("mzxw6ytboi").unwrap(), b"foobar");
        assert_eq!(base32_decode("MZ1"), None);
        let secret = new_secret().unwrap();
        assert_eq!(secret.len(), 32);
        assert_eq!(base32_decode(&secret).unwrap().len(), 20);
    }

    #[test]
    fn one_step_of_drift_and_no_replay() {
        let key = b"12345678901234567890";
        let now = 1_111_111_111;
        let step = now / STEP_SECONDS;
        let previous = code_at(key, now - STEP_SECONDS);
        let next = code_at(key, now + STEP_SECONDS);
        assert_eq!(matching_step(key, &previous, now, 0), Some(step - 1));
        assert_eq!(matching_step(key, &next, now, 0), Some(step + 1));
        let too_old = code_at(key, now - 2 * STEP_SECONDS);
        assert_eq!(matching_step(key, &too_old, now, 0), None);
        let current = code_at(key, now);
        assert_eq!(matching_step(key, &current, now, step), None, "replayed");
        assert_eq!(matching_step(key, &next, now, step), Some(step + 1));
        assert_eq!(matching_step(key, "000000x", now, 0), None);
    }
}
