//! A self-signed X.509 certificate for a service provider's own SAML keys (a pool's
//! signing key, a provider's encryption key), built by `rcgen` on aws-lc-rs: a new
//! RSA-2048 key, SHA256withRSA, `CN=<name>` as subject and issuer, a random serial number
//! and ten years of validity, without extensions.

use rcgen::{
    CertificateParams, DistinguishedName, DnType, KeyPair, PKCS_RSA_SHA256, RsaKeySize,
    SerialNumber,
};

/// How long the certificate is valid, as Cognito's are: ten years.
const VALIDITY_SECONDS: i64 = 10 * 365 * 24 * 60 * 60;

pub struct Issued {
    /// Base64 of the DER certificate, without PEM armour (what GetSigningCertificate returns).
    pub certificate: String,
    /// The private key, PKCS#8 v1 DER.
    pub pkcs8: Vec<u8>,
}

/// The key or the certificate could not be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("certificate generation failed")]
pub struct CertificateError;

fn crypto_error<E>(_: E) -> CertificateError {
    CertificateError
}

/// A new RSA-2048 key and a self-signed SHA256withRSA certificate for `CN=<name>`, valid
/// from `now_ms` (Unix milliseconds).
pub fn self_signed(name: &str, now_ms: i64) -> Result<Issued, CertificateError> {
    use base64::Engine as _;
    let key =
        KeyPair::generate_rsa_for(&PKCS_RSA_SHA256, RsaKeySize::_2048).map_err(crypto_error)?;
    let mut serial = [0u8; 16];
    aws_lc_rs::rand::fill(&mut serial).map_err(crypto_error)?;
    serial[0] &= 0x7f; // a positive INTEGER
    serial[0] |= 0x01; // and no leading zero byte to trim
    let instant =
        |seconds: i64| time::OffsetDateTime::from_unix_timestamp(seconds).map_err(crypto_error);
    let now = now_ms.div_euclid(1_000);
    let mut params = CertificateParams::default();
    params.distinguished_name = DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, name);
    params.serial_number = Some(SerialNumber::from_slice(&serial));
    params.not_before = instant(now)?;
    params.not_after = instant(now + VALIDITY_SECONDS)?;
    let certificate = params.self_signed(&key).map_err(crypto_error)?;
    Ok(Issued {
        certificate: base64::engine::general_purpose::STANDARD.encode(certificate.der()),
        pkcs8: key.serialize_der(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_2048_8192_SHA256, RsaKeyPair};
    use base64::Engine as _;
    use x509_cert::Certificate;
    use x509_cert::der::{Decode as _, Encode as _};

    fn issued(now_ms: i64) -> (Issued, Certificate, Vec<u8>) {
        let issued = self_signed("us-east-1_abc", now_ms).unwrap();
        let der = base64::engine::general_purpose::STANDARD
            .decode(&issued.certificate)
            .unwrap();
        let certificate = Certificate::from_der(&der).unwrap();
        (issued, certificate, der)
    }

    #[test]
    fn the_certificate_names_the_pool_and_is_signed_by_its_key() {
        let (issued, certificate, _) = issued(1_790_000_000_000);
        let tbs = &certificate.tbs_certificate;
        assert_eq!(tbs.version, x509_cert::Version::V3);
        assert_eq!(tbs.subject.to_string(), "CN=us-east-1_abc");
        assert_eq!(tbs.issuer, tbs.subject);
        assert!(tbs.extensions.is_none());
        assert_eq!(tbs.serial_number.as_bytes().len(), 16);
        assert_eq!(
            certificate.signature_algorithm.oid.to_string(),
            "1.2.840.113549.1.1.11"
        );
        // The key in the certificate is the PKCS#8 key's, and it signed the certificate.
        let pair = RsaKeyPair::from_pkcs8(&issued.pkcs8).unwrap();
        assert_eq!(pair.public_modulus_len(), 256);
        let spki = &tbs.subject_public_key_info;
        assert_eq!(
            spki.subject_public_key.as_bytes().unwrap(),
            pair.public_key().as_ref()
        );
        aws_lc_rs::signature::UnparsedPublicKey::new(
            &RSA_PKCS1_2048_8192_SHA256,
            pair.public_key().as_ref(),
        )
        .verify(
            &tbs.to_der().unwrap(),
            certificate.signature.as_bytes().unwrap(),
        )
        .unwrap();
    }

    #[test]
    fn the_certificate_is_valid_for_ten_years_from_now() {
        let (_, certificate, _) = issued(1_790_000_000_999);
        let validity = &certificate.tbs_certificate.validity;
        let seconds = |t: x509_cert::time::Time| t.to_unix_duration().as_secs();
        assert_eq!(seconds(validity.not_before), 1_790_000_000);
        assert_eq!(
            seconds(validity.not_after),
            1_790_000_000 + 10 * 365 * 24 * 60 * 60
        );
        // UTCTime until 2049, GeneralizedTime from 2050 on (RFC 5280, 4.1.2.5).
        assert!(matches!(
            validity.not_before,
            x509_cert::time::Time::UtcTime(_)
        ));
        let (_, later, _) = issued(2_600_000_000_000);
        assert!(matches!(
            later.tbs_certificate.validity.not_after,
            x509_cert::time::Time::GeneralTime(_)
        ));
    }

    #[test]
    fn each_certificate_has_its_own_key_and_serial_number() {
        let (a, ca, _) = issued(1_790_000_000_000);
        let (b, cb, _) = issued(1_790_000_000_000);
        assert_ne!(a.pkcs8, b.pkcs8);
        assert_ne!(
            ca.tbs_certificate.serial_number,
            cb.tbs_certificate.serial_number
        );
    }
}
