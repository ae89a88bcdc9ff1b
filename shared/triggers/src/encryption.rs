//! The codes handed to custom sender functions, encrypted as Cognito encrypts them: an
//! AWS Encryption SDK message (format version 2, algorithm suite
//! `AES_256_GCM_HKDF_SHA512_COMMIT_KEY`, framed body), so that a function decrypts it
//! with the SDK's `decrypt` under either commitment policy.
//!
//! The message's data key is wrapped by one of two keyrings:
//! - a raw AES keyring: AES-256-GCM under a key the operator holds, provider ID the
//!   configured namespace, key name the pool's `KMSKeyID`;
//! - a KMS-compatible service: `GenerateDataKey` for the pool's `KMSKeyID` (provider ID
//!   `aws-kms`), which the function's KMS keyring unwraps with `Decrypt`.

use std::collections::BTreeMap;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::hkdf::{HKDF_SHA512, KeyType, Salt};

/// `AES_256_GCM_HKDF_SHA512_COMMIT_KEY`: committing, unsigned.
pub const SUITE: u16 = 0x0478;
const VERSION: u8 = 2;
const FRAMED: u8 = 2;
const FRAME_LENGTH: u32 = 4096;
const KEY_LENGTH: usize = 32;
const IV_LENGTH: usize = 12;
const TAG_LENGTH: usize = 16;
const FRAME_AAD: &[u8] = b"AWSKMSEncryptionClient Frame";
const FINAL_FRAME_AAD: &[u8] = b"AWSKMSEncryptionClient Final Frame";
const FINAL_FRAME_MARK: u32 = 0xFFFF_FFFF;

/// The encryption context: name-value pairs bound to the message.
pub type Context = BTreeMap<String, String>;

/// A data key as a keyring wrapped it (the message header carries it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncryptedDataKey {
    pub provider_id: String,
    pub provider_info: Vec<u8>,
    pub ciphertext: Vec<u8>,
}

/// A fresh data key and its wrapped form.
pub struct DataKey {
    pub plaintext: [u8; KEY_LENGTH],
    pub encrypted: EncryptedDataKey,
}

#[derive(Debug, thiserror::Error)]
pub enum EncryptionError {
    #[error("the message is too large to encrypt")]
    TooLarge,
    #[error("the cryptographic library failed")]
    Crypto,
}

impl From<aws_lc_rs::error::Unspecified> for EncryptionError {
    fn from(_: aws_lc_rs::error::Unspecified) -> Self {
        Self::Crypto
    }
}

/// Random bytes from the system's generator.
pub fn random<const N: usize>() -> Result<[u8; N], EncryptionError> {
    let mut bytes = [0u8; N];
    aws_lc_rs::rand::fill(&mut bytes)?;
    Ok(bytes)
}

/// A new data key wrapped by the raw AES keyring `(namespace, name)` under
/// `wrapping_key`, bound to `context`.
pub fn raw_aes_data_key(
    wrapping_key: &[u8; KEY_LENGTH],
    namespace: &str,
    name: &str,
    context: &Context,
) -> Result<DataKey, EncryptionError> {
    let plaintext = random::<KEY_LENGTH>()?;
    let iv = random::<IV_LENGTH>()?;
    let mut ciphertext = plaintext.to_vec();
    let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, wrapping_key)?);
    let tag = key.seal_in_place_separate_tag(
        Nonce::assume_unique_for_key(iv),
        Aad::from(serialize_pairs(context)?),
        &mut ciphertext,
    )?;
    ciphertext.extend_from_slice(tag.as_ref());
    // The key name, then the tag length in bits and the IV length in bytes, then the IV.
    let mut provider_info = name.as_bytes().to_vec();
    provider_info.extend_from_slice(&u32::try_from(TAG_LENGTH * 8).unwrap_or(128).to_be_bytes());
    provider_info.extend_from_slice(&u32::try_from(IV_LENGTH).unwrap_or(12).to_be_bytes());
    provider_info.extend_from_slice(&iv);
    Ok(DataKey {
        plaintext,
        encrypted: EncryptedDataKey {
            provider_id: namespace.to_owned(),
            provider_info,
            ciphertext,
        },
    })
}

