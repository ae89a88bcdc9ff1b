//! User pool domains: create, describe, update, delete, and resolving a host name to
//! its pool.
//!
//! A domain is unique across every pool of the server: it is a claim
//! (`domain/<name>` -> pool id) taken before the pool's domains stream records it and
//! released after the stream records its deletion. A claim whose pool no longer has
//! the domain (a crash part way) is taken over once older than the grace period.

use portcullis_errors::{ApiError, ErrorCode};
use portcullis_eventlog::StreamId;

use super::claims::OwnedClaim;
use super::{AggregateStore, CommandMeta, Directory};
use crate::domain::pool_domain::{self, DomainCommand, DomainState, PoolDomains};
use crate::projections::DomainEntry;

/// CreateUserPoolDomain's members.
pub struct NewDomain {
    pub domain: String,
    /// Given for a custom domain.
    pub certificate_arn: Option<String>,
    pub security_policy: String,
    pub managed_login_version: Option<i32>,
}

fn domain_key(domain: &str) -> String {
    format!("domain/{}", domain.to_ascii_lowercase())
}

fn taken() -> ApiError {
    ApiError::invalid_parameter("Domain already associated with another user pool.")
}

fn domains_stream(pool_id: &str) -> Result<StreamId, ApiError> {
    AggregateStore::stream::<PoolDomains>(pool_id, pool_id)
}

impl Directory {
    /// The pool's domains, read from its stream.
    pub async fn pool_domains(&self, pool_id: &str) -> Result<PoolDomains, ApiError> {
        let loaded = self
            .store
            .load::<PoolDomains>(&domains_stream(pool_id)?)
            .await?;
        Ok(loaded.aggregate)
    }

    pub async fn create_domain(
        &self,
        pool_id: &str,
        new: NewDomain,
        meta: &CommandMeta,
    ) -> Result<DomainState, ApiError> {
        self.pool_exists(pool_id).await?;
        // A malformed name is refused before it can claim anything.
        pool_domain::validate_domain(&new.domain, new.certificate_arn.is_some())?;
        let key = domain_key(&new.domain);
        let held = match self.claims.claim_owned(&key, pool_id).await? {
            OwnedClaim::Created(held) => Some(held),
            OwnedClaim::Ours => None,
            OwnedClaim::Other { owner, settled } => {
                if !settled || self.still_holds(&owner, &new.domain).await? {
                    return Err(taken());
                }
                tracing::warn!(pool_id, "taking over an orphaned domain claim");
                self.claims.take_over(&key, pool_id).await?;
                None
            }
        };
        let domain = new.domain.clone();
        let command = DomainCommand::Create {
            pool_id: pool_id.to_owned(),
            domain: new.domain,
            certificate_arn: new.certificate_arn,
            security_policy: new.security_policy,
            managed_login_version: new.managed_login_version,
        };
        let stream = domains_stream(pool_id)?;
        match self
            .store
            .execute::<PoolDomains>(&stream, &command, meta)
            .await
        {
            Ok(done) => {
                self.projection.wait_for(done.position).await?;
                done.aggregate
                    .get(&domain)
                    .cloned()
                    .ok_or_else(ApiError::internal)
            }
            Err(err) => {
                if let Some(held) = held {
                    self.claims.release(held).await;
                }
                Err(err)
            }
        }
    }

    /// Whether `pool_id` exists and has `domain` (a pool deleted while a domain was
    /// being created for it holds nothing).
    async fn still_holds(&self, pool_id: &str, domain: &str) -> Result<bool, ApiError> {
        match self.pool_exists(pool_id).await {
            Ok(()) => Ok(self.pool_domains(pool_id).await?.get(domain).is_some()),
            Err(err) if err.code == ErrorCode::ResourceNotFoundException => Ok(false),
            Err(err) => Err(err),
        }
    }

    /// The domain and its pool, or `None` when no pool has it.
    pub async fn describe_domain(&self, domain: &str) -> Result<Option<DomainState>, ApiError> {
        let Some(pool_id) = self.claims.owner(&domain_key(domain)).await? else {
            return Ok(None);
        };
        Ok(self.pool_domains(&pool_id).await?.get(domain).cloned())
    }

    pub async fn update_domain(
        &self,
        pool_id: &str,
        command: DomainCommand,
        meta: &CommandMeta,
    ) -> Result<DomainState, ApiError> {
        self.pool_exists(pool_id).await?;
        let DomainCommand::Update { domain, .. } = &command else {
            return Err(ApiError::internal());
        };
        let domain = domain.clone();
        let stream = domains_stream(pool_id)?;
        let done = self
            .store
            .execute::<PoolDomains>(&stream, &command, meta)
            .await?;
        self.projection.wait_for(done.position).await?;
        done.aggregate
            .get(&domain)
            .cloned()
            .ok_or_else(ApiError::internal)
    }

    /// Deletes the domain, then frees its name. A crash in between leaves a claim the
    /// next claimant takes over.
    pub async fn delete_domain(
        &self,
        pool_id: &str,
        domain: &str,
        meta: &CommandMeta,
    ) -> Result<(), ApiError> {
        self.pool_exists(pool_id).await?;
        let command = DomainCommand::Delete {
            domain: domain.to_owned(),
        };
        let done = self
            .store
            .execute::<PoolDomains>(&domains_stream(pool_id)?, &command, meta)
            .await?;
        self.claims
            .release_owned(&domain_key(domain), pool_id)
            .await?;
        self.projection.wait_for(done.position).await
    }

    /// The pool serving `host_or_prefix`: a custom domain, a prefix, or a host name
    /// whose first label is a prefix (with or without a port). Read from this replica's
    /// read model; only a miss waits for writes made elsewhere.
    pub async fn resolve_domain(
        &self,
        host_or_prefix: &str,
    ) -> Result<Option<DomainEntry>, ApiError> {
        // A Host header may carry a port.
        let host = match host_or_prefix.rsplit_once(':') {
            Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
            _ => host_or_prefix,
        }
        .to_ascii_lowercase();
        if let Some(found) = self.projection.resolve_domain(&host).await? {
            return Ok(Some(found));
        }
        self.wait_for_log().await?;
        self.projection.resolve_domain(&host).await
    }
}
