//! Public keys from the X.509 certificates identity-provider metadata carries.
//!
//! Only the subject public key is read: a metadata document is trusted as a whole when
//! it is registered, so its certificates are containers for keys, not chains to check
//! (the validity dates of the usual self-signed signing certificates are not enforced
//! by SAML service providers either).

use aws_lc_rs::signature::{self, UnparsedPublicKey, VerificationAlgorithm};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the certificate cannot be read: {0}")]
pub struct KeyError(&'static str);

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
        let mut certificate = Der::new(der).sequence()?;
        let mut tbs = certificate.sequence()?;
        if tbs.peek() == Some(0xA0) {
            tbs.any()?; // version
        }
        tbs.any()?; // serial number
        tbs.any()?; // signature algorithm
        tbs.any()?; // issuer
        tbs.any()?; // validity
        tbs.any()?; // subject
        Self::from_spki(tbs.sequence()?)
    }

    fn from_spki(mut spki: Der<'_>) -> Result<Self, KeyError> {
        let mut algorithm = spki.sequence()?;
        let oid = algorithm.take(0x06)?;
        let bits = spki.take(0x03)?;
        let Some((&0, key)) = bits.split_first() else {
            return Err(KeyError("the key is not a whole number of bytes"));
        };
        match oid {
            // rsaEncryption
            [0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x01] => Ok(Self::Rsa(key.to_vec())),
            // id-ecPublicKey, with the curve as parameter
            [0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01] => {
                let curve = match algorithm.take(0x06)? {
                    [0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07] => Curve::P256,
                    [0x2B, 0x81, 0x04, 0x00, 0x22] => Curve::P384,
                    _ => return Err(KeyError("an elliptic curve other than P-256 or P-384")),
                };
                Ok(Self::Ec {
                    curve,
                    point: key.to_vec(),
                })
            }
            _ => Err(KeyError("a key that is neither RSA nor elliptic-curve")),
        }
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

/// A reader of DER's tag-length-value encoding, just enough to walk a certificate.
#[derive(Clone)]
struct Der<'a>(&'a [u8]);

impl<'a> Der<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Self(bytes)
    }

    fn peek(&self) -> Option<u8> {
        self.0.first().copied()
    }

    /// The next element: its tag and contents.
    fn any(&mut self) -> Result<(u8, &'a [u8]), KeyError> {
        let short = KeyError("the certificate ends early");
        let [tag, first, rest @ ..] = self.0 else {
            return Err(short);
        };
        if tag & 0x1F == 0x1F {
            return Err(KeyError("a multi-byte tag"));
        }
        let (len, rest) = if first & 0x80 == 0 {
            (usize::from(*first), rest)
        } else {
            let n = usize::from(first & 0x7F);
            if n == 0 || n > 4 || rest.len() < n {
                return Err(KeyError("a length DER does not allow"));
            }
            let len = rest[..n]
                .iter()
                .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
            (len, &rest[n..])
        };
        if rest.len() < len {
            return Err(short);
        }
        let (contents, after) = rest.split_at(len);
        self.0 = after;
        Ok((*tag, contents))
    }

    fn take(&mut self, tag: u8) -> Result<&'a [u8], KeyError> {
        match self.any()? {
            (t, contents) if t == tag => Ok(contents),
            _ => Err(KeyError("an element of another type than expected")),
        }
    }

    fn sequence(&mut self) -> Result<Der<'a>, KeyError> {
        self.take(0x30).map(Der)
    }
}