/// Encrypts `plaintext` under `data_key` into an Encryption SDK message.
pub fn encrypt(
    data_key: &DataKey,
    context: &Context,
    plaintext: &[u8],
) -> Result<Vec<u8>, EncryptionError> {
    let message_id = random::<32>()?;
    let content_key = derive(&data_key.plaintext, &message_id, &derive_info())?;
    let commitment = derive(&data_key.plaintext, &message_id, b"COMMITKEY")?;
    let content_key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &content_key)?);

    let mut header = vec![VERSION];
    header.extend_from_slice(&SUITE.to_be_bytes());
    header.extend_from_slice(&message_id);
    let pairs = if context.is_empty() {
        Vec::new()
    } else {
        serialize_pairs(context)?
    };
    put_u16_field(&mut header, &pairs)?;
    header.extend_from_slice(&1u16.to_be_bytes());
    let edk = &data_key.encrypted;
    put_u16_field(&mut header, edk.provider_id.as_bytes())?;
    put_u16_field(&mut header, &edk.provider_info)?;
    put_u16_field(&mut header, &edk.ciphertext)?;
    header.push(FRAMED);
    header.extend_from_slice(&FRAME_LENGTH.to_be_bytes());
    header.extend_from_slice(&commitment);

    // Version 2 authenticates the header with an all-zero IV it does not write.
    let mut message = header.clone();
    let tag = content_key.seal_in_place_separate_tag(
        Nonce::assume_unique_for_key([0u8; IV_LENGTH]),
        Aad::from(header),
        &mut [],
    )?;
    message.extend_from_slice(tag.as_ref());

    let frame = usize::try_from(FRAME_LENGTH).map_err(|_| EncryptionError::TooLarge)?;
    let mut chunks: Vec<&[u8]> = plaintext.chunks(frame).collect();
    // The final frame holds what is left, possibly nothing.
    let last = chunks.pop().unwrap_or(&[]);
    for (index, chunk) in chunks.iter().enumerate() {
        let sequence = u32::try_from(index + 1).map_err(|_| EncryptionError::TooLarge)?;
        message.extend_from_slice(&sequence.to_be_bytes());
        seal_frame(
            &content_key,
            &message_id,
            sequence,
            chunk,
            FRAME_AAD,
            &mut message,
        )?;
    }
    let sequence = u32::try_from(chunks.len() + 1).map_err(|_| EncryptionError::TooLarge)?;
    message.extend_from_slice(&FINAL_FRAME_MARK.to_be_bytes());
    message.extend_from_slice(&sequence.to_be_bytes());
    seal_frame(
        &content_key,
        &message_id,
        sequence,
        last,
        FINAL_FRAME_AAD,
        &mut message,
    )?;
    Ok(message)
}

/// Writes a frame's IV, (for the final frame) content length, ciphertext and tag.
fn seal_frame(
    key: &LessSafeKey,
    message_id: &[u8],
    sequence: u32,
    content: &[u8],
    label: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), EncryptionError> {
    let mut iv = [0u8; IV_LENGTH];
    iv[IV_LENGTH - 4..].copy_from_slice(&sequence.to_be_bytes());
    let mut aad = message_id.to_vec();
    aad.extend_from_slice(label);
    aad.extend_from_slice(&sequence.to_be_bytes());
    aad.extend_from_slice(&(content.len() as u64).to_be_bytes());
    let mut ciphertext = content.to_vec();
    let tag = key.seal_in_place_separate_tag(
        Nonce::assume_unique_for_key(iv),
        Aad::from(aad),
        &mut ciphertext,
    )?;
    out.extend_from_slice(&iv);
    if label == FINAL_FRAME_AAD {
        let length = u32::try_from(content.len()).map_err(|_| EncryptionError::TooLarge)?;
        out.extend_from_slice(&length.to_be_bytes());
    }
    out.extend_from_slice(&ciphertext);
    out.extend_from_slice(tag.as_ref());
    Ok(())
}

/// The HKDF info of the content key: the suite ID, then `DERIVEKEY`.
fn derive_info() -> Vec<u8> {
    let mut info = SUITE.to_be_bytes().to_vec();
    info.extend_from_slice(b"DERIVEKEY");
    info
}

struct Length(usize);

impl KeyType for Length {
    fn len(&self) -> usize {
        self.0
    }
}

/// HKDF-SHA512 of the data key, salted with the message ID.
fn derive(
    data_key: &[u8],
    message_id: &[u8],
    info: &[u8],
) -> Result<[u8; KEY_LENGTH], EncryptionError> {
    let mut out = [0u8; KEY_LENGTH];
    Salt::new(HKDF_SHA512, message_id)
        .extract(data_key)
        .expand(&[info], Length(KEY_LENGTH))?
        .fill(&mut out)?;
    Ok(out)
}

/// The context's pairs as the format writes them: their count, then each name and value
/// with its length, sorted by name. Empty for an empty context.
fn serialize_pairs(context: &Context) -> Result<Vec<u8>, EncryptionError> {
    if context.is_empty() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    let count = u16::try_from(context.len()).map_err(|_| EncryptionError::TooLarge)?;
    out.extend_from_slice(&count.to_be_bytes());
    for (name, value) in context {
        put_u16_field(&mut out, name.as_bytes())?;
        put_u16_field(&mut out, value.as_bytes())?;
    }
    Ok(out)
}

