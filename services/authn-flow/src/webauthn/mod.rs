//! WebAuthn (passkeys), the relying party's half: the options a browser or
//! authenticator gets, and the checks on what comes back, per the W3C WebAuthn Level 2
//! registration (§7.1) and authentication (§7.2) procedures. Attestation is not asked
//! for (`attestation: "none"`), so its statement is not checked; the credential's key
//! is trusted on first use, as passkey relying parties do.

pub mod cbor;

use aws_lc_rs::digest;
use aws_lc_rs::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};
use base64::Engine;
use base64::alphabet::URL_SAFE;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};

/// base64url as WebAuthn writes it (no padding), reading either form.
pub const B64URL: GeneralPurpose = GeneralPurpose::new(
    &URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

const FLAG_USER_PRESENT: u8 = 0x01;
const FLAG_USER_VERIFIED: u8 = 0x04;
const FLAG_ATTESTED_DATA: u8 = 0x40;

/// COSE algorithm identifiers the relying party accepts, in order of preference.
const ES256: i128 = -7;
const EDDSA: i128 = -8;
const RS256: i128 = -257;

/// How long the browser may take, in milliseconds (Cognito uses 3 minutes).
pub const CEREMONY_TIMEOUT_MS: u64 = 180_000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebAuthnError {
    #[error("the credential is malformed: {0}")]
    Malformed(&'static str),
    #[error("the challenge does not match")]
    ChallengeMismatch,
    #[error("the ceremony type is wrong")]
    WrongType,
    #[error("the origin {0} is not allowed")]
    OriginNotAllowed(String),
    #[error("the relying party does not match")]
    RelyingPartyMismatch,
    #[error("the user was not present")]
    UserNotPresent,
    #[error("the user was not verified")]
    UserNotVerified,
    #[error("the credential's key type is not supported")]
    UnsupportedKey,
    #[error("the signature does not verify")]
    BadSignature,
    #[error("the signature counter went backwards: the authenticator may be cloned")]
    CounterWentBack,
}

use WebAuthnError::Malformed;

/// A credential's public key, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "alg")]
pub enum PublicKey {
    /// ECDSA P-256 with SHA-256: the uncompressed point.
    Es256 { point: String },
    /// Ed25519: the 32-byte key.
    EdDsa { key: String },
    /// RSASSA-PKCS1-v1_5 with SHA-256: modulus and exponent, big-endian.
    Rs256 { n: String, e: String },
}

/// A registered passkey.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Passkey {
    /// base64url of the credential id.
    pub credential_id: String,
    pub public_key: PublicKey,
    pub sign_count: u32,
    pub transports: Vec<String>,
    /// `platform` or `cross-platform`, when the client said.
    pub attachment: Option<String>,
    pub relying_party_id: String,
}

/// What a ceremony's response must match.
#[derive(Debug, Clone, Copy)]
pub struct Expected<'a> {
    pub challenge: &'a [u8],
    pub relying_party_id: &'a str,
    pub user_verification_required: bool,
}

/// Whether `origin` may run ceremonies for `rp_id`: HTTPS on the host or a subdomain
/// of it, or plain HTTP on `localhost` for development.
pub fn origin_allowed(origin: &str, rp_id: &str) -> bool {
    let (secure, rest) = if let Some(rest) = origin.strip_prefix("https://") {
        (true, rest)
    } else if let Some(rest) = origin.strip_prefix("http://") {
        (false, rest)
    } else {
        return false;
    };
    if rest.contains(['/', '?', '#', '@']) {
        return false;
    }
    let host = match rest.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) && !port.is_empty() => host,
        Some(_) => return false,
        None => rest,
    };
    let host = host.to_ascii_lowercase();
    let rp_id = rp_id.to_ascii_lowercase();
    let matches = host == rp_id || host.ends_with(&format!(".{rp_id}"));
    matches && (secure || host == "localhost")
}

