//! The server side of Cognito's SRP-6a (`USER_SRP_AUTH`), byte for byte what Cognito's
//! clients expect: the 3072-bit group of RFC 5054 with g = 2, integers hashed in their
//! "padded hex" form (minimal big-endian bytes, with a leading zero byte when the top
//! bit is set), the session key from HKDF-SHA256 with info "Caldera Derived Key", and
//! the claim signed as HMAC-SHA256(key, poolName | userIdForSrp | secretBlock | time).
//!
//! Arithmetic on secrets (the verifier, the server's ephemeral b) is constant time:
//! Montgomery residues of `crypto-bigint` and exponentiation with a fixed 256-bit bound
//! (b is 256 random bits; u and x are SHA-256 outputs). Powers of g, the one base that
//! never changes, come from a table made once (`g_pow`): one multiplication per four
//! bits of the exponent and no squaring.

use std::sync::LazyLock;

use aws_lc_rs::{digest, hmac};
use crypto_bigint::modular::{FixedMontyForm, FixedMontyParams};
use crypto_bigint::{Choice, CtAssign, Odd, U256, U3072};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

const LIMBS: usize = U3072::LIMBS;
type Residue = FixedMontyForm<LIMBS>;
/// Bytes of an element of the group.
const BYTES: usize = 384;
/// Bits of every exponent: b, u and x.
const EXPONENT_BITS: u32 = 256;
const HKDF_INFO: &[u8] = b"Caldera Derived Key";
const N_HEX: &str = concat!(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74",
    "020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437",
    "4FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED",
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF05",
    "98DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB",
    "9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B",
    "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF695581718",
    "3995497CEA956AE515D2261898FA051015728E5A8AAAC42DAD33170D04507A33",
    "A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7",
    "ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864",
    "D87602733EC86A64521F2B18177B200CBBE117577A615D6C770988C0BAD946E2",
    "08E24FA074E5AB3143DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF",
);

struct Group {
    params: FixedMontyParams<LIMBS>,
    g: Residue,
    k: Residue,
}

static GROUP: LazyLock<Group> = LazyLock::new(|| {
    let n = Odd::<U3072>::from_be_hex(N_HEX);
    let params = FixedMontyParams::new_vartime(n);
    let g = U3072::from_u8(2);
    let k = sha256(&[&pad(n.as_ref()), &pad(&g)]);
    Group {
        g: Residue::new(&g, &params),
        k: Residue::new(&widen(&k), &params),
        params,
    }
});

/// Exponent bits per window of the table of powers of g.
const WINDOW_BITS: usize = 4;
/// Windows of an exponent: 64.
const WINDOWS: usize = EXPONENT_BITS as usize / WINDOW_BITS;
/// Values of a window's digit: 16.
const DIGITS: usize = 1 << WINDOW_BITS;

/// `G_POWERS[i][d]` = g^(d·16^i) in Montgomery form, for every window i of a 256-bit
/// exponent: 1,024 elements, 384 KiB, made on first use (about 1,200 multiplications).
/// The squarings an exponentiation of g would repeat every time are done once here.
static G_POWERS: LazyLock<Vec<[U3072; DIGITS]>> = LazyLock::new(|| {
    let group = &*GROUP;
    let one = Residue::one(&group.params);
    // g^(16^i) for the window being filled.
    let mut base = group.g;
    (0..WINDOWS)
        .map(|_| {
            let mut row = [*one.as_montgomery(); DIGITS];
            let mut power = one;
            for entry in row.iter_mut().skip(1) {
                power *= base;
                *entry = *power.as_montgomery();
            }
            // g^(16^(i+1)) = g^(15·16^i) · g^(16^i)
            base = power * base;
            row
        })
        .collect()
});

/// g^e mod N in constant time: per window, every entry of its row is read and the one
/// the digit names kept (`ct_assign`), then multiplied in; a zero digit multiplies by 1.
fn g_pow(e: &U256) -> Residue {
    let params = &GROUP.params;
    let words = e.as_words();
    let mut acc = Residue::one(params);
    for (i, row) in G_POWERS.iter().enumerate() {
        let bit = i * WINDOW_BITS;
        // A window never straddles two words: 64 is a multiple of 4.
        #[allow(clippy::cast_possible_truncation)]
        let digit = ((words[bit / 64] >> (bit % 64)) & (DIGITS as u64 - 1)) as u8;
        let mut pick = row[0];
        for (d, entry) in row.iter().enumerate().skip(1) {
            #[allow(clippy::cast_possible_truncation)]
            pick.ct_assign(entry, Choice::from_u8_eq(d as u8, digit));
        }
        acc *= Residue::from_montgomery(pick, params);
    }
    acc
}