fn put_u16_field(out: &mut Vec<u8>, bytes: &[u8]) -> Result<(), EncryptionError> {
    let length = u16::try_from(bytes.len()).map_err(|_| EncryptionError::TooLarge)?;
    out.extend_from_slice(&length.to_be_bytes());
    out.extend_from_slice(bytes);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads a message back as the format says, to check what [`encrypt`] wrote (the
    /// interoperability test decrypts with the AWS Encryption SDK itself).
    fn decrypt(message: &[u8], wrapping_key: &[u8; 32], context: &Context) -> Vec<u8> {
        let mut at = 0usize;
        let mut take = |n: usize| {
            let bytes = &message[at..at + n];
            at += n;
            bytes
        };
        assert_eq!(take(1), [2]);
        assert_eq!(take(2), SUITE.to_be_bytes());
        let message_id = take(32).to_vec();
        let aad_length = u16::from_be_bytes(take(2).try_into().unwrap()) as usize;
        assert_eq!(take(aad_length), serialize_pairs(context).unwrap());
        assert_eq!(take(2), [0, 1]);
        let mut field = || {
            let n = u16::from_be_bytes(message[at..at + 2].try_into().unwrap()) as usize;
            at += 2;
            let bytes = message[at..at + n].to_vec();
            at += n;
            bytes
        };
        let provider = field();
        let info = field();
        let wrapped = field();
        assert_eq!(provider, b"portcullis");
        let iv: [u8; 12] = info[info.len() - 12..].try_into().unwrap();
        let unwrap = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, wrapping_key).unwrap());
        let mut data_key = wrapped.clone();
        let data_key = unwrap
            .open_in_place(
                Nonce::assume_unique_for_key(iv),
                Aad::from(serialize_pairs(context).unwrap()),
                &mut data_key,
            )
            .unwrap()
            .to_vec();
        let mut take = |n: usize| {
            let bytes = &message[at..at + n];
            at += n;
            bytes
        };
        assert_eq!(take(1), [FRAMED]);
        assert_eq!(take(4), FRAME_LENGTH.to_be_bytes());
        let commitment = take(32).to_vec();
        assert_eq!(
            commitment,
            derive(&data_key, &message_id, b"COMMITKEY").unwrap()
        );
        let _tag = take(16);
        assert_eq!(take(4), FINAL_FRAME_MARK.to_be_bytes());
        assert_eq!(take(4), 1u32.to_be_bytes());
        let iv: [u8; 12] = take(12).try_into().unwrap();
        let length = u32::from_be_bytes(take(4).try_into().unwrap()) as usize;
        let mut body = take(length + 16).to_vec();
        let key = derive(&data_key, &message_id, &derive_info()).unwrap();
        let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &key).unwrap());
        let mut aad = message_id.clone();
        aad.extend_from_slice(FINAL_FRAME_AAD);
        aad.extend_from_slice(&1u32.to_be_bytes());
        aad.extend_from_slice(&(length as u64).to_be_bytes());
        let plain = key
            .open_in_place(Nonce::assume_unique_for_key(iv), Aad::from(aad), &mut body)
            .unwrap()
            .to_vec();
        assert_eq!(at, message.len());
        plain
    }

    #[test]
    fn a_short_code_is_one_final_frame_under_a_raw_aes_key() {
        let wrapping_key = [7u8; 32];
        let context = Context::from([("userpool-id".to_owned(), "us-east-1_abc".to_owned())]);
        let key = raw_aes_data_key(&wrapping_key, "portcullis", "key-1", &context).unwrap();
        assert!(key.encrypted.provider_info.starts_with(b"key-1"));
        let message = encrypt(&key, &context, b"123456").unwrap();
        assert_eq!(decrypt(&message, &wrapping_key, &context), b"123456");
        // A second message has its own ID, data key use and ciphertext.
        assert_ne!(encrypt(&key, &context, b"123456").unwrap(), message);
    }

    #[test]
    fn long_plaintexts_are_split_into_frames() {
        let key = raw_aes_data_key(&[1u8; 32], "portcullis", "k", &Context::new()).unwrap();
        let plaintext = vec![b'x'; 4096 * 2 + 10];
        let message = encrypt(&key, &Context::new(), &plaintext).unwrap();
        // Two full frames (sequence, IV, 4096 bytes, tag) precede the final one.
        let frames = 2 * (4 + 12 + 4096 + 16) + (4 + 4 + 12 + 4 + 10 + 16);
        let header = 1
            + 2
            + 32
            + 2
            + 2
            + (2 + 10)
            + (2 + key.encrypted.provider_info.len())
            + (2 + 48)
            + 1
            + 4
            + 32
            + 16;
        assert_eq!(message.len(), header + frames);
    }
}
