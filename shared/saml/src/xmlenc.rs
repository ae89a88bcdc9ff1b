//! XML Encryption as a SAML relying party meets it: an `EncryptedAssertion` whose
//! `EncryptedData` is an AES key's work (CBC or GCM) and whose key travels RSA-OAEP
//! encrypted to the relying party's key, in the data's `KeyInfo` or beside it.
//!
//! Refused: RSA PKCS#1 v1.5 key transport (its padding errors are a decryption oracle),
//! Triple DES, and any key-transport or data algorithm not named here. Every failure is
//! the same [`DecryptError`], so what goes wrong inside does not tell an attacker which
//! guess was closer.

use aws_lc_rs::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::cipher::{
    AES_128, AES_192, AES_256, DecryptionContext, PaddedBlockDecryptingKey, UnboundCipherKey,
};
use aws_lc_rs::rsa::{
    OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256, OAEP_SHA384_MGF1SHA384, OAEP_SHA512_MGF1SHA512,
    OaepAlgorithm, OaepPrivateDecryptingKey, PrivateDecryptingKey,
};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::xml::{Document, NodeId};

pub const XENC_NS: &str = "http://www.w3.org/2001/04/xmlenc#";
pub const XENC11_NS: &str = "http://www.w3.org/2009/xmlenc11#";
const DSIG_NS: &str = "http://www.w3.org/2000/09/xmldsig#";
const DIGEST_SHA1: &str = "http://www.w3.org/2000/09/xmldsig#sha1";
const DIGEST_SHA256: &str = "http://www.w3.org/2001/04/xmlenc#sha256";
const DIGEST_SHA384: &str = "http://www.w3.org/2001/04/xmldsig-more#sha384";
const DIGEST_SHA512: &str = "http://www.w3.org/2001/04/xmlenc#sha512";

/// Why a decryption failed — for the relying party's log only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DecryptError(pub &'static str);

fn fail<T>(why: &'static str) -> Result<T, DecryptError> {
    Err(DecryptError(why))
}

/// The relying party's RSA key that identity providers encrypt assertion keys to.
pub struct DecryptionKey {
    key: OaepPrivateDecryptingKey,
}

impl std::fmt::Debug for DecryptionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DecryptionKey").finish_non_exhaustive()
    }
}

impl DecryptionKey {
    /// An RSA private key, PKCS#8 DER.
    pub fn from_pkcs8(der: &[u8]) -> Result<Self, DecryptError> {
        let key = PrivateDecryptingKey::from_pkcs8(der)
            .map_err(|_| DecryptError("the decryption key is not an RSA PKCS#8 key"))?;
        let key = OaepPrivateDecryptingKey::new(key)
            .map_err(|_| DecryptError("the decryption key is unusable"))?;
        Ok(Self { key })
    }

    fn unwrap(
        &self,
        algorithm: &'static OaepAlgorithm,
        wrapped: &[u8],
        label: Option<&[u8]>,
    ) -> Result<Vec<u8>, DecryptError> {
        let mut out = vec![0u8; self.key.min_output_size()];
        let key = self
            .key
            .decrypt(algorithm, wrapped, &mut out, label)
            .map_err(|_| DecryptError("the key transport did not decrypt"))?;
        Ok(key.to_vec())
    }
}

fn only(doc: &Document, id: NodeId, ns: &str, name: &str) -> Result<NodeId, DecryptError> {
    match doc.only_child(id, ns, name) {
        Ok(Some(child)) => Ok(child),
        _ => fail("an element of the encrypted data is missing or repeated"),
    }
}

fn algorithm_of(doc: &Document, method: NodeId) -> Result<&str, DecryptError> {
    doc.element(method)
        .and_then(|e| e.attr("Algorithm"))
        .ok_or(DecryptError("an encryption method names no algorithm"))
}

fn cipher_value(doc: &Document, parent: NodeId) -> Result<Vec<u8>, DecryptError> {
    let data = only(doc, parent, XENC_NS, "CipherData")?;
    let value = only(doc, data, XENC_NS, "CipherValue")?;
    let text: String = doc
        .text(value)
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    STANDARD
        .decode(text)
        .map_err(|_| DecryptError("a cipher value is not base64"))
}