/// What the credential store keeps for SRP: the salt (as sent in `SALT`) and the
/// verifier g^x mod N, both hex.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verifier {
    pub salt: String,
    pub verifier: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SrpError {
    /// A mod N == 0 (or u == 0): the client could force the shared secret.
    #[error("illegal SRP parameter")]
    IllegalParameter,
}

/// The part of a pool id after the region and `_`, which Cognito hashes.
pub fn pool_name(pool_id: &str) -> &str {
    pool_id.split_once('_').map_or(pool_id, |(_, name)| name)
}

fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut context = digest::Context::new(&digest::SHA256);
    for part in parts {
        context.update(part);
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(context.finish().as_ref());
    out
}

fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut context = hmac::Context::with_key(&hmac::Key::new(hmac::HMAC_SHA256, key));
    for part in parts {
        context.update(part);
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(context.sign().as_ref());
    out
}

fn widen(bytes: &[u8; 32]) -> U3072 {
    U256::from_be_slice(bytes).resize()
}

/// An integer from big-endian bytes, if it fits the group's width.
fn from_bytes(bytes: &[u8]) -> Option<U3072> {
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    let bytes = &bytes[start..];
    if bytes.len() > BYTES {
        return None;
    }
    let mut buf = [0u8; BYTES];
    buf[BYTES - bytes.len()..].copy_from_slice(bytes);
    Some(U3072::from_be_slice(&buf))
}

/// An integer from hex of any length (`SRP_A` as the client sent it).
pub fn parse_hex(hex: &str) -> Option<U3072> {
    let even = if hex.len() % 2 == 1 {
        format!("0{hex}")
    } else {
        hex.to_owned()
    };
    from_bytes(&hex::decode(even).ok()?)
}

/// Lowercase hex without leading zeros, as Cognito sends `SRP_B`.
pub fn to_hex(x: &U3072) -> String {
    let bytes = x.to_be_bytes();
    let hex = hex::encode(bytes.as_slice());
    match hex.trim_start_matches('0') {
        "" => "0".to_owned(),
        trimmed => trimmed.to_owned(),
    }
}

/// Cognito's padded form of an integer: minimal big-endian bytes, with a zero byte in
/// front when the top bit is set (so that it reads as positive).
fn pad(x: &U3072) -> Vec<u8> {
    let bytes = x.to_be_bytes();
    let bytes = bytes.as_slice();
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    let mut out = Vec::with_capacity(BYTES + 1);
    if start == bytes.len() || bytes[start] & 0x80 != 0 {
        out.push(0);
    }
    out.extend_from_slice(&bytes[start..]);
    out
}

/// A salt as it is sent in `SALT`: clients pad the hex string (pycognito) or the
/// integer it denotes (the JavaScript SDK), and a salt in padded form reads the same
/// either way.
fn salt_hex(raw: &[u8]) -> String {
    hex::encode(pad(&from_bytes(raw).unwrap_or_default()))
}

fn salt_bytes(salt: &str) -> Option<Vec<u8>> {
    Some(pad(&parse_hex(salt)?))
}

fn private_key(pool_name: &str, user_id: &str, password: &str, salt: &[u8]) -> U256 {
    let identity = sha256(&[
        pool_name.as_bytes(),
        user_id.as_bytes(),
        b":",
        password.as_bytes(),
    ]);
    U256::from_be_slice(&sha256(&[salt, &identity]))
}

/// The verifier of a password under `salt` (hex, as sent in `SALT`).
pub fn verifier_for(pool_id: &str, user_id: &str, password: &str, salt: &str) -> Option<Verifier> {
    let x = private_key(pool_name(pool_id), user_id, password, &salt_bytes(salt)?);
    let v = g_pow(&x).retrieve();
    Some(Verifier {
        salt: salt.to_owned(),
        verifier: hex::encode(v.to_be_bytes().as_slice()),
    })
}

