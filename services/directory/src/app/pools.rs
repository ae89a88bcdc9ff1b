//! Pool administration beyond create/describe/list: update, delete, custom attributes,
//! tags, log delivery and the SAML signing certificate.

use bytes::Bytes;
use portcullis_errors::ApiError;
use portcullis_eventlog::KvError;
use portcullis_proto::events::v1::{LogConfiguration, SchemaAttribute, Tag, UserPoolSettings};
use portcullis_types::PoolId;

use super::{AggregateStore, CommandMeta, Directory, kv_error, pool_not_found};
use crate::domain::pool::{Pool, PoolCommand, PoolState};

/// The account id in every ARN Portcullis hands out.
pub use portcullis_types::ACCOUNT_ID;

pub fn pool_arn(region: &str, pool_id: &str) -> String {
    format!("arn:aws:cognito-idp:{region}:{ACCOUNT_ID}:userpool/{pool_id}")
}

/// The pool an ARN names. A well-formed ARN of anything but one of our pools is not
/// found; a string that is no ARN at all is an invalid parameter, as the model's
/// pattern makes it.
fn pool_of_arn(arn: &str) -> Result<String, ApiError> {
    let len = arn.chars().count();
    if !(20..=2048).contains(&len) || !crate::domain::pool_settings::is_arn(arn) {
        return Err(crate::domain::pool_settings::invalid(
            arn,
            "resourceArn",
            "Member must satisfy regular expression pattern: arn:[\\w+=/,.@-]+:[\\w+=/,.@-]+:([\\w+=/,.@-]*)?:[0-9]+:[\\w+=/,.@-]+(:[\\w+=/,.@-]+)?(:[\\w+=/,.@-]+)?",
        ));
    }
    let not_found = || ApiError::not_found(format!("Resource {arn} does not exist."));
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [_, "aws", "cognito-idp", region, ACCOUNT_ID, resource] = parts.as_slice() else {
        return Err(not_found());
    };
    let pool_id = resource.strip_prefix("userpool/").ok_or_else(not_found)?;
    match PoolId::parse(pool_id) {
        Ok(id) if id.as_str().split_once('_').map(|(r, _)| r) == Some(*region) => {
            Ok(pool_id.to_owned())
        }
        _ => Err(not_found()),
    }
}

fn certificate_key(pool_id: &str) -> String {
    format!("{pool_id}/signing-certificate")
}

impl Directory {
    /// Runs a command against an existing pool and waits for the read models to see it.
    async fn execute_on_pool(
        &self,
        pool_id: &str,
        command: PoolCommand,
        meta: &CommandMeta,
    ) -> Result<PoolState, ApiError> {
        self.pool(pool_id).await?;
        let stream = AggregateStore::stream::<Pool>(pool_id, pool_id)?;
        let done = self
            .store
            .execute::<Pool>(&stream, &command, meta)
            .await
            .map_err(|err| match err.code {
                portcullis_errors::ErrorCode::ResourceNotFoundException => pool_not_found(pool_id),
                _ => err,
            })?;
        self.projection.wait_for(done.position).await?;
        done.aggregate.state.ok_or_else(|| pool_not_found(pool_id))
    }

    pub async fn update_pool(
        &self,
        pool_id: &str,
        settings: UserPoolSettings,
        replace_tags: bool,
        meta: &CommandMeta,
    ) -> Result<(PoolState, u64), ApiError> {
        let command = PoolCommand::Update {
            settings,
            replace_tags,
        };
        let state = self.execute_on_pool(pool_id, command, meta).await?;
        let users = self.projection.user_count(pool_id).await?;
        Ok((state, users))
    }

    /// Deletes the pool. Its clients and users stay in the log but are unreachable:
    /// every lookup goes through the pool, which no longer loads.
    pub async fn delete_pool(&self, pool_id: &str, meta: &CommandMeta) -> Result<(), ApiError> {
        self.pool(pool_id).await?;
        if !self.pool_domains(pool_id).await?.is_empty() {
            return Err(ApiError::invalid_parameter(
                "User pool cannot be deleted. It has a domain configured that should be deleted first.",
            ));
        }
        let stream = AggregateStore::stream::<Pool>(pool_id, pool_id)?;
        let done = self
            .store
            .execute::<Pool>(&stream, &PoolCommand::Delete, meta)
            .await?;
        self.projection.wait_for(done.position).await
    }

    pub async fn add_custom_attributes(
        &self,
        pool_id: &str,
        attributes: Vec<SchemaAttribute>,
        meta: &CommandMeta,
    ) -> Result<(PoolState, u64), ApiError> {
        let command = PoolCommand::AddCustomAttributes(attributes);
        let state = self.execute_on_pool(pool_id, command, meta).await?;
        let users = self.projection.user_count(pool_id).await?;
        Ok((state, users))
    }

    pub async fn change_tags(
        &self,
        resource_arn: &str,
        set: Vec<Tag>,
        remove: Vec<String>,
        meta: &CommandMeta,
    ) -> Result<Vec<Tag>, ApiError> {
        let pool_id = pool_of_arn(resource_arn)?;
        let command = PoolCommand::ChangeTags { set, remove };
        let state = self.execute_on_pool(&pool_id, command, meta).await?;
        Ok(state.settings.user_pool_tags)
    }

