//! What the edge reads of a pool's configuration on a request path — its settings and
//! domain, an app client, a domain's pool, the hosted pages' customization — from a
//! cache that follows the log (`portcullis_eventlog::cache`): dropped when the pool's
//! configuration changes, and never older than a write acknowledged before the request.
//! The administrative operations (`DescribeUserPool`, …) still ask the directory.

use portcullis_errors::ApiError;
use portcullis_proto::directory::v1 as dir;

use crate::AppState;

/// The pool as `DescribeUserPool` gives it (its settings and domains are what the edge
/// uses; its user count is not kept fresh here).
pub async fn pool(state: &AppState, pool_id: &str) -> Result<dir::UserPool, ApiError> {
    state
        .cache
        .get(&format!("pool/{pool_id}"), || async {
            let request = dir::DescribeUserPoolRequest {
                pool_id: pool_id.to_owned(),
            };
            let pool = state.directory.clone().describe_user_pool(request).await?;
            Ok((pool_id.to_owned(), pool.into_inner()))
        })
        .await
}

/// An app client of the pool, with its secrets.
pub async fn client(
    state: &AppState,
    pool_id: &str,
    client_id: &str,
) -> Result<dir::UserPoolClient, ApiError> {
    state
        .cache
        .get(&format!("client/{pool_id}/{client_id}"), || async {
            let request = dir::DescribeUserPoolClientRequest {
                pool_id: pool_id.to_owned(),
                client_id: client_id.to_owned(),
            };
            let mut directory = state.directory.clone();
            let client = directory.describe_user_pool_client(request).await?;
            Ok((pool_id.to_owned(), client.into_inner()))
        })
        .await
}

/// The pool a domain (a prefix or a custom host name) belongs to, if any. A domain
/// that belongs to no pool is asked again each time (it may be created any moment).
pub async fn domain_pool(state: &AppState, domain: &str) -> Result<Option<String>, ApiError> {
    enum Miss {
        Unknown,
        Failed(ApiError),
    }
    let found = state
        .cache
        .get(&format!("domain/{domain}"), || async {
            let request = dir::ResolveDomainRequest {
                host_or_prefix: domain.to_owned(),
            };
            let answer = state.directory.clone().resolve_domain(request).await;
            let answer = answer.map_err(|status| Miss::Failed(status.into()))?;
            let answer = answer.into_inner();
            if answer.found {
                Ok((answer.pool_id.clone(), answer.pool_id))
            } else {
                Err(Miss::Unknown)
            }
        })
        .await;
    match found {
        Ok(pool_id) => Ok(Some(pool_id)),
        Err(Miss::Unknown) => Ok(None),
        Err(Miss::Failed(err)) => Err(err),
    }
}

/// The customization of a client's hosted pages, the pool's when the client has none
/// (without the logo's bytes).
pub async fn ui_customization(
    state: &AppState,
    pool_id: &str,
    client_id: &str,
) -> Result<dir::UiCustomization, ApiError> {
    state
        .cache
        .get(&format!("ui/{pool_id}/{client_id}"), || async {
            let request = dir::GetUiCustomizationRequest {
                pool_id: pool_id.to_owned(),
                client_id: client_id.to_owned(),
                without_image: true,
                cached: true,
            };
            let mut directory = state.directory.clone();
            let ui = directory.get_ui_customization(request).await?;
            Ok((pool_id.to_owned(), ui.into_inner()))
        })
        .await
}

/// A user by sub, as `GetUser` gives it; with a `client_id`, as that app client's users
/// read it (the directory applies its `ReadAttributes`).
pub async fn user(
    state: &AppState,
    pool_id: &str,
    sub: &str,
    client_id: Option<&str>,
) -> Result<dir::User, ApiError> {
    let stream = (pool_id, "user", sub);
    let request = dir::GetUserRequest {
        client_id: client_id.unwrap_or_default().to_owned(),
        ..dir::GetUserRequest::by_sub(pool_id, sub)
    };
    let load = || async {
        Ok(state
            .directory
            .clone()
            .get_user(request)
            .await?
            .into_inner())
    };
    match client_id {
        Some(client_id) => {
            let what = format!("user-as-{client_id}");
            state.cache.get_of(&what, stream, load).await
        }
        None => state.cache.get_of("user", stream, load).await,
    }
}
