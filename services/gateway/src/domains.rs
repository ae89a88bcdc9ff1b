//! Which pool a domain belongs to, and what a domain's pages look like.

use portcullis_errors::{ApiError, ErrorCode};
use portcullis_proto::directory::v1 as dir;
use subtle::ConstantTimeEq;

use crate::AppState;
use crate::hosted::pages::Customization;

/// The pool a domain (a prefix, or a custom host name) is mapped to: `NOT_FOUND` when
/// none, `SERVICE_UNAVAILABLE` when the directory cannot say.
pub async fn pool_of_domain(
    state: &AppState,
    domain: &str,
) -> Result<String, axum::http::StatusCode> {
    use axum::http::StatusCode;
    if portcullis_types::PoolId::parse(domain).is_err() {
        return Err(StatusCode::NOT_FOUND);
    }
    let request = dir::DescribeUserPoolRequest {
        pool_id: domain.to_owned(),
    };
    match state.directory.clone().describe_user_pool(request).await {
        Ok(_) => Ok(domain.to_owned()),
        Err(status) => {
            let err = ApiError::from(status);
            if err.code.http_status() >= 500 {
                Err(StatusCode::SERVICE_UNAVAILABLE)
            } else {
                Err(StatusCode::NOT_FOUND)
            }
        }
    }
}

/// Where a pool's domain serves its endpoints, if the pool has a domain.
pub async fn base_of_pool(state: &AppState, pool_id: &str) -> Result<Option<String>, ApiError> {
    Ok(Some(format!("{}/domain/{pool_id}", state.public_base_url)))
}

/// The look of a client's pages: its own customization, else the pool's.
pub async fn customization(_state: &AppState, _pool_id: &str, _client_id: &str) -> Customization {
    Customization::default()
}

/// Whether `client_id` is a client of the pool and `secret` one of its current secrets
/// (empty for a public client), compared in constant time.
pub async fn client_authenticates(
    state: &AppState,
    pool_id: &str,
    client_id: &str,
    secret: &str,
) -> Result<bool, ApiError> {
    let request = dir::DescribeUserPoolClientRequest {
        pool_id: pool_id.to_owned(),
        client_id: client_id.to_owned(),
    };
    let client = match state
        .directory
        .clone()
        .describe_user_pool_client(request)
        .await
    {
        Ok(client) => client.into_inner(),
        Err(status) => {
            let err = ApiError::from(status);
            if matches!(
                err.code,
                ErrorCode::ResourceNotFoundException | ErrorCode::InvalidParameterException
            ) {
                return Ok(false);
            }
            return Err(err);
        }
    };
    if client.pool_id != pool_id {
        return Ok(false);
    }
    let mut secrets: Vec<&String> = client.client_secrets.iter().collect();
    if secrets.is_empty() {
        secrets.extend(client.client_secret.iter());
    }
    if secrets.is_empty() {
        return Ok(secret.is_empty());
    }
    Ok(secrets.iter().fold(false, |found, s| {
        found | bool::from(s.as_bytes().ct_eq(secret.as_bytes()))
    }))
}