    pub async fn tags(&self, resource_arn: &str) -> Result<Vec<Tag>, ApiError> {
        let pool_id = pool_of_arn(resource_arn)?;
        Ok(self.pool(&pool_id).await?.0.settings.user_pool_tags)
    }

    pub async fn set_pool_mfa_config(
        &self,
        pool_id: &str,
        request: portcullis_proto::directory::v1::SetUserPoolMfaConfigRequest,
        meta: &CommandMeta,
    ) -> Result<(PoolState, u64), ApiError> {
        let command = PoolCommand::SetMfaConfig(Box::new(request));
        let state = self.execute_on_pool(pool_id, command, meta).await?;
        let users = self.projection.user_count(pool_id).await?;
        Ok((state, users))
    }

    pub async fn set_log_delivery(
        &self,
        pool_id: &str,
        configurations: Vec<LogConfiguration>,
        meta: &CommandMeta,
    ) -> Result<Vec<LogConfiguration>, ApiError> {
        let command = PoolCommand::SetLogDelivery(configurations);
        let state = self.execute_on_pool(pool_id, command, meta).await?;
        Ok(state.log_configurations)
    }

    pub async fn log_delivery(&self, pool_id: &str) -> Result<Vec<LogConfiguration>, ApiError> {
        Ok(self.pool(pool_id).await?.0.log_configurations)
    }

    /// The pool's signing certificate (base64 DER), created on first use. The
    /// certificate and its private key are one entry of the secrets bucket, never in the
    /// log; of two racing first calls the first to store wins and both return its
    /// certificate.
    pub async fn signing_certificate(&self, pool_id: &str) -> Result<String, ApiError> {
        self.pool(pool_id).await?;
        let key = certificate_key(pool_id);
        if let Some(entry) = self.secrets.get(&key).await.map_err(kv_error)? {
            return stored_certificate(&entry.value);
        }
        let issued = portcullis_saml::certificate::self_signed(pool_id, self.store.now_ms())
            .map_err(|err| {
                tracing::error!(error = %err, "a pool's signing certificate could not be made");
                ApiError::internal()
            })?;
        let stored = serde_json::json!({
            "certificate": issued.certificate,
            "pkcs8": base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &issued.pkcs8),
        });
        match self
            .secrets
            .create(&key, Bytes::from(stored.to_string()))
            .await
        {
            Ok(_) => Ok(issued.certificate),
            Err(KvError::Conflict) => {
                let entry = self.secrets.get(&key).await.map_err(kv_error)?;
                stored_certificate(&entry.ok_or_else(ApiError::internal)?.value)
            }
            Err(err) => Err(kv_error(err)),
        }
    }
}

impl Directory {
    /// Signs `data` with the key of the pool's signing certificate (made on first use),
    /// RSA PKCS#1 v1.5 with SHA-256.
    pub async fn sign_with_pool_key(
        &self,
        pool_id: &str,
        data: &[u8],
    ) -> Result<Vec<u8>, ApiError> {
        self.signing_certificate(pool_id).await?;
        let entry = self
            .secrets
            .get(&certificate_key(pool_id))
            .await
            .map_err(kv_error)?
            .ok_or_else(ApiError::internal)?;
        let parsed: serde_json::Value =
            serde_json::from_slice(&entry.value).map_err(|_| ApiError::internal())?;
        let pkcs8 = parsed["pkcs8"]
            .as_str()
            .and_then(|text| {
                base64::Engine::decode(&base64::engine::general_purpose::STANDARD, text).ok()
            })
            .ok_or_else(ApiError::internal)?;
        let key = aws_lc_rs::signature::RsaKeyPair::from_pkcs8(&pkcs8).map_err(|_| {
            tracing::error!("the pool's signing key is unreadable");
            ApiError::internal()
        })?;
        let mut signature = vec![0u8; key.public_modulus_len()];
        key.sign(
            &aws_lc_rs::signature::RSA_PKCS1_SHA256,
            &aws_lc_rs::rand::SystemRandom::new(),
            data,
            &mut signature,
        )
        .map_err(|_| ApiError::internal())?;
        Ok(signature)
    }
}

fn stored_certificate(value: &[u8]) -> Result<String, ApiError> {
    let parsed: serde_json::Value = serde_json::from_slice(value).map_err(|err| {
        tracing::error!(error = %err, "unreadable signing certificate entry");
        ApiError::internal()
    })?;
    parsed["certificate"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(ApiError::internal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns_name_pools_of_our_account_and_region() {
        let id = "us-east-1_abcDEF123";
        assert_eq!(pool_of_arn(&pool_arn("us-east-1", id)).unwrap(), id);
        let other_region = pool_arn("eu-west-1", id);
        assert_eq!(
            pool_of_arn(&other_region).unwrap_err().code,
            portcullis_errors::ErrorCode::ResourceNotFoundException
        );
        let other_account = format!("arn:aws:cognito-idp:us-east-1:123456789012:userpool/{id}");
        assert!(pool_of_arn(&other_account).is_err());
        assert_eq!(
            pool_of_arn("not-an-arn").unwrap_err().code,
            portcullis_errors::ErrorCode::InvalidParameterException
        );
    }
}
