//! Password hashes brought from another system: bcrypt, scrypt, PBKDF2 (SHA-1, SHA-256,
//! SHA-512) and argon2 (i, d, id), as PHC strings or in the forms common exporters
//! write (passlib, Django, a Keycloak realm export's credential). [`normalize`] turns an
//! import into the one form stored for each algorithm; the hashing pool's workers
//! verify a stored hash of any of them, and the first sign-in that proves the password
//! replaces it with an argon2id hash.
//!
//! Stored forms:
//! - argon2: the PHC string (`$argon2id$v=19$m=..,t=..,p=..$<salt>$<hash>`);
//! - bcrypt: `$2a$`, `$2b$` or `$2y$` with its cost, salt and hash;
//! - scrypt: `$scrypt$ln=<log2 N>,r=<r>,p=<p>$<salt>$<hash>`;
//! - PBKDF2: `$pbkdf2-<sha1|sha256|sha512>$i=<iterations>$<salt>$<hash>`;
//!
//! salts and hashes in unpadded standard base64, as PHC writes them.

use std::num::NonZeroU32;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use serde_json::Value;
use subtle::ConstantTimeEq as _;

/// A stored hash that cannot be verified: malformed, or beyond the cost limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidHash;

/// Costs above these are refused at import and never computed: a hash must not make a
/// hashing worker spin for seconds or allocate more than 128 MiB.
const MAX_BCRYPT_COST: u32 = 16;
const MAX_PBKDF2_ITERATIONS: u32 = 2_000_000;
const MAX_SCRYPT_MEMORY: u64 = 128 * 1024 * 1024;
const MAX_SCRYPT_P: u32 = 4;