/// The OAEP parameters an `EncryptedKey`'s method names.
fn oaep_algorithm(doc: &Document, method: NodeId) -> Result<&'static OaepAlgorithm, DecryptError> {
    let uri = algorithm_of(doc, method)?;
    let digest = match doc.only_child(method, DSIG_NS, "DigestMethod") {
        Ok(Some(d)) => algorithm_of(doc, d)?,
        Ok(None) => DIGEST_SHA1,
        Err(_) => return fail("the key transport names two digests"),
    };
    let mgf = match doc.only_child(method, XENC11_NS, "MGF") {
        Ok(Some(m)) => Some(algorithm_of(doc, m)?),
        Ok(None) => None,
        Err(_) => return fail("the key transport names two mask functions"),
    };
    match uri {
        // OAEP with MGF1 over SHA-1; only SHA-1 as the digest has a matching primitive.
        "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p" if mgf.is_none() => match digest {
            DIGEST_SHA1 => Ok(&OAEP_SHA1_MGF1SHA1),
            _ => fail("rsa-oaep-mgf1p is supported with SHA-1 only"),
        },
        "http://www.w3.org/2009/xmlenc11#rsa-oaep" => {
            let mgf = mgf.unwrap_or("http://www.w3.org/2009/xmlenc11#mgf1sha1");
            match (digest, mgf) {
                (DIGEST_SHA1, "http://www.w3.org/2009/xmlenc11#mgf1sha1") => {
                    Ok(&OAEP_SHA1_MGF1SHA1)
                }
                (DIGEST_SHA256, "http://www.w3.org/2009/xmlenc11#mgf1sha256") => {
                    Ok(&OAEP_SHA256_MGF1SHA256)
                }
                (DIGEST_SHA384, "http://www.w3.org/2009/xmlenc11#mgf1sha384") => {
                    Ok(&OAEP_SHA384_MGF1SHA384)
                }
                (DIGEST_SHA512, "http://www.w3.org/2009/xmlenc11#mgf1sha512") => {
                    Ok(&OAEP_SHA512_MGF1SHA512)
                }
                _ => fail("the OAEP digest and mask function differ or are unsupported"),
            }
        }
        "http://www.w3.org/2001/04/xmlenc#rsa-1_5" => {
            fail("RSA PKCS#1 v1.5 key transport is refused")
        }
        _ => fail("the key transport algorithm is unsupported"),
    }
}

/// The content key of one `EncryptedKey`.
fn content_key(
    doc: &Document,
    encrypted_key: NodeId,
    key: &DecryptionKey,
) -> Result<Vec<u8>, DecryptError> {
    let method = only(doc, encrypted_key, XENC_NS, "EncryptionMethod")?;
    let algorithm = oaep_algorithm(doc, method)?;
    let label = match doc.only_child(method, XENC_NS, "OAEPparams") {
        Ok(Some(params)) => Some(
            STANDARD
                .decode(doc.text(params).trim())
                .map_err(|_| DecryptError("the OAEP parameters are not base64"))?,
        ),
        Ok(None) => None,
        Err(_) => return fail("the OAEP parameters are repeated"),
    };
    key.unwrap(
        algorithm,
        &cipher_value(doc, encrypted_key)?,
        label.as_deref(),
    )
}

/// The `EncryptedKey` elements that may carry the data's key: in its `KeyInfo`, else
/// beside it in the `EncryptedAssertion` (SAML allows both).
fn encrypted_keys(doc: &Document, container: NodeId, data: NodeId) -> Vec<NodeId> {
    let inside: Vec<NodeId> = doc
        .children_named(data, DSIG_NS, "KeyInfo")
        .flat_map(|info| doc.children_named(info, XENC_NS, "EncryptedKey"))
        .collect();
    if !inside.is_empty() {
        return inside;
    }
    doc.children_named(container, XENC_NS, "EncryptedKey")
        .collect()
}

