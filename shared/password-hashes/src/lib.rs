//! Stored password hashes, as the sign-in core verifies them and an import checks them:
//! argon2 PHC strings ([`Argon2Hash`], within cost limits), and hashes brought from
//! other systems ([`imported`]). Verifying is CPU-heavy and left to the caller's
//! hashing workers; this crate only reads, checks and (for imports) verifies.

pub mod imported;

use argon2::password_hash::phc::{Output, PasswordHash, Salt};
use argon2::{Algorithm, Params, Version};

pub use imported::{Imported, InvalidHash, UNSUPPORTED, normalize};

/// Stored hashes asking for more than these are refused rather than computed: an
/// imported or corrupted hash must not make a worker allocate gigabytes or spin for
/// seconds. Generous enough for common imports (Keycloak: m=7168,t=5; RFC 9106 second
/// recommendation: m=65536,t=3,p=4).
const MAX_M_COST: u32 = 131_072;
const MAX_T_COST: u32 = 10;
const MAX_P_COST: u32 = 8;

/// The parts of a stored argon2 PHC string needed to recompute it.
pub struct Argon2Hash {
    pub algorithm: Algorithm,
    pub version: Version,
    pub params: Params,
    pub salt: Salt,
    pub hash: Output,
}

impl Argon2Hash {
    /// Reads `phc`, refusing costs beyond the limits.
    pub fn parse(phc: &str) -> Result<Self, InvalidHash> {
        let parsed = PasswordHash::new(phc).map_err(|_| InvalidHash)?;
        let algorithm = Algorithm::try_from(parsed.algorithm.as_str()).map_err(|_| InvalidHash)?;
        // The reference implementation reads a missing `v=` as version 0x10.
        let version = parsed
            .version
            .map_or(Ok(Version::V0x10), Version::try_from)
            .map_err(|_| InvalidHash)?;
        let params = Params::try_from(&parsed).map_err(|_| InvalidHash)?;
        let within = params.m_cost() <= MAX_M_COST
            && params.t_cost() <= MAX_T_COST
            && params.p_cost() <= MAX_P_COST;
        if !within {
            return Err(InvalidHash);
        }
        Ok(Self {
            algorithm,
            version,
            params,
            salt: parsed.salt.ok_or(InvalidHash)?,
            hash: parsed.hash.ok_or(InvalidHash)?,
        })
    }
}

/// Whether a hashing worker can verify `stored`: an argon2 PHC string or an imported
/// hash, within the cost limits.
#[must_use]
pub fn accepts(stored: &str) -> bool {
    match Imported::parse(stored) {
        Some(imported) => imported.is_ok(),
        None => Argon2Hash::parse(stored).is_ok(),
    }
}
