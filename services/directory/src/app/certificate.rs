//! A self-signed X.509 certificate for a pool's SAML signing key, DER-encoded by hand:
//! the structure is fixed and small, and aws-lc-rs (already a dependency) does the RSA,
//! so no certificate-building crate is needed.

use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256, RsaKeyPair};
use base64::Engine as _;
use portcullis_errors::ApiError;

/// How long the certificate is valid, as Cognito's are: ten years.
const VALIDITY_SECONDS: i64 = 10 * 365 * 24 * 60 * 60;
/// 1.2.840.113549.1.1.1
const RSA_ENCRYPTION: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
/// 1.2.840.113549.1.1.11
const SHA256_WITH_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b];
/// 2.5.4.3
const COMMON_NAME: &[u8] = &[0x55, 0x04, 0x03];

pub struct Issued {
    /// Base64 of the DER certificate, without PEM armour (what GetSigningCertificate returns).
    pub certificate: String,
    /// The private key, PKCS#8 v1 DER.
    pub pkcs8: Vec<u8>,
}

fn crypto_error() -> ApiError {
    tracing::error!("signing certificate generation failed");
    ApiError::internal()
}

fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}

fn sequence(parts: &[Vec<u8>]) -> Vec<u8> {
    tlv(0x30, &parts.concat())
}

fn algorithm(oid: &[u8]) -> Vec<u8> {
    sequence(&[tlv(0x06, oid), vec![0x05, 0x00]])
}

fn bit_string(bytes: &[u8]) -> Vec<u8> {
    tlv(0x03, &[&[0u8][..], bytes].concat())
}

fn name(common_name: &str) -> Vec<u8> {
    let attribute = sequence(&[tlv(0x06, COMMON_NAME), tlv(0x0c, common_name.as_bytes())]);
    sequence(&[tlv(0x31, &attribute)])
}

/// UTCTime until 2049, GeneralizedTime from 2050 on (RFC 5280, 4.1.2.5).
fn time(unix_seconds: i64) -> Result<Vec<u8>, ApiError> {
    let t = time::OffsetDateTime::from_unix_timestamp(unix_seconds).map_err(|_| crypto_error())?;
    let rest = format!(
        "{:02}{:02}{:02}{:02}{:02}Z",
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    );
    Ok(if t.year() < 2050 {
        tlv(0x17, format!("{:02}{rest}", t.year() % 100).as_bytes())
    } else {
        tlv(0x18, format!("{:04}{rest}", t.year()).as_bytes())
    })
}

/// A new RSA-2048 key and a self-signed SHA256withRSA certificate for `CN=<pool id>`.
pub fn self_signed(pool_id: &str, now_ms: i64) -> Result<Issued, ApiError> {
    let pair = RsaKeyPair::generate(KeySize::Rsa2048).map_err(|_| crypto_error())?;
    let mut serial = [0u8; 16];
    aws_lc_rs::rand::fill(&mut serial).map_err(|_| crypto_error())?;
    serial[0] &= 0x7f; // a positive INTEGER
    serial[0] |= 0x01; // and no leading zero byte to trim
    let now = now_ms / 1_000;
    let spki = sequence(&[
        algorithm(RSA_ENCRYPTION),
        bit_string(pair.public_key().as_ref()),
    ]);
    let tbs = sequence(&[
        tlv(0xa0, &tlv(0x02, &[2])), // version 3
        tlv(0x02, &serial),
        algorithm(SHA256_WITH_RSA),
        name(pool_id),
        sequence(&[time(now)?, time(now + VALIDITY_SECONDS)?]),
        name(pool_id),
        spki,
    ]);
    let mut signature = vec![0u8; pair.public_modulus_len()];
    pair.sign(
        &RSA_PKCS1_SHA256,
        &SystemRandom::new(),
        &tbs,
        &mut signature,
    )
    .map_err(|_| crypto_error())?;
    let certificate = sequence(&[tbs, algorithm(SHA256_WITH_RSA), bit_string(&signature)]);
    let pkcs8 = pair.as_der().map_err(|_| crypto_error())?;
    Ok(Issued {
        certificate: base64::engine::general_purpose::STANDARD.encode(certificate),
        pkcs8: pkcs8.as_ref().to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_use_the_long_form_past_127_bytes() {
        assert_eq!(tlv(0x04, &[0; 3])[..2], [0x04, 3]);
        assert_eq!(tlv(0x04, &[0; 200])[..3], [0x04, 0x81, 200]);
        assert_eq!(tlv(0x04, &[0; 300])[..4], [0x04, 0x82, 0x01, 0x2c]);
    }

    #[test]
    fn the_certificate_is_a_der_sequence_naming_the_pool() {
        let issued = self_signed("us-east-1_abc", 1_790_000_000_000).unwrap();
        let der = base64::engine::general_purpose::STANDARD
            .decode(&issued.certificate)
            .unwrap();
        assert_eq!(der[0], 0x30);
        assert_eq!(der[1], 0x82);
        assert_eq!(
            usize::from(der[2]) * 256 + usize::from(der[3]) + 4,
            der.len()
        );
        assert!(der.windows(13).any(|w| w == b"us-east-1_abc"));
        assert!(RsaKeyPair::from_pkcs8(&issued.pkcs8).is_ok());
    }
}
