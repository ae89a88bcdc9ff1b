//! Public keys from the X.509 certificates identity-provider metadata carries.
//!
//! The certificate is decoded by RustCrypto's `x509-cert` (strict DER, RFC 5280's
//! structure); aws-lc-rs verifies signatures with the key.
//!
//! Only the subject public key is read: a metadata document is trusted as a whole when
//! it is registered, so its certificates are containers for keys, not chains to check
//! (the validity dates of the usual self-signed signing certificates are not enforced
//! by SAML service providers either).

use aws_lc_rs::signature::{self, UnparsedPublicKey, VerificationAlgorithm};
use x509_cert::Certificate;
use x509_cert::der::asn1::ObjectIdentifier;
use x509_cert::der::oid::db::rfc5912::{
    ID_EC_PUBLIC_KEY, RSA_ENCRYPTION, SECP_256_R_1, SECP_384_R_1,
};
use x509_cert::der::{Decode as _, ErrorKind};
use x509_cert::spki::SubjectPublicKeyInfoOwned;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the certificate cannot be read: {0}")]
pub struct KeyError(&'static str);

/// What went wrong in the DER, in words that do not echo the input.
fn der_error(err: x509_cert::der::Error) -> KeyError {
    KeyError(match err.kind() {
        ErrorKind::Incomplete { .. } => "the certificate ends early",
        ErrorKind::TrailingData { .. } => "bytes after the certificate",
        ErrorKind::TagUnexpected { .. } | ErrorKind::TagUnknown { .. } => {
            "an element of another type than expected"
        }
        ErrorKind::TagNumberInvalid => "a multi-byte tag",
        ErrorKind::Length { .. }
        | ErrorKind::IndefiniteLength
        | ErrorKind::Overlength
        | ErrorKind::Overflow => "a length DER does not allow",
        _ => "an element that is not valid DER",
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Curve {
    P256,
    P384,
}

/// A signing key of an identity provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicKey {
    /// The DER `RSAPublicKey`.
    Rsa(Vec<u8>),
    /// The uncompressed point.
    Ec { curve: Curve, point: Vec<u8> },
}

/// The signature algorithms XML signatures name, by URI. SHA-1 is not among them: a
/// signature by it is refused as an unsupported algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureAlgorithm {
    RsaSha256,
    RsaSha384,
    RsaSha512,
    EcdsaSha256,
    EcdsaSha384,
}

impl SignatureAlgorithm {
    #[must_use]
    pub fn from_uri(uri: &str) -> Option<Self> {
        Some(match uri {
            "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256" => Self::RsaSha256,
            "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384" => Self::RsaSha384,
            "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512" => Self::RsaSha512,
            "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256" => Self::EcdsaSha256,
            "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384" => Self::EcdsaSha384,
            _ => return None,
        })
    }
}

impl PublicKey {
    /// The key of a DER certificate.
    pub fn from_certificate(der: &[u8]) -> Result<Self, KeyError> {
        let certificate = Certificate::from_der(der).map_err(der_error)?;
        Self::from_spki(&certificate.tbs_certificate.subject_public_key_info)
    }

    fn from_spki(spki: &SubjectPublicKeyInfoOwned) -> Result<Self, KeyError> {
        let key = spki
            .subject_public_key
            .as_bytes()
            .ok_or(KeyError("the key is not a whole number of bytes"))?;
        let oid = spki.algorithm.oid;
        if oid == RSA_ENCRYPTION {
            return Ok(Self::Rsa(key.to_vec()));
        }
        if oid != ID_EC_PUBLIC_KEY {
            return Err(KeyError("a key that is neither RSA nor elliptic-curve"));
        }
        // The curve is the algorithm's parameter.
        let curve = spki
            .algorithm
            .parameters
            .as_ref()
            .ok_or(KeyError("an elliptic-curve key without its curve"))?
            .decode_as::<ObjectIdentifier>()
            .map_err(der_error)?;
        let curve = if curve == SECP_256_R_1 {
            Curve::P256
        } else if curve == SECP_384_R_1 {
            Curve::P384
        } else {
            return Err(KeyError("an elliptic curve other than P-256 or P-384"));
        };
        Ok(Self::Ec {
            curve,
            point: key.to_vec(),
        })
    }

    /// Whether `signature` over `message` is this key's by `algorithm`.
    #[must_use]
    pub fn verifies(
        &self,
        algorithm: SignatureAlgorithm,
        message: &[u8],
        signature: &[u8],
    ) -> bool {
        use SignatureAlgorithm as A;
        let (bytes, verification): (&[u8], &'static dyn VerificationAlgorithm) =
            match (self, algorithm) {
                (Self::Rsa(key), A::RsaSha256) => (key, &signature::RSA_PKCS1_2048_8192_SHA256),
                (Self::Rsa(key), A::RsaSha384) => (key, &signature::RSA_PKCS1_2048_8192_SHA384),
                (Self::Rsa(key), A::RsaSha512) => (key, &signature::RSA_PKCS1_2048_8192_SHA512),
                // XML signatures carry ECDSA signatures as r || s, not DER.
                (
                    Self::Ec {
                        curve: Curve::P256,
                        point,
                    },
                    A::EcdsaSha256,
                ) => (point, &signature::ECDSA_P256_SHA256_FIXED),
                (
                    Self::Ec {
                        curve: Curve::P384,
                        point,
                    },
                    A::EcdsaSha384,
                ) => (point, &signature::ECDSA_P384_SHA384_FIXED),
                _ => return false,
            };
        UnparsedPublicKey::new(verification, bytes)
            .verify(message, signature)
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;

    /// The fixture metadata's certificates: RSA-2048, then EC P-256.
    fn certificates() -> Vec<Vec<u8>> {
        include_str!("../testdata/metadata.xml")
            .split("<ds:X509Certificate>")
            .skip(1)
            .map(|part| {
                let text = part.split('<').next().unwrap_or_default();
                base64::engine::general_purpose::STANDARD
                    .decode(text)
                    .unwrap()
            })
            .collect()
    }

    fn error(der: &[u8]) -> &'static str {
        PublicKey::from_certificate(der).unwrap_err().0
    }

    /// `der` with the first occurrence of `from` replaced by `to`.
    fn replaced(der: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
        let at = der
            .windows(from.len())
            .position(|w| w == from)
            .expect("the bytes are there");
        [&der[..at], to, &der[at + from.len()..]].concat()
    }

    #[test]
    fn reads_rsa_and_elliptic_curve_keys() {
        let [rsa, ec] = &certificates()[..] else {
            panic!("two certificates");
        };
        let PublicKey::Rsa(key) = PublicKey::from_certificate(rsa).unwrap() else {
            panic!("an RSA key");
        };
        // RSAPublicKey: a SEQUENCE of a 2048-bit modulus and the exponent 65537.
        assert_eq!(key[..4], [0x30, 0x82, 0x01, 0x0a]);
        assert!(key.ends_with(&[0x02, 0x03, 0x01, 0x00, 0x01]));
        let PublicKey::Ec { curve, point } = PublicKey::from_certificate(ec).unwrap() else {
            panic!("an EC key");
        };
        assert_eq!(curve, Curve::P256);
        assert_eq!((point.len(), point[0]), (65, 0x04));
    }

    #[test]
    fn every_truncation_is_an_error() {
        for der in certificates() {
            for len in 0..der.len() {
                assert!(
                    PublicKey::from_certificate(&der[..len]).is_err(),
                    "cut at {len}"
                );
            }
            assert_eq!(error(&der[..der.len() - 1]), "the certificate ends early");
            assert_eq!(error(&[]), "the certificate ends early");
        }
    }

    #[test]
    fn wrong_tags_trailing_bytes_and_huge_lengths_are_errors() {
        let rsa = &certificates()[0];
        let mut set = rsa.clone();
        set[0] = 0x31;
        assert_eq!(error(&set), "an element of another type than expected");
        let mut longer = rsa.clone();
        longer.push(0);
        assert_eq!(error(&longer), "bytes after the certificate");
        // A SEQUENCE that claims 4 GiB, and one whose length takes nine bytes.
        let huge = [&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff][..], &rsa[4..]].concat();
        assert!(PublicKey::from_certificate(&huge).is_err());
        let wide = [&[0x30, 0x89][..], &[0xff; 9], &rsa[4..]].concat();
        assert!(PublicKey::from_certificate(&wide).is_err());
        // A multi-byte tag where the certificate's SEQUENCE should be.
        assert!(PublicKey::from_certificate(&[0x1f, 0x81, 0x00, 0x00]).is_err());
        // A length in the long form that fits the short one (not DER).
        let long_form = [&[0x30, 0x81, 0x05][..], &[0x02, 0x01, 0x00, 0x05, 0x00]].concat();
        assert!(PublicKey::from_certificate(&long_form).is_err());
    }

    #[test]
    fn keys_other_than_rsa_p256_and_p384_are_refused() {
        let [rsa, ec] = &certificates()[..] else {
            panic!("two certificates");
        };
        // rsaEncryption becomes RSASSA-PSS (1.2.840.113549.1.1.10).
        let pss = replaced(
            rsa,
            &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01],
            &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a],
        );
        assert_eq!(error(&pss), "a key that is neither RSA nor elliptic-curve");
        // P-256 becomes prime239v3 (1.2.840.10045.3.1.6).
        let other = replaced(
            ec,
            &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07],
            &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x06],
        );
        assert_eq!(error(&other), "an elliptic curve other than P-256 or P-384");
        // The key's BIT STRING says its last byte has one unused bit.
        let bits = replaced(ec, &[0x03, 0x42, 0x00, 0x04], &[0x03, 0x42, 0x01, 0x04]);
        assert!(PublicKey::from_certificate(&bits).is_err());
    }

    #[test]
    fn no_single_byte_change_makes_it_panic() {
        for der in certificates() {
            for at in 0..der.len() {
                for value in [0x00, 0x01, 0x7f, 0x80, 0x81, 0x84, 0xff, der[at] ^ 0x20] {
                    let mut changed = der.clone();
                    changed[at] = value;
                    let _ = PublicKey::from_certificate(&changed);
                }
            }
        }
    }
}