/// `PublicKeyCredentialCreationOptionsJSON` for registering a passkey.
/// The account a passkey is made for.
#[derive(Debug, Clone, Copy)]
pub struct UserEntity<'a> {
    /// Opaque and stable: never the user name.
    pub handle: &'a [u8],
    pub name: &'a str,
    pub display_name: &'a str,
}

pub fn creation_options(
    rp_id: &str,
    rp_name: &str,
    user: UserEntity<'_>,
    challenge: &[u8],
    existing: &[Passkey],
    user_verification: &str,
) -> Json {
    let exclude: Vec<Json> = existing
        .iter()
        .map(|p| json!({ "type": "public-key", "id": p.credential_id, "transports": p.transports }))
        .collect();
    let params: Vec<Json> = [ES256, EDDSA, RS256]
        .iter()
        .map(|alg| json!({ "type": "public-key", "alg": i64::try_from(*alg).unwrap_or(-7) }))
        .collect();
    json!({
        "challenge": B64URL.encode(challenge),
        "rp": { "id": rp_id, "name": rp_name },
        "user": {
            "id": B64URL.encode(user.handle),
            "name": user.name,
            "displayName": user.display_name,
        },
        "pubKeyCredParams": params,
        "timeout": CEREMONY_TIMEOUT_MS,
        "excludeCredentials": exclude,
        "authenticatorSelection": {
            "residentKey": "required",
            "requireResidentKey": true,
            "userVerification": user_verification,
        },
        "attestation": "none",
        "hints": [],
        "extensions": { "credProps": true },
    })
}

/// `PublicKeyCredentialRequestOptionsJSON` for signing in with one of `allowed`.
pub fn request_options(
    rp_id: &str,
    challenge: &[u8],
    allowed: &[Passkey],
    user_verification: &str,
) -> Json {
    let allow: Vec<Json> = allowed
        .iter()
        .map(|p| json!({ "type": "public-key", "id": p.credential_id, "transports": p.transports }))
        .collect();
    json!({
        "challenge": B64URL.encode(challenge),
        "rpId": rp_id,
        "timeout": CEREMONY_TIMEOUT_MS,
        "allowCredentials": allow,
        "userVerification": user_verification,
    })
}

fn b64_field<'a>(json: &'a Json, name: &'static str) -> Result<Vec<u8>, WebAuthnError> {
    let text: &'a str = json
        .get(name)
        .and_then(Json::as_str)
        .ok_or(Malformed(name))?;
    B64URL.decode(text).map_err(|_| Malformed(name))
}

/// Checks `clientDataJSON` (type, challenge, origin) and returns its SHA-256.
fn client_data(
    raw: &[u8],
    kind: &str,
    expected: &Expected<'_>,
) -> Result<digest::Digest, WebAuthnError> {
    let parsed: Json = serde_json::from_slice(raw).map_err(|_| Malformed("clientDataJSON"))?;
    if parsed.get("type").and_then(Json::as_str) != Some(kind) {
        return Err(WebAuthnError::WrongType);
    }
    if b64_field(&parsed, "challenge")? != expected.challenge {
        return Err(WebAuthnError::ChallengeMismatch);
    }
    let origin = parsed
        .get("origin")
        .and_then(Json::as_str)
        .ok_or(Malformed("origin"))?;
    if !origin_allowed(origin, expected.relying_party_id) {
        return Err(WebAuthnError::OriginNotAllowed(origin.to_owned()));
    }
    if parsed.get("crossOrigin").and_then(Json::as_bool) == Some(true) {
        return Err(WebAuthnError::OriginNotAllowed(origin.to_owned()));
    }
    Ok(digest::digest(&digest::SHA256, raw))
}

/// Authenticator data, parsed.
struct AuthData<'a> {
    sign_count: u32,
    /// With the attested-data flag: credential id and COSE key.
    attested: Option<(&'a [u8], cbor::Value)>,
}