/// A fresh salt and the verifier of `password` for the user `user_id` (the internal
/// username, Cognito's `USER_ID_FOR_SRP`). About one 3072-bit exponentiation.
pub fn new_verifier(pool_id: &str, user_id: &str, password: &str) -> Option<Verifier> {
    let mut raw = [0u8; 16];
    aws_lc_rs::rand::fill(&mut raw).ok()?;
    verifier_for(pool_id, user_id, password, &salt_hex(&raw))
}

/// A salt and verifier that look real, derived from `key` and the name so that asking
/// twice for a user who does not exist gives the same salt.
pub fn decoy_verifier(key: &[u8], pool_id: &str, username: &str) -> Verifier {
    let salt = hmac_sha256(
        key,
        &[b"salt/", pool_id.as_bytes(), b"/", username.as_bytes()],
    );
    let mut v = Vec::with_capacity(BYTES);
    for block in 0u8..12 {
        v.extend_from_slice(&hmac_sha256(
            key,
            &[&[block], pool_id.as_bytes(), username.as_bytes()],
        ));
    }
    // Below 2^3071 < N, so a residue as it is.
    v[0] &= 0x7f;
    Verifier {
        salt: salt_hex(&salt[..16]),
        verifier: hex::encode(v),
    }
}

impl Verifier {
    fn value(&self) -> Option<U3072> {
        from_bytes(&hex::decode(&self.verifier).ok()?)
    }
}

/// The server's ephemeral secret b: 256 random bits.
pub fn random_secret() -> Option<U256> {
    let mut raw = [0u8; 32];
    aws_lc_rs::rand::fill(&mut raw).ok()?;
    Some(U256::from_be_slice(&raw))
}

pub fn secret_to_hex(b: &U256) -> String {
    hex::encode(b.to_be_bytes().as_slice())
}

pub fn secret_from_hex(hex: &str) -> Option<U256> {
    let bytes = hex::decode(hex).ok()?;
    (bytes.len() == 32).then(|| U256::from_be_slice(&bytes))
}

/// B = (k·v + g^b) mod N.
pub fn server_public(verifier: &Verifier, b: &U256) -> Option<U3072> {
    let group = &*GROUP;
    let v = Residue::new(&verifier.value()?, &group.params);
    Some((group.k * v + g_pow(b)).retrieve())
}

/// Whether A ≡ 0 (mod N), which the server must refuse.
pub fn is_zero_mod_n(a: &U3072) -> bool {
    // A is public: variable time is fine here.
    Residue::new(a, &GROUP.params).retrieve().is_zero_vartime()
}

/// u = H(pad(A) | pad(B)) and the shared secret S = (A · v^u)^b mod N.
fn shared_secret(a: &U3072, big_b: &U3072, b: &U256, v: &U3072) -> Result<(U256, U3072), SrpError> {
    if is_zero_mod_n(a) {
        return Err(SrpError::IllegalParameter);
    }
    let u = U256::from_be_slice(&sha256(&[&pad(a), &pad(big_b)]));
    if u.is_zero_vartime() {
        return Err(SrpError::IllegalParameter);
    }
    let params = &GROUP.params;
    let v = Residue::new(v, params);
    let base = Residue::new(a, params) * v.pow_bounded_exp(&u, EXPONENT_BITS);
    Ok((u, base.pow_bounded_exp(b, EXPONENT_BITS).retrieve()))
}

/// HKDF-SHA256 with salt pad(u), input pad(S) and Cognito's info, 16 bytes.
fn derive_key(u: &U256, s: &U3072) -> [u8; 16] {
    let prk = hmac_sha256(&pad(&u.resize()), &[&pad(s)]);
    let okm = hmac_sha256(&prk, &[HKDF_INFO, &[1]]);
    let mut key = [0u8; 16];
    key.copy_from_slice(&okm[..16]);
    key
}

/// The session key the client derives if it knows the password behind `verifier`.
pub fn session_key(
    a: &U3072,
    big_b: &U3072,
    b: &U256,
    verifier: &Verifier,
) -> Result<[u8; 16], SrpError> {
    let v = verifier.value().ok_or(SrpError::IllegalParameter)?;
    let (u, s) = shared_secret(a, big_b, b, &v)?;
    Ok(derive_key(&u, &s))
}

