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
    if domain.is_empty() || domain.len() > 253 {
        return Err(StatusCode::NOT_FOUND);
    }
    let request = dir::ResolveDomainRequest {
        host_or_prefix: domain.to_owned(),
    };
    match state.directory.clone().resolve_domain(request).await {
        Ok(answer) => {
            let answer = answer.into_inner();
            if answer.found {
                Ok(answer.pool_id)
            } else {
                Err(StatusCode::NOT_FOUND)
            }
        }
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

/// Where a pool's domain serves its endpoints, if the pool has a domain: a custom
/// domain at its host name (https), else the prefix under this server's `/domain/`.
pub async fn base_of_pool(state: &AppState, pool_id: &str) -> Result<Option<String>, ApiError> {
    let request = dir::DescribeUserPoolRequest {
        pool_id: pool_id.to_owned(),
    };
    let pool = state
        .directory
        .clone()
        .describe_user_pool(request)
        .await?
        .into_inner();
    Ok(if !pool.custom_domain.is_empty() {
        Some(format!("https://{}", pool.custom_domain))
    } else if !pool.domain.is_empty() {
        Some(format!("{}/domain/{}", state.public_base_url, pool.domain))
    } else {
        None
    })
}

/// The look of a client's pages: its own customization, else the pool's (nothing when
/// neither has one, or when the directory cannot say: the pages still work).
pub async fn customization(state: &AppState, pool_id: &str, client_id: &str) -> Customization {
    let pool = dir::DescribeUserPoolRequest {
        pool_id: pool_id.to_owned(),
    };
    let self_sign_up = match state.directory.clone().describe_user_pool(pool).await {
        Ok(pool) => pool
            .into_inner()
            .settings
            .is_some_and(|s| !s.allow_admin_create_user_only),
        Err(_) => false,
    };
    let request = dir::GetUiCustomizationRequest {
        pool_id: pool_id.to_owned(),
        client_id: client_id.to_owned(),
        without_image: true,
        cached: true,
    };
    match state.directory.clone().get_ui_customization(request).await {
        Ok(answer) => {
            let answer = answer.into_inner();
            let logo_url = if answer.has_image {
                format!(
                    "{}/uicustomization/{pool_id}/{}/logo",
                    state.public_base_url, answer.client_id
                )
            } else {
                String::new()
            };
            Customization {
                css: answer.css,
                logo_url,
                self_sign_up,
            }
        }
        Err(status) => {
            tracing::debug!(code = ?status.code(), "no UI customization for the page");
            Customization {
                self_sign_up,
                ..Customization::default()
            }
        }
    }
}

/// Whether `client_id` is a confidential client of the pool and `secret` one of its
/// current secrets, compared in constant time. A public client cannot authenticate: its
/// id is no secret, so it proves nothing about the caller.
pub async fn confidential_client_authenticates(
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
        return Ok(false);
    }
    Ok(secrets.iter().fold(false, |found, s| {
        found | bool::from(s.as_bytes().ct_eq(secret.as_bytes()))
    }))
}