/// The data algorithm and its key length.
enum DataCipher {
    Cbc(&'static aws_lc_rs::cipher::Algorithm),
    Gcm(&'static aead::Algorithm),
}

fn data_cipher(uri: &str) -> Result<DataCipher, DecryptError> {
    Ok(match uri {
        "http://www.w3.org/2001/04/xmlenc#aes128-cbc" => DataCipher::Cbc(&AES_128),
        "http://www.w3.org/2001/04/xmlenc#aes192-cbc" => DataCipher::Cbc(&AES_192),
        "http://www.w3.org/2001/04/xmlenc#aes256-cbc" => DataCipher::Cbc(&AES_256),
        "http://www.w3.org/2009/xmlenc11#aes128-gcm" => DataCipher::Gcm(&aead::AES_128_GCM),
        "http://www.w3.org/2009/xmlenc11#aes192-gcm" => DataCipher::Gcm(&aead::AES_192_GCM),
        "http://www.w3.org/2009/xmlenc11#aes256-gcm" => DataCipher::Gcm(&aead::AES_256_GCM),
        _ => return fail("the data encryption algorithm is unsupported"),
    })
}

fn decrypt_data(cipher: &DataCipher, key: &[u8], data: &[u8]) -> Result<Vec<u8>, DecryptError> {
    match cipher {
        DataCipher::Cbc(algorithm) => {
            // The IV, then whole blocks; the padding's last byte counts it (ISO 10126).
            if data.len() < 32 || !data.len().is_multiple_of(16) {
                return fail("the CBC cipher text is not whole blocks");
            }
            let (iv, body) = data.split_at(16);
            let iv: [u8; 16] = iv.try_into().map_err(|_| DecryptError("bad IV"))?;
            let unbound = UnboundCipherKey::new(algorithm, key)
                .map_err(|_| DecryptError("the content key has the wrong length"))?;
            let decrypting = PaddedBlockDecryptingKey::cbc_iso10126(unbound)
                .map_err(|_| DecryptError("the content key is unusable"))?;
            let mut body = body.to_vec();
            let plain = decrypting
                .decrypt(&mut body, DecryptionContext::Iv128(iv.into()))
                .map_err(|_| DecryptError("the CBC cipher text did not decrypt"))?;
            Ok(plain.to_vec())
        }
        DataCipher::Gcm(algorithm) => {
            // The 96-bit nonce, the cipher text, the 128-bit tag.
            if data.len() < 12 + 16 {
                return fail("the GCM cipher text is too short");
            }
            let (nonce, sealed) = data.split_at(12);
            let nonce =
                Nonce::try_assume_unique_for_key(nonce).map_err(|_| DecryptError("bad nonce"))?;
            let key = UnboundKey::new(algorithm, key)
                .map_err(|_| DecryptError("the content key has the wrong length"))?;
            let mut sealed = sealed.to_vec();
            let plain = LessSafeKey::new(key)
                .open_in_place(nonce, Aad::empty(), &mut sealed)
                .map_err(|_| DecryptError("the GCM cipher text did not authenticate"))?;
            Ok(plain.to_vec())
        }
    }
}

/// The XML that the `EncryptedData` inside `container` (an `EncryptedAssertion`) holds.
pub fn decrypt(
    doc: &Document,
    container: NodeId,
    key: &DecryptionKey,
) -> Result<String, DecryptError> {
    let data = only(doc, container, XENC_NS, "EncryptedData")?;
    if let Some(kind) = doc.element(data).and_then(|e| e.attr("Type"))
        && kind != "http://www.w3.org/2001/04/xmlenc#Element"
    {
        return fail("the encrypted data is not an element");
    }
    let cipher = data_cipher(algorithm_of(
        doc,
        only(doc, data, XENC_NS, "EncryptionMethod")?,
    )?)?;
    let body = cipher_value(doc, data)?;
    let mut last = DecryptError("no encrypted key");
    for encrypted_key in encrypted_keys(doc, container, data) {
        let attempt = content_key(doc, encrypted_key, key)
            .and_then(|content| decrypt_data(&cipher, &content, &body));
        match attempt {
            Ok(plain) => {
                return String::from_utf8(plain)
                    .map_err(|_| DecryptError("the decrypted assertion is not UTF-8"));
            }
            Err(err) => last = err,
        }
    }
    Err(last)
}