/// `PASSWORD_CLAIM_SIGNATURE` as raw bytes.
pub fn claim_signature(
    key: &[u8; 16],
    pool_id: &str,
    user_id: &str,
    secret_block: &[u8],
    timestamp: &str,
) -> [u8; 32] {
    hmac_sha256(
        key,
        &[
            pool_name(pool_id).as_bytes(),
            user_id.as_bytes(),
            secret_block,
            timestamp.as_bytes(),
        ],
    )
}

/// A device's verifier as `ConfirmDevice` gave it (`DeviceSecretVerifierConfig`, the
/// bytes of the padded salt and verifier), in the form the ceremony uses. For devices
/// the "pool name" of the hashes is the `DeviceGroupKey` and the user id the
/// `DeviceKey` (amazon-cognito-identity-js `generateHashDevice` / `getDeviceResponse`).
pub fn device_verifier(password_verifier: &[u8], salt: &[u8]) -> Option<Verifier> {
    let v = from_bytes(password_verifier)?;
    let salt = from_bytes(salt)?;
    if v.is_zero_vartime() || salt.is_zero_vartime() {
        return None;
    }
    Some(Verifier {
        salt: hex::encode(pad(&salt)),
        verifier: hex::encode(v.to_be_bytes().as_slice()),
    })
}

/// `PASSWORD_CLAIM_SIGNATURE` of a device: HMAC(key, groupKey | deviceKey | block | time).
pub fn device_claim_signature(
    key: &[u8; 16],
    device_group_key: &str,
    device_key: &str,
    secret_block: &[u8],
    timestamp: &str,
) -> [u8; 32] {
    hmac_sha256(
        key,
        &[
            device_group_key.as_bytes(),
            device_key.as_bytes(),
            secret_block,
            timestamp.as_bytes(),
        ],
    )
}

/// Whether `given` is the right signature, compared in constant time.
pub fn signature_matches(expected: &[u8; 32], given: &[u8]) -> bool {
    bool::from(expected.as_slice().ct_eq(given))
}

/// Cognito's `TIMESTAMP`: `Tue Nov 4 10:00:05 UTC 2025`, the day not zero-padded.
pub fn timestamp(unix_seconds: i64) -> String {
    const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = unix_seconds.div_euclid(86_400);
    let second_of_day = unix_seconds.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    // 1970-01-01 was a Thursday.
    let weekday = DAYS[usize::try_from((days + 4).rem_euclid(7)).unwrap_or(0)];
    let month = MONTHS[usize::try_from(month - 1).unwrap_or(0)];
    format!(
        "{weekday} {month} {day} {:02}:{:02}:{:02} UTC {year}",
        second_of_day / 3_600,
        second_of_day / 60 % 60,
        second_of_day % 60
    )
}

/// The client's side, for load generation and tests (the server never runs it): the
/// public A = g^a and, given the server's answer, the session key the client derives,
/// S = (B - k·g^x)^(a + u·x). Variable time is acceptable in a client of our own.
pub mod client {
    use super::*;

    /// A = g^a mod N, in the hex a client sends as `SRP_A`.
    pub fn public(a: &U256) -> String {
        to_hex(&GROUP.g.pow_bounded_exp(a, EXPONENT_BITS).retrieve())
    }

    /// The session key for `password`, from the server's `SALT` and `SRP_B`.
    pub fn session_key(
        pool_id: &str,
        user_id: &str,
        password: &str,
        a: &U256,
        salt: &str,
        big_b: &str,
    ) -> Option<[u8; 16]> {
        named_session_key(pool_name(pool_id), user_id, password, a, salt, big_b)
    }

    /// What a client sends to `ConfirmDevice` for a device password: the bytes of the
    /// padded verifier and of the padded salt (`DeviceSecretVerifierConfig`, before
    /// base64), as `generateHashDevice` computes them.
    pub fn device_secret_verifier(
        device_group_key: &str,
        device_key: &str,
        password: &str,
        raw_salt: &[u8; 16],
    ) -> (Vec<u8>, Vec<u8>) {
        let salt = pad(&from_bytes(raw_salt).unwrap_or_default());
        let x = private_key(device_group_key, device_key, password, &salt);
        let v = g_pow(&x).retrieve();
        (pad(&v), salt)
    }