/// A hash of another algorithm than argon2, ready to verify.
#[derive(Debug, PartialEq, Eq)]
pub enum Imported {
    Bcrypt(String),
    Scrypt {
        log_n: u8,
        r: u32,
        p: u32,
        salt: Vec<u8>,
        hash: Vec<u8>,
    },
    Pbkdf2 {
        digest: Digest,
        iterations: NonZeroU32,
        salt: Vec<u8>,
        hash: Vec<u8>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Digest {
    Sha1,
    Sha256,
    Sha512,
}

impl Digest {
    fn parse(name: &str) -> Option<Self> {
        match name {
            "sha1" => Some(Self::Sha1),
            "sha256" => Some(Self::Sha256),
            "sha512" => Some(Self::Sha512),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Sha1 => "sha1",
            Self::Sha256 => "sha256",
            Self::Sha512 => "sha512",
        }
    }

    fn algorithm(self) -> aws_lc_rs::pbkdf2::Algorithm {
        match self {
            Self::Sha1 => aws_lc_rs::pbkdf2::PBKDF2_HMAC_SHA1,
            Self::Sha256 => aws_lc_rs::pbkdf2::PBKDF2_HMAC_SHA256,
            Self::Sha512 => aws_lc_rs::pbkdf2::PBKDF2_HMAC_SHA512,
        }
    }
}

impl Imported {
    /// The imported hash `stored` holds, `None` for an argon2 PHC string (or anything
    /// else, which the argon2 reader then refuses).
    pub fn parse(stored: &str) -> Option<Result<Self, InvalidHash>> {
        if stored.starts_with("$2a$") || stored.starts_with("$2b$") || stored.starts_with("$2y$") {
            return Some(bcrypt_cost(stored).map(|_| Self::Bcrypt(stored.to_owned())));
        }
        let rest = stored.strip_prefix('$')?;
        let parts: Vec<&str> = rest.split('$').collect();
        let [algorithm, params, salt, hash] = parts.as_slice() else {
            return None;
        };
        let decode = |text: &str| STANDARD_NO_PAD.decode(text).map_err(|_| InvalidHash);
        let param = |name: &str| {
            params
                .split(',')
                .find_map(|p| p.strip_prefix(name)?.strip_prefix('='))
                .and_then(|v| v.parse::<u32>().ok())
                .ok_or(InvalidHash)
        };
        let parsed = if *algorithm == "scrypt" {
            (|| {
                let log_n = u8::try_from(param("ln")?).map_err(|_| InvalidHash)?;
                let (r, p) = (param("r")?, param("p")?);
                scrypt_limits(log_n, r, p)?;
                Ok(Self::Scrypt {
                    log_n,
                    r,
                    p,
                    salt: decode(salt)?,
                    hash: decode(hash)?,
                })
            })()
        } else {
            let digest = Digest::parse(algorithm.strip_prefix("pbkdf2-")?)?;
            (|| {
                let iterations = param("i")?;
                if iterations > MAX_PBKDF2_ITERATIONS {
                    return Err(InvalidHash);
                }
                Ok(Self::Pbkdf2 {
                    digest,
                    iterations: NonZeroU32::new(iterations).ok_or(InvalidHash)?,
                    salt: decode(salt)?,
                    hash: decode(hash)?,
                })
            })()
        };
        Some(parsed)
    }

    /// Whether `password` is the one hashed. CPU-heavy: run on a hashing worker.
    pub fn verify(&self, password: &[u8]) -> Result<bool, InvalidHash> {
        match self {
            Self::Bcrypt(stored) => bcrypt::verify(password, stored).map_err(|_| InvalidHash),
            Self::Scrypt {
                log_n,
                r,
                p,
                salt,
                hash,
            } => {
                let params =
                    scrypt::Params::new(*log_n, *r, *p, hash.len()).map_err(|_| InvalidHash)?;
                let mut out = vec![0u8; hash.len()];
                scrypt::scrypt(password, salt, &params, &mut out).map_err(|_| InvalidHash)?;
                Ok(bool::from(out.ct_eq(hash)))
            }
            Self::Pbkdf2 {
                digest,
                iterations,
                salt,
                hash,
            } => Ok(aws_lc_rs::pbkdf2::verify(
                digest.algorithm(),
                *iterations,
                salt,
                password,
                hash,
            )
            .is_ok()),
        }
    }
}

fn bcrypt_cost(stored: &str) -> Result<u32, InvalidHash> {
    let cost = stored
        .get(4..6)
        .and_then(|c| c.parse::<u32>().ok())
        .filter(|c| (4..=MAX_BCRYPT_COST).contains(c));
    match cost {
        Some(cost) if stored.len() == 60 && stored.as_bytes().get(6) == Some(&b'$') => Ok(cost),
        _ => Err(InvalidHash),
    }
}

fn scrypt_limits(log_n: u8, r: u32, p: u32) -> Result<(), InvalidHash> {
    let memory = 128u64
        .saturating_mul(u64::from(r))
        .saturating_mul(1u64.checked_shl(u32::from(log_n)).unwrap_or(u64::MAX));
    let ok = (1..=40).contains(&log_n) && r > 0 && (1..=MAX_SCRYPT_P).contains(&p);
    (ok && memory <= MAX_SCRYPT_MEMORY)
        .then_some(())
        .ok_or(InvalidHash)
}

/// Why an import was refused.
pub const UNSUPPORTED: &str = "The password hash is not in a supported format: bcrypt, scrypt, PBKDF2 or argon2, as a PHC string, a passlib or Django hash, or a Keycloak credential.";

/// The stored form of an imported hash given in any of the accepted forms; `None` for a
/// Keycloak credential that cannot be read. Whether the result can be verified (and is
/// within the cost limits) is for the caller to check.
pub fn normalize(input: &str) -> Option<String> {
    let input = input.trim();
    if input.starts_with('{') {
        return keycloak(input);
    }
    Some(
        django(input)
            .or_else(|| passlib(input))
            .unwrap_or_else(|| input.to_owned()),
    )
}

fn pbkdf2_form(digest: Digest, iterations: u64, salt: &[u8], hash: &[u8]) -> String {
    format!(
        "$pbkdf2-{}$i={iterations}${}${}",
        digest.name(),
        STANDARD_NO_PAD.encode(salt),
        STANDARD_NO_PAD.encode(hash)
    )
}

/// Django: `pbkdf2_sha256$<iterations>$<salt text>$<base64 hash>`.
fn django(input: &str) -> Option<String> {
    let parts: Vec<&str> = input.split('$').collect();
    let [algorithm, iterations, salt, hash] = parts.as_slice() else {
        return None;
    };
    let digest = Digest::parse(algorithm.strip_prefix("pbkdf2_")?)?;
    let iterations = iterations.parse().ok()?;
    let hash = STANDARD.decode(hash).ok()?;
    Some(pbkdf2_form(digest, iterations, salt.as_bytes(), &hash))
}

/// passlib: `$pbkdf2-sha256$<iterations>$<salt>$<hash>` in its base64 (`.` for `+`,
/// unpadded); its `$pbkdf2$` is SHA-1.
fn passlib(input: &str) -> Option<String> {
    let parts: Vec<&str> = input.strip_prefix('$')?.split('$').collect();
    let [algorithm, iterations, salt, hash] = parts.as_slice() else {
        return None;
    };
    let digest = match *algorithm {
        "pbkdf2" => Digest::Sha1,
        other => Digest::parse(other.strip_prefix("pbkdf2-")?)?,
    };
    let iterations = iterations.parse().ok()?;
    let decode = |text: &str| STANDARD_NO_PAD.decode(text.replace('.', "+")).ok();
    Some(pbkdf2_form(
        digest,
        iterations,
        &decode(salt)?,
        &decode(hash)?,
    ))
}

/// A Keycloak realm export's password credential: `secretData` (`value`, `salt`, both
/// base64) and `credentialData` (`algorithm`, `hashIterations`, and for argon2 its
/// `additionalParameters`), each a JSON string or object.
fn keycloak(input: &str) -> Option<String> {
    let credential: Value = serde_json::from_str(input).ok()?;
    let member = |name: &str| match credential.get(name)? {
        Value::String(text) => serde_json::from_str::<Value>(text).ok(),
        other => Some(other.clone()),
    };
    let secret = member("secretData")?;
    let data = member("credentialData")?;
    let hash = STANDARD.decode(secret.get("value")?.as_str()?).ok()?;
    let salt = STANDARD.decode(secret.get("salt")?.as_str()?).ok()?;
    let iterations = data.get("hashIterations")?.as_u64()?;
    match data.get("algorithm")?.as_str()? {
        "pbkdf2" => Some(pbkdf2_form(Digest::Sha1, iterations, &salt, &hash)),
        "pbkdf2-sha256" => Some(pbkdf2_form(Digest::Sha256, iterations, &salt, &hash)),
        "pbkdf2-sha512" => Some(pbkdf2_form(Digest::Sha512, iterations, &salt, &hash)),
        "argon2" => {
            // Keycloak lists each parameter as a one-element array of strings.
            let extra = data.get("additionalParameters")?;
            let param = |name: &str| -> Option<String> {
                match extra.get(name)? {
                    Value::Array(values) => values.first()?.as_str().map(str::to_owned),
                    Value::String(value) => Some(value.clone()),
                    other => Some(other.to_string()),
                }
            };
            let variant = param("type").unwrap_or_else(|| "id".into());
            let version = match param("version").as_deref() {
                Some("1.0") => 16,
                _ => 19,
            };
            Some(format!(
                "$argon2{variant}$v={version}$m={},t={iterations},p={}${}${}",
                param("memory")?,
                param("parallelism")?,
                STANDARD_NO_PAD.encode(&salt),
                STANDARD_NO_PAD.encode(&hash)
            ))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accepted(input: &str) -> bool {
        normalize(input)
            .and_then(|stored| Imported::parse(&stored))
            .is_some_and(|parsed| parsed.is_ok())
    }

    fn verifies(stored: &str, password: &str) -> bool {
        match Imported::parse(stored) {
            Some(imported) => imported.unwrap().verify(password.as_bytes()).unwrap(),
            None => panic!("{stored} is not an imported hash"),
        }
    }

    #[test]
    fn pbkdf2_forms_verify() {
        // PBKDF2-HMAC-SHA256("password", "salt", 1 iteration, 32 bytes), the common
        // published vector.
        let hash = hex("120fb6cffcf8b32c43e7225256c4f837a86548c92ccc35480805987cb70be17b");
        let stored = pbkdf2_form(Digest::Sha256, 1, b"salt", &hash);
        assert!(verifies(&stored, "password"));
        assert!(!verifies(&stored, "passwore"));
        // RFC 6070: PBKDF2-HMAC-SHA1("password", "salt", 4096, 20 bytes).
        let sha1 = hex("4b007901b765489abead49d926f721d065a429c1");
        let django_form = format!("pbkdf2_sha1$4096$salt${}", STANDARD.encode(&sha1));
        let stored = normalize(&django_form).unwrap();
        assert_eq!(stored, pbkdf2_form(Digest::Sha1, 4096, b"salt", &sha1));
        assert!(verifies(&stored, "password"));
        let passlib_form = format!(
            "$pbkdf2$4096${}${}",
            STANDARD_NO_PAD.encode(b"salt").replace('+', "."),
            STANDARD_NO_PAD.encode(&sha1).replace('+', ".")
        );
        assert_eq!(normalize(&passlib_form).unwrap(), stored);
    }

    #[test]
    fn keycloak_credentials_are_read() {
        let hash = hex("120fb6cffcf8b32c43e7225256c4f837a86548c92ccc35480805987cb70be17b");
        let secret = serde_json::json!({"value": STANDARD.encode(&hash),
                                        "salt": STANDARD.encode(b"salt"),
                                        "additionalParameters": {}});
        let data = serde_json::json!({"hashIterations": 1, "algorithm": "pbkdf2-sha256",
                                      "additionalParameters": {}});
        let credential = serde_json::json!({
            "type": "password",
            "secretData": secret.to_string(),
            "credentialData": data.to_string(),
        });
        let stored = normalize(&credential.to_string()).unwrap();
        assert!(verifies(&stored, "password"));

        let argon = serde_json::json!({
            "type": "password",
            "secretData": {"value": STANDARD.encode([1u8; 32]), "salt": STANDARD.encode([2u8; 16])},
            "credentialData": {"hashIterations": 5, "algorithm": "argon2", "additionalParameters":
                {"hashLength": ["32"], "memory": ["7168"], "type": ["id"], "version": ["1.3"],
                 "parallelism": ["1"]}},
        });
        let stored = normalize(&argon.to_string()).unwrap();
        assert!(
            stored.starts_with("$argon2id$v=19$m=7168,t=5,p=1$"),
            "{stored}"
        );
    }

    #[test]
    fn bcrypt_and_scrypt_verify() {
        // A bcrypt hash of "password" at cost 4.
        let stored = bcrypt::hash_with_salt("password", 4, [3u8; 16])
            .unwrap()
            .format_for_version(bcrypt::Version::TwoB);
        assert_eq!(normalize(&stored).unwrap(), stored);
        assert!(verifies(&stored, "password"));
        assert!(!verifies(&stored, "Password"));
        // RFC 7914: scrypt("password", "NaCl", N=1024, r=8, p=16) — p above our limit, so
        // the same inputs with p=1, computed here, stand in.
        let params = scrypt::Params::new(10, 8, 1, 32).unwrap();
        let mut out = [0u8; 32];
        scrypt::scrypt(b"password", b"NaCl", &params, &mut out).unwrap();
        let stored = format!(
            "$scrypt$ln=10,r=8,p=1${}${}",
            STANDARD_NO_PAD.encode(b"NaCl"),
            STANDARD_NO_PAD.encode(out)
        );
        assert!(verifies(&stored, "password"));
        assert!(!verifies(&stored, "passw0rd"));
    }

    #[test]
    fn costly_or_malformed_hashes_are_refused() {
        let salt = STANDARD_NO_PAD.encode(b"salt");
        for stored in [
            format!("$pbkdf2-sha256$i=5000000${salt}${salt}"),
            format!("$scrypt$ln=20,r=8,p=1${salt}${salt}"),
            format!("$scrypt$ln=10,r=8,p=16${salt}${salt}"),
            format!("$pbkdf2-md5$i=1000${salt}${salt}"),
            "$2b$31$abcdefghijklmnopqrstuu5ZAYxWvcodTxyX8b6qsHMY7U.QhWc2K".into(),
            "plaintext".into(),
            "{\"type\": \"password\"}".into(),
        ] {
            assert!(!accepted(&stored), "{stored}");
        }
    }

    fn hex(text: &str) -> Vec<u8> {
        (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
            .collect()
    }
}