fn auth_data<'a>(raw: &'a [u8], expected: &Expected<'_>) -> Result<AuthData<'a>, WebAuthnError> {
    if raw.len() < 37 {
        return Err(Malformed("authenticatorData"));
    }
    let rp_hash = digest::digest(&digest::SHA256, expected.relying_party_id.as_bytes());
    if raw[..32] != *rp_hash.as_ref() {
        return Err(WebAuthnError::RelyingPartyMismatch);
    }
    let flags = raw[32];
    if flags & FLAG_USER_PRESENT == 0 {
        return Err(WebAuthnError::UserNotPresent);
    }
    if expected.user_verification_required && flags & FLAG_USER_VERIFIED == 0 {
        return Err(WebAuthnError::UserNotVerified);
    }
    let sign_count = u32::from_be_bytes([raw[33], raw[34], raw[35], raw[36]]);
    let attested = if flags & FLAG_ATTESTED_DATA == 0 {
        None
    } else {
        // aaguid (16 bytes), credential id length (2), credential id, COSE key.
        let rest = raw
            .get(37 + 16..)
            .ok_or(Malformed("attestedCredentialData"))?;
        let (len, rest) = rest
            .split_first_chunk::<2>()
            .ok_or(Malformed("attestedCredentialData"))?;
        let len = usize::from(u16::from_be_bytes(*len));
        if len == 0 || len > 1023 || rest.len() < len {
            return Err(Malformed("credentialId"));
        }
        let (id, rest) = rest.split_at(len);
        let (key, _extensions) =
            cbor::decode_prefix(rest).map_err(|_| Malformed("credentialPublicKey"))?;
        Some((id, key))
    };
    Ok(AuthData {
        sign_count,
        attested,
    })
}

fn fixed(value: Option<&cbor::Value>, len: usize) -> Result<&[u8], WebAuthnError> {
    value
        .and_then(cbor::Value::as_bytes)
        .filter(|b| b.len() == len)
        .ok_or(WebAuthnError::UnsupportedKey)
}

/// The COSE key (RFC 9053) of a new credential.
fn public_key(cose: &cbor::Value) -> Result<PublicKey, WebAuthnError> {
    let kty = cose.get_int(1).and_then(cbor::Value::as_int);
    let alg = cose.get_int(3).and_then(cbor::Value::as_int);
    let hex = |b: &[u8]| hex::encode(b);
    match (kty, alg) {
        (Some(2), Some(ES256)) => {
            if cose.get_int(-1).and_then(cbor::Value::as_int) != Some(1) {
                return Err(WebAuthnError::UnsupportedKey);
            }
            let mut point = vec![4u8];
            point.extend_from_slice(fixed(cose.get_int(-2), 32)?);
            point.extend_from_slice(fixed(cose.get_int(-3), 32)?);
            Ok(PublicKey::Es256 { point: hex(&point) })
        }
        (Some(1), Some(EDDSA)) => {
            if cose.get_int(-1).and_then(cbor::Value::as_int) != Some(6) {
                return Err(WebAuthnError::UnsupportedKey);
            }
            Ok(PublicKey::EdDsa {
                key: hex(fixed(cose.get_int(-2), 32)?),
            })
        }
        (Some(3), Some(RS256)) => {
            let n = cose.get_int(-1).and_then(cbor::Value::as_bytes);
            let e = cose.get_int(-2).and_then(cbor::Value::as_bytes);
            match (n, e) {
                (Some(n), Some(e)) if (256..=1024).contains(&n.len()) && e.len() <= 8 => {
                    Ok(PublicKey::Rs256 {
                        n: hex(n),
                        e: hex(e),
                    })
                }
                _ => Err(WebAuthnError::UnsupportedKey),
            }
        }
        _ => Err(WebAuthnError::UnsupportedKey),
    }
}