    /// The session key of a device (`getDeviceResponse`): the group key in place of the
    /// pool name and the device key in place of the user.
    pub fn named_session_key(
        name: &str,
        user_id: &str,
        password: &str,
        a: &U256,
        salt: &str,
        big_b: &str,
    ) -> Option<[u8; 16]> {
        let group = &*GROUP;
        let big_a = group.g.pow_bounded_exp(a, EXPONENT_BITS).retrieve();
        let big_b = parse_hex(big_b)?;
        let u = U256::from_be_slice(&sha256(&[&pad(&big_a), &pad(&big_b)]));
        let x = private_key(name, user_id, password, &salt_bytes(salt)?);
        let gx = group.g.pow_bounded_exp(&x, EXPONENT_BITS);
        let base = Residue::new(&big_b, &group.params) - group.k * gx;
        // a + u·x < 2^513: fits the group's width with room to spare.
        let exponent: U3072 = u
            .resize::<LIMBS>()
            .wrapping_mul(&x.resize::<LIMBS>())
            .wrapping_add(&a.resize::<LIMBS>());
        let s = base
            .pow_bounded_exp(&exponent, 2 * EXPONENT_BITS + 1)
            .retrieve();
        Some(derive_key(&u, &s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use serde_json::Value;

    #[test]
    fn the_client_side_derives_the_key_the_server_derives_only_with_the_password() {
        let (pool, user, password) = ("us-east-1_AbCdEf123", "alice", "Secret!Pass1");
        let verifier = new_verifier(pool, user, password).unwrap();
        let (a, b) = (random_secret().unwrap(), random_secret().unwrap());
        let big_a = parse_hex(&client::public(&a)).unwrap();
        let big_b = to_hex(&server_public(&verifier, &b).unwrap());
        let server = session_key(&big_a, &parse_hex(&big_b).unwrap(), &b, &verifier).unwrap();
        let key = |password| {
            client::session_key(pool, user, password, &a, &verifier.salt, &big_b).unwrap()
        };
        assert_eq!(key(password), server);
        assert_ne!(key("Wrong!Pass1"), server);
    }

    #[test]
    fn a_device_proves_its_password_under_its_group_and_device_key() {
        let (group, device, password) = ("-AbCdEf12", "us-east-1_0b3e9b4e-2b7c", "device-pw");
        // A salt whose top bit is set: sent with its padding zero byte.
        let raw_salt = [0x9a; 16];
        let (v, salt) = client::device_secret_verifier(group, device, password, &raw_salt);
        assert_eq!(salt[0], 0);
        let verifier = device_verifier(&v, &salt).unwrap();
        assert_eq!(verifier.salt, format!("00{}", "9a".repeat(16)));
        let (a, b) = (random_secret().unwrap(), random_secret().unwrap());
        let big_a = parse_hex(&client::public(&a)).unwrap();
        let big_b = to_hex(&server_public(&verifier, &b).unwrap());
        let server = session_key(&big_a, &parse_hex(&big_b).unwrap(), &b, &verifier).unwrap();
        let key = |name: &str, password: &str| {
            client::named_session_key(name, device, password, &a, &verifier.salt, &big_b).unwrap()
        };
        assert_eq!(key(group, password), server);
        assert_ne!(key(group, "other"), server);
        // The pool's name in place of the group key is a different key.
        assert_ne!(key("AbCdEf12", password), server);
        let block = [7u8; 64];
        let time = timestamp(1_700_000_000);
        let expected = device_claim_signature(&server, group, device, &block, &time);
        let given = device_claim_signature(&key(group, password), group, device, &block, &time);
        assert!(signature_matches(&expected, &given));
        assert!(device_verifier(&[], &salt).is_none());
    }

    const VECTORS: &str = include_str!("../tests/data/cognito-srp-vectors.json");

    fn vectors() -> Value {
        serde_json::from_str(VECTORS).expect("vectors parse")
    }

    fn int(v: &Value, name: &str) -> U3072 {
        parse_hex(v[name].as_str().expect(name)).expect(name)
    }

    #[test]
    fn powers_of_g_from_the_table_are_powers_of_g() {
        let max = U256::MAX;
        let mut exponents = vec![U256::ZERO, U256::ONE, U256::from_u8(16), max];
        exponents.extend((0..8).map(|_| random_secret().unwrap()));
        for e in exponents {
            assert_eq!(
                g_pow(&e).retrieve(),
                GROUP.g.pow_bounded_exp(&e, EXPONENT_BITS).retrieve(),
                "{e}"
            );
        }
    }

    #[test]
    fn the_group_is_cognitos() {
        let all = vectors();
        assert_eq!(N_HEX, all["N_hex"].as_str().unwrap());
        let k = GROUP.k.retrieve();
        assert_eq!(k, int(&all, "k_hex"));
        assert_eq!(all["hkdf_info"].as_str().unwrap().as_bytes(), HKDF_INFO);
    }

    #[test]
    fn every_vector_agrees_with_pycognito() {
        let all = vectors();
        for v in all["vectors"].as_array().unwrap() {
            let s = |name: &str| v[name].as_str().expect(name);
            let verifier = verifier_for(
                s("pool_id"),
                s("user_id_for_srp"),
                s("password"),
                s("salt_hex"),
            )
            .unwrap();
            assert_eq!(
                verifier.value().unwrap(),
                int(v, "verifier_hex"),
                "verifier"
            );
            assert_eq!(pool_name(s("pool_id")), s("pool_name"));

            let b = U256::from_be_slice(&hex::decode(s("server_secret_b_hex")).unwrap());
            let big_b = server_public(&verifier, &b).unwrap();
            assert_eq!(big_b, int(v, "SRP_B"), "B");
            let a = int(v, "SRP_A");
            let (u, secret) = shared_secret(&a, &big_b, &b, &verifier.value().unwrap()).unwrap();
            assert_eq!(u.resize::<LIMBS>(), int(v, "u_hex"), "u");
            assert_eq!(secret, int(v, "S_hex"), "S");
            let key = session_key(&a, &big_b, &b, &verifier).unwrap();
            assert_eq!(hex::encode(key), s("hkdf_key_hex"), "key");

            let block = STANDARD.decode(s("SECRET_BLOCK")).unwrap();
            let expected = claim_signature(
                &key,
                s("pool_id"),
                s("user_id_for_srp"),
                &block,
                s("TIMESTAMP"),
            );
            let given = STANDARD.decode(s("PASSWORD_CLAIM_SIGNATURE")).unwrap();
            assert!(signature_matches(&expected, &given));
            let wrong =
                verifier_for(s("pool_id"), s("user_id_for_srp"), "wrong", s("salt_hex")).unwrap();
            let wrong_key = session_key(&a, &big_b, &b, &wrong).unwrap();
            let forged = claim_signature(
                &wrong_key,
                s("pool_id"),
                s("user_id_for_srp"),
                &block,
                s("TIMESTAMP"),
            );
            assert!(!signature_matches(&forged, &given));
            assert!(!signature_matches(&expected, &given[..31]));
        }
    }

    #[test]
    fn a_multiple_of_n_is_refused() {
        let verifier = new_verifier("us-east-1_x", "alice", "pw").unwrap();
        let b = random_secret().unwrap();
        let big_b = server_public(&verifier, &b).unwrap();
        let n = parse_hex(N_HEX).unwrap();
        for a in [U3072::ZERO, n] {
            assert!(is_zero_mod_n(&a));
            assert_eq!(
                session_key(&a, &big_b, &b, &verifier),
                Err(SrpError::IllegalParameter)
            );
        }
        assert!(!is_zero_mod_n(&U3072::from_u8(2)));
        // Wider than the group: not an integer we accept at all.
        assert!(parse_hex(&"f".repeat(770)).is_none());
    }

    #[test]
    fn the_timestamp_has_an_unpadded_day() {
        assert_eq!(timestamp(1_762_250_405), "Tue Nov 4 10:00:05 UTC 2025");
        assert_eq!(timestamp(0), "Thu Jan 1 00:00:00 UTC 1970");
        assert_eq!(timestamp(1_769_817_599), "Fri Jan 30 23:59:59 UTC 2026");
        assert_eq!(timestamp(1_709_164_800), "Thu Feb 29 00:00:00 UTC 2024");
    }

    #[test]
    fn salts_are_sent_padded_and_decoys_are_stable() {
        assert_eq!(salt_hex(&[0x00, 0x8a, 0x01]), "008a01");
        assert_eq!(salt_hex(&[0x00, 0x00, 0x7a]), "7a");
        let one = decoy_verifier(b"key", "us-east-1_x", "nobody");
        assert_eq!(one, decoy_verifier(b"key", "us-east-1_x", "nobody"));
        assert_ne!(one, decoy_verifier(b"key", "us-east-1_x", "somebody"));
        assert!(server_public(&one, &random_secret().unwrap()).is_some());
    }
}
