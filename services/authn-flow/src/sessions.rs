//! The life of a session after sign-in: refreshing it (with refresh-token rotation where
//! the client asks for it) and revoking it.
//!
//! A session is the refresh-token family of one sign-in, named by its `origin_jti`.
//! Whether it is revoked is user state in the directory (a global sign-out, or a revoked
//! session by name), so every replica and every restart agrees; the token service only
//! holds the refresh tokens themselves.

use portcullis_errors::{ApiError, ErrorCode};
use portcullis_proto::authn::v1 as pb;
use portcullis_proto::directory::v1 as dir;
use portcullis_proto::events::v1::{Actor, actor::Kind};
use portcullis_proto::token::v1 as tok;
use subtle::ConstantTimeEq;

use crate::context::{ClientInfo, Flows, authenticated};
use crate::triggers::TokenSource;

/// What a refresh asks of the session, beyond the token itself.
pub(crate) struct RefreshRequest<'a> {
    pub refresh_token: &'a str,
    /// `DEVICE_KEY`, if the client sent one: it must be the session's device.
    pub device_key: &'a str,
    pub region: &'a str,
    pub correlation_id: &'a str,
}

pub(crate) fn revoked_refresh_token() -> ApiError {
    ApiError::not_authorized("Refresh Token has been revoked")
}

impl ClientInfo {
    /// Refresh-token rotation: `Some(grace seconds)` when the client rotates.
    pub(crate) fn rotation(&self) -> Option<u32> {
        self.settings
            .refresh_token_rotation
            .as_ref()
            .filter(|r| r.feature == "ENABLED")
            .map(|r| r.retry_grace_period_seconds)
    }

    /// Checks a `ClientSecret` (GetTokensFromRefreshToken, RevokeToken) against every
    /// current secret of the client, in constant time.
    fn check_client_secret(&self, given: &str, code: ErrorCode) -> Result<(), ApiError> {
        let secrets = self.secrets();
        if secrets.is_empty() {
            return Ok(());
        }
        let id = &self.client.client_id;
        if given.is_empty() {
            return Err(ApiError::new(
                code,
                format!("Client {id} is configured with secret but SECRET_HASH was not received"),
            ));
        }
        let matched = secrets.iter().fold(false, |found, secret| {
            found | bool::from(secret.as_bytes().ct_eq(given.as_bytes()))
        });
        if matched {
            Ok(())
        } else {
            Err(ApiError::new(
                code,
                format!("Unable to verify secret hash for client {id}"),
            ))
        }
    }
}

impl Flows {
    /// New tokens for a session. `check_user` runs once the user is known (the secret
    /// hash of REFRESH_TOKEN_AUTH names the user). With rotation, the response carries a
    /// new refresh token that keeps the session's expiry, and the old one is honoured for
    /// the grace period only; using it later revokes the whole session.
    pub(crate) async fn refresh_session(
        &self,
        client: &ClientInfo,
        req: RefreshRequest<'_>,
        check_user: impl FnOnce(&dir::User) -> Result<(), ApiError>,
    ) -> Result<pb::InitiateAuthResponse, ApiError> {
        let rotation = client.rotation();
        let request = tok::ResolveRefreshTokenRequest {
            refresh_token: req.refresh_token.to_owned(),
            client_id: client.client.client_id.clone(),
            rotate: rotation.is_some(),
            grace_seconds: rotation.unwrap_or(0),
        };
        let grant = self
            .token
            .clone()
            .resolve_refresh_token(request)
            .await?
            .into_inner();
        if grant.reused {
            self.revoke_session(
                &grant,
                "REFRESH_TOKEN_REUSE",
                req.region,
                req.correlation_id,
            )
            .await?;
            return Err(ApiError::new(
                ErrorCode::RefreshTokenReuseException,
                "Refresh Token has been reused",
            ));
        }
        let user = match self.user_by_sub(&grant.pool_id, &grant.sub).await {
            Ok(user) => user,
            Err(err) if err.code == ErrorCode::UserNotFoundException => {
                return Err(revoked_refresh_token());
            }
            Err(err) => return Err(err),
        };
        check_user(&user)?;
        if !req.device_key.is_empty() && req.device_key != grant.device_key {
            return Err(ApiError::not_authorized("Invalid Refresh Token"));
        }
        if portcullis_types::session_revoked(
            user.signed_out_ms,
            &user.revoked_sessions,
            &grant.origin_jti,
            grant.auth_time.saturating_mul(1_000),
        ) {
            return Err(revoked_refresh_token());
        }
        if !user.enabled {
            return Err(ApiError::not_authorized("User is disabled."));
        }
        let mut request = self
            .issue_request(
                client,
                &user,
                grant.auth_time,
                grant.origin_jti,
                rotation.is_some(),
            )
            .await?;
        request.refresh_expires_ms = grant.expires_ms;
        // The session stays on the device it began on, with the scopes it was granted.
        request.device_key = grant.device_key;
        request.oauth = grant.oauth;
        request.scopes = grant.scopes;
        self.pre_token_generation(client, &user, TokenSource::RefreshTokens, &mut request)
            .await?;
        let tokens = self.token.clone().issue_tokens(request).await?.into_inner();
        Ok(authenticated(tokens))
    }