fn verify_signature(key: &PublicKey, message: &[u8], sig: &[u8]) -> Result<(), WebAuthnError> {
    let unhex = |s: &str| hex::decode(s).map_err(|_| WebAuthnError::UnsupportedKey);
    let checked = match key {
        PublicKey::Es256 { point } => {
            UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_ASN1, unhex(point)?)
                .verify(message, sig)
        }
        PublicKey::EdDsa { key } => {
            UnparsedPublicKey::new(&signature::ED25519, unhex(key)?).verify(message, sig)
        }
        PublicKey::Rs256 { n, e } => RsaPublicKeyComponents {
            n: unhex(n)?,
            e: unhex(e)?,
        }
        .verify(&signature::RSA_PKCS1_2048_8192_SHA256, message, sig),
    };
    checked.map_err(|_| WebAuthnError::BadSignature)
}

/// Verifies a `RegistrationResponseJSON` and returns the new passkey.
pub fn verify_registration(
    credential: &Json,
    expected: &Expected<'_>,
) -> Result<Passkey, WebAuthnError> {
    if credential.get("type").and_then(Json::as_str) != Some("public-key") {
        return Err(Malformed("type"));
    }
    let response = credential.get("response").ok_or(Malformed("response"))?;
    client_data(
        &b64_field(response, "clientDataJSON")?,
        "webauthn.create",
        expected,
    )?;
    let attestation = cbor::decode(&b64_field(response, "attestationObject")?)
        .map_err(|_| Malformed("attestationObject"))?;
    let raw = attestation
        .get_text("authData")
        .and_then(cbor::Value::as_bytes)
        .ok_or(Malformed("authData"))?;
    let data = auth_data(raw, expected)?;
    let (id, cose) = data.attested.ok_or(Malformed("attestedCredentialData"))?;
    // The id the client reports must be the one the authenticator made.
    if b64_field(credential, "rawId")? != id {
        return Err(Malformed("rawId"));
    }
    let transports = response
        .get("transports")
        .and_then(Json::as_array)
        .map(|t| {
            t.iter()
                .filter_map(Json::as_str)
                .filter(|t| t.len() <= 32)
                .take(8)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let attachment = credential
        .get("authenticatorAttachment")
        .and_then(Json::as_str)
        .filter(|a| matches!(*a, "platform" | "cross-platform"))
        .map(str::to_owned);
    Ok(Passkey {
        credential_id: B64URL.encode(id),
        public_key: public_key(&cose)?,
        sign_count: data.sign_count,
        transports,
        attachment,
        relying_party_id: expected.relying_party_id.to_owned(),
    })
}

/// The credential id an `AuthenticationResponseJSON` claims to come from.
pub fn assertion_credential_id(credential: &Json) -> Result<String, WebAuthnError> {
    let raw = b64_field(credential, "rawId").or_else(|_| b64_field(credential, "id"))?;
    Ok(B64URL.encode(raw))
}

/// Verifies an `AuthenticationResponseJSON` made with `passkey` and returns the
/// signature counter to store.
pub fn verify_assertion(
    credential: &Json,
    passkey: &Passkey,
    expected: &Expected<'_>,
) -> Result<u32, WebAuthnError> {
    if credential.get("type").and_then(Json::as_str) != Some("public-key") {
        return Err(Malformed("type"));
    }
    if assertion_credential_id(credential)? != passkey.credential_id {
        return Err(Malformed("rawId"));
    }
    let response = credential.get("response").ok_or(Malformed("response"))?;
    let client_hash = client_data(
        &b64_field(response, "clientDataJSON")?,
        "webauthn.get",
        expected,
    )?;
    let raw = b64_field(response, "authenticatorData")?;
    let data = auth_data(&raw, expected)?;
    let sig = b64_field(response, "signature")?;
    let mut message = raw.clone();
    message.extend_from_slice(client_hash.as_ref());
    verify_signature(&passkey.public_key, &message, &sig)?;
    // Counters that are in use must grow (§7.2 step 21).
    if (data.sign_count != 0 || passkey.sign_count != 0) && data.sign_count <= passkey.sign_count {
        return Err(WebAuthnError::CounterWentBack);
    }
    Ok(data.sign_count)
}

#[cfg(test)]
mod tests;
