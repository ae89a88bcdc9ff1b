//! Which pool a domain belongs to, and what a domain's pages look like.

use portcullis_errors::{ApiError, ErrorCode};
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
    match crate::config::domain_pool(state, domain).await {
        Ok(Some(pool_id)) => Ok(pool_id),
        Ok(None) => Err(StatusCode::NOT_FOUND),
        Err(err) if err.code.http_status() >= 500 => Err(StatusCode::SERVICE_UNAVAILABLE),
        Err(_) => Err(StatusCode::NOT_FOUND),
    }
}

/// Where a pool's domain serves its endpoints, if the pool has a domain: a custom
/// domain at its host name (https), else the prefix under this server's `/domain/`.
pub async fn base_of_pool(state: &AppState, pool_id: &str) -> Result<Option<String>, ApiError> {
    let pool = crate::config::pool(state, pool_id).await?;
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
    let self_sign_up = match crate::config::pool(state, pool_id).await {
        Ok(pool) => pool
            .settings
            .is_some_and(|s| !s.allow_admin_create_user_only),
        Err(_) => false,
    };
    let supported = crate::config::client(state, pool_id, client_id)
        .await
        .ok()
        .and_then(|c| c.settings)
        .map(|s| s.supported_identity_providers)
        .unwrap_or_default();
    let pool_sign_in = supported.iter().any(|p| p == "COGNITO");
    let providers: Vec<String> = supported.into_iter().filter(|p| p != "COGNITO").collect();
    let custom = Customization {
        self_sign_up,
        pool_sign_in,
        providers,
        ..Customization::default()
    };
    match crate::config::ui_customization(state, pool_id, client_id).await {
        Ok(answer) => {
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
                ..custom
            }
        }
        Err(err) => {
            tracing::debug!(code = ?err.code, "no UI customization for the page");
            custom
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
    let client = match crate::config::client(state, pool_id, client_id).await {
        Ok(client) => client,
        Err(err) => {
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