    /// `GetTokensFromRefreshToken`: like REFRESH_TOKEN_AUTH, with the client secret
    /// itself instead of a secret hash, and the only way to refresh with rotation.
    pub async fn get_tokens_from_refresh_token(
        &self,
        req: pb::GetTokensFromRefreshTokenRequest,
    ) -> Result<pb::InitiateAuthResponse, ApiError> {
        let mut client = self.client(&req.client_id).await?;
        client.caller = req.caller_context.clone().unwrap_or_default();
        if !client.allows("ALLOW_REFRESH_TOKEN_AUTH") {
            return Err(ApiError::invalid_parameter(
                "REFRESH_TOKEN_AUTH flow not enabled for this client",
            ));
        }
        client.check_client_secret(&req.client_secret, ErrorCode::NotAuthorizedException)?;
        let refresh = RefreshRequest {
            refresh_token: &req.refresh_token,
            device_key: &req.device_key,
            region: &req.region,
            correlation_id: &req.correlation_id,
        };
        self.refresh_session(&client, refresh, |_| Ok(())).await
    }

    /// `RevokeToken`: revokes the session of a refresh token — the token, every token
    /// rotated from it and every access token issued in the session. The token stays in
    /// the store (it expires there), refused because its session is revoked. An unknown
    /// or expired token is already unusable, so revoking it succeeds (RFC 7009).
    pub async fn revoke_token(
        &self,
        req: pb::RevokeTokenRequest,
    ) -> Result<pb::RevokeTokenResponse, ApiError> {
        let client = match self.client(&req.client_id).await {
            Ok(client) => client,
            Err(err) if err.code == ErrorCode::ResourceNotFoundException => {
                return Err(ApiError::new(
                    ErrorCode::UnauthorizedException,
                    "Invalid client",
                ));
            }
            Err(err) => return Err(err),
        };
        client.check_client_secret(&req.client_secret, ErrorCode::UnauthorizedException)?;
        if !client.settings.enable_token_revocation {
            return Err(ApiError::new(
                ErrorCode::UnsupportedOperationException,
                "Token revocation is not enabled for this app client.",
            ));
        }
        // A JWT (access or ID token) is not what this operation revokes.
        if req.token.split('.').count() == 3 {
            return Err(ApiError::new(
                ErrorCode::UnsupportedTokenTypeException,
                "Token type is not supported. Only refresh tokens can be revoked.",
            ));
        }
        let request = tok::ResolveRefreshTokenRequest {
            refresh_token: req.token.clone(),
            client_id: client.client.client_id.clone(),
            rotate: false,
            grace_seconds: 0,
        };
        let grant = match self.token.clone().resolve_refresh_token(request).await {
            Ok(grant) => grant.into_inner(),
            Err(status)
                if ApiError::from(status.clone()).code == ErrorCode::NotAuthorizedException =>
            {
                return Ok(pb::RevokeTokenResponse {});
            }
            Err(status) => return Err(status.into()),
        };
        match self
            .revoke_session(&grant, "REVOKE_TOKEN", &req.region, &req.correlation_id)
            .await
        {
            // The user is gone, and their sessions with them.
            Err(err) if err.code == ErrorCode::UserNotFoundException => {}
            other => other?,
        }
        Ok(pb::RevokeTokenResponse {})
    }

    /// Records in the user's log that a session is revoked.
    async fn revoke_session(
        &self,
        grant: &tok::RefreshGrant,
        reason: &str,
        region: &str,
        correlation_id: &str,
    ) -> Result<(), ApiError> {
        let request = dir::RevokeSessionsRequest {
            caller: Some(dir::Caller {
                region: region.to_owned(),
                actor: Some(Actor {
                    kind: Kind::User as i32,
                    id: grant.sub.clone(),
                }),
                correlation_id: correlation_id.to_owned(),
            }),
            user: Some(dir::UserRef {
                pool_id: grant.pool_id.clone(),
                username: String::new(),
                sub: grant.sub.clone(),
            }),
            origin_jti: grant.origin_jti.clone(),
            expires_ms: grant.expires_ms,
            reason: reason.to_owned(),
        };
        self.directory.clone().revoke_sessions(request).await?;
        Ok(())
    }
}
