//! Data keys from a KMS-compatible service: `GenerateDataKey` (the JSON 1.1 protocol,
//! `X-Amz-Target: TrentService.GenerateDataKey`, SigV4 for the service `kms`), as the
//! AWS Encryption SDK's KMS keyring calls it, so that the function's keyring unwraps the
//! key with `Decrypt`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use crate::encryption::{Context, DataKey, EncryptedDataKey};
use crate::{AwsPost, Credentials, Failure, read_capped, transport_failure};

/// The provider ID of a KMS keyring's data keys.
const PROVIDER_ID: &str = "aws-kms";

pub(crate) async fn generate_data_key(
    http: &reqwest::Client,
    endpoint: &str,
    credentials: Option<&Credentials>,
    key_id: &str,
    context: &Context,
) -> Result<DataKey, Failure> {
    // The key's region, from its ARN (`arn:aws:kms:<region>:...`).
    let region = key_id.split(':').nth(3).filter(|r| !r.is_empty());
    let Some(region) = region else {
        return Err(Failure::Invocation("KMSNotFoundException".into()));
    };
    let body = serde_json::to_vec(&json!({
        "KeyId": key_id,
        "NumberOfBytes": 32,
        "EncryptionContext": context,
    }))
    .map_err(|_| Failure::Malformed)?;
    let post = AwsPost {
        url: endpoint,
        region,
        service: "kms",
        content_type: "application/x-amz-json-1.1",
        target: "TrentService.GenerateDataKey",
        credentials,
    };
    let request = post.request(http, &body)?;
    let response = request
        .body(body)
        .send()
        .await
        .map_err(|e| transport_failure(&e))?;
    let status = response.status();
    let answer = read_capped(response).await?;
    let answer: Value = serde_json::from_slice(&answer).unwrap_or(Value::Null);
    if !status.is_success() {
        // KMS names its error in `__type` (`NotFoundException`, ...).
        let kind = answer
            .get("__type")
            .and_then(Value::as_str)
            .map(|t| t.rsplit('#').next().unwrap_or(t))
            .unwrap_or("KMSInternalException");
        tracing::warn!(%status, kind, "the KMS service refused to generate a data key");
        return Err(Failure::Invocation(format!("KMS{kind}")));
    }
    let decode = |name: &str| {
        answer
            .get(name)
            .and_then(Value::as_str)
            .and_then(|v| STANDARD.decode(v).ok())
    };
    let (Some(plaintext), Some(ciphertext)) = (decode("Plaintext"), decode("CiphertextBlob"))
    else {
        return Err(Failure::Invocation("KMSInvalidResponse".into()));
    };
    let plaintext: [u8; 32] = plaintext
        .try_into()
        .map_err(|_| Failure::Invocation("KMSInvalidResponse".into()))?;
    // The keyring names the key by the ARN KMS answers with.
    let key_arn = answer
        .get("KeyId")
        .and_then(Value::as_str)
        .unwrap_or(key_id);
    Ok(DataKey {
        plaintext,
        encrypted: EncryptedDataKey {
            provider_id: PROVIDER_ID.to_owned(),
            provider_info: key_arn.as_bytes().to_vec(),
            ciphertext,
        },
    })
}
