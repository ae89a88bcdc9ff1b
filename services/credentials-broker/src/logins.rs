//! Proof of identity in a `Logins` map: each entry names a provider and carries its
//! token. A login is verified against the identity pool's configuration and becomes who
//! the user is at that provider (the key that links it to one identity), the token's
//! claims (for role rules and principal tags) and the `amr` entries of the identity's
//! OpenID token.

use std::collections::HashMap;

use aws_lc_rs::digest;
use portcullis_ephemeral::EphemeralStore;
use portcullis_errors::{ApiError, ErrorCode};
use portcullis_proto::directory::v1 as dir;
use portcullis_proto::directory::v1::DirectoryLink;
use portcullis_proto::federation::v1 as fed;
use portcullis_proto::federation::v1::FederationLink;
use portcullis_proto::token::v1 as tok;
use portcullis_proto::token::v1::TokenLink;
use portcullis_runtime::GrpcChannel as Channel;
use serde_json::Value;

use crate::domain::identity::Login;
use crate::domain::identity_pool::PoolState;

/// The provider name under which an identity pool's own OpenID tokens are presented
/// (the developer-authenticated flow).
pub const IDENTITY_PROVIDER: &str = "cognito-identity.amazonaws.com";

/// Whether a `Logins` map may carry an identity pool's own OpenID token. Cognito takes
/// one only in `GetCredentialsForIdentity` (the developer-authenticated enhanced flow);
/// everywhere else the provider name is refused like an unknown one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentityTokens {
    Accepted,
    Refused,
}

/// A verified login.
#[derive(Debug, Clone)]
pub struct Verified {
    pub login: Login,
    pub claims: Value,
    /// What an OpenID token's `amr` says of it after `authenticated`.
    pub amr: Vec<String>,
    /// The identity an identity-pool OpenID token speaks for.
    pub identity_id: Option<String>,
    /// The roles a SAML assertion lets its user take (its `Role` attribute), if it
    /// names any.
    pub offered_roles: Vec<String>,
    /// A login that buys credentials once (a SAML assertion): spent by
    /// [`Verifier::spend`].
    pub single_use: Option<SingleUse>,
}

/// What marks a single-use login as spent: a key in the ephemeral store (every replica
/// sees it) kept until the login would expire anyway.
#[derive(Debug, Clone)]
pub struct SingleUse {
    key: String,
    ttl: std::time::Duration,
}

/// The user pool a provider name stands for: `cognito-idp.<region>.amazonaws.com/<pool>`
/// or any `<host>/<pool>` (this server's issuer without its scheme).
pub fn user_pool_of(provider: &str) -> Option<String> {
    let (_host, pool) = provider.rsplit_once('/')?;
    portcullis_types::PoolId::parse(pool)
        .ok()
        .map(|p| p.to_string())
}

/// The attribute whose values pair a role with the SAML provider it is for.
const SAML_ROLE: &str = "https://aws.amazon.com/SAML/Attributes/Role";

/// The role of a `Role` attribute value (`<role arn>,<provider arn>`, either order) when
/// it is paired with `provider`.
fn role_for_provider(pair: &str, provider: &str) -> Option<String> {
    let (a, b) = pair.split_once(',')?;
    let (a, b) = (a.trim(), b.trim());
    let (role, saml) = if a.contains(":saml-provider/") {
        (b, a)
    } else {
        (a, b)
    };
    (saml == provider && role.contains(":role/")).then(|| role.to_owned())
}

fn sha256_hex(text: &str) -> String {
    hex::encode(digest::digest(&digest::SHA256, text.as_bytes()))
}

fn invalid_token(detail: &str) -> ApiError {
    ApiError::not_authorized(format!("Invalid login token. {detail}"))
}

fn text<'a>(claims: &'a Value, name: &str) -> &'a str {
    claims.get(name).and_then(Value::as_str).unwrap_or_default()
}

/// What the federation service says of a login.
struct ProviderLogin {
    subject: String,
    claims: Value,
    /// For a SAML login: the key it is spent under, and how long it stays usable.
    spent_key: String,
    valid_seconds: u64,
}

#[derive(Clone)]
pub struct Verifier {
    pub token: TokenLink<Channel>,
    pub directory: DirectoryLink<Channel>,
    /// Verifies the logins of social, OpenID Connect and SAML providers.
    pub federation: FederationLink<Channel>,
    pub providers: std::sync::Arc<dyn crate::app::RoleDirectory>,
    /// Where spent single-use logins are remembered.
    pub spent: std::sync::Arc<dyn EphemeralStore>,
    /// Users by sub (`user/<pool>/<sub>`), kept while the log records no change to them.
    pub cache: portcullis_eventlog::cache::LogCache,
}

impl Verifier {
    /// Verifies every login; the map's order does not matter, the result is sorted by
    /// provider so that decisions are the same whatever order the client sent.
    pub async fn verify_all(
        &self,
        pool: &PoolState,
        logins: &HashMap<String, String>,
        identity_tokens: IdentityTokens,
    ) -> Result<Vec<Verified>, ApiError> {
        if logins.len() > 10 {
            return Err(crate::domain::validate::too_many("logins", 10));
        }
        let mut names: Vec<&String> = logins.keys().collect();
        names.sort();
        let mut out = Vec::with_capacity(names.len());
        for name in names {
            if name == IDENTITY_PROVIDER && identity_tokens == IdentityTokens::Refused {
                return Err(invalid_token(
                    "cognito-identity.amazonaws.com logins are accepted only by GetCredentialsForIdentity.",
                ));
            }
            out.push(self.verify(pool, name, &logins[name]).await?);
        }
        Ok(out)
    }

    /// Marks the single-use logins among `verified` as spent; refused when one was
    /// spent before. Of concurrent uses exactly one succeeds (create-if-absent).
    pub async fn spend(&self, verified: &[Verified]) -> Result<(), ApiError> {
        for once in verified.iter().filter_map(|v| v.single_use.as_ref()) {
            let fresh = self
                .spent
                .put_if_absent(&once.key, bytes::Bytes::from_static(b"1"), once.ttl)
                .await
                .map_err(|err| {
                    tracing::warn!(error = %err, "ephemeral store unavailable");
                    ApiError::new(
                        ErrorCode::ServiceUnavailableException,
                        "Service temporarily unavailable.",
                    )
                })?;
            if !fresh {
                return Err(invalid_token("The SAML response has already been used."));
            }
        }
        Ok(())
    }

    pub async fn verify(
        &self,
        pool: &PoolState,
        provider: &str,
        token: &str,
    ) -> Result<Verified, ApiError> {
        crate::domain::validate::length(provider, "logins", 1, 128)?;
        crate::domain::validate::length(token, "logins", 1, 50_000)?;
        if provider == IDENTITY_PROVIDER {
            return self.verify_identity_token(pool, token).await;
        }
        let clients: Vec<_> = pool
            .settings
            .cognito_identity_providers
            .iter()
            .filter(|p| p.provider_name == provider)
            .collect();
        if !clients.is_empty() {
            return self.verify_user_pool_token(provider, &clients, token).await;
        }
        if let Some(app_id) = pool.settings.supported_login_providers.get(provider) {
            let social = self
                .verify_login(
                    provider,
                    token,
                    fed::verify_login_request::Kind::Social(fed::SocialLoginKind {
                        app_id: app_id.clone(),
                    }),
                )
                .await?;
            return Ok(Verified {
                login: Login {
                    provider: provider.to_owned(),
                    key: sha256_hex(&social.subject),
                },
                amr: vec![
                    provider.to_owned(),
                    format!("{provider}:{app_id}:{}", social.subject),
                ],
                claims: social.claims,
                identity_id: None,
                offered_roles: Vec::new(),
                single_use: None,
            });
        }
        let oidc_arn = pool
            .settings
            .open_id_connect_provider_arns
            .iter()
            .find(|arn| {
                arn.split_once(":oidc-provider/")
                    .is_some_and(|(_, name)| name == provider)
            });
        if let Some(arn) = oidc_arn {
            let info = self.providers.oidc_provider(arn).await?.ok_or_else(|| {
                ApiError::new(
                    ErrorCode::InvalidIdentityPoolConfigurationException,
                    format!("The OpenID Connect provider {arn} does not exist."),
                )
            })?;
            let login = self
                .verify_login(
                    provider,
                    token,
                    fed::verify_login_request::Kind::Oidc(fed::OidcLoginKind {
                        issuer: info.url.clone(),
                        client_ids: info.client_ids.clone(),
                    }),
                )
                .await?;
            let aud = login
                .claims
                .get("aud")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            return Ok(Verified {
                login: Login {
                    provider: provider.to_owned(),
                    key: sha256_hex(&login.subject),
                },
                amr: vec![
                    provider.to_owned(),
                    format!("{provider}:{aud}:{}", login.subject),
                ],
                claims: login.claims,
                identity_id: None,
                offered_roles: Vec::new(),
                single_use: None,
            });
        }
        if pool
            .settings
            .saml_provider_arns
            .iter()
            .any(|arn| arn == provider)
        {
            return self.verify_saml(pool, provider, token).await;
        }
        if !pool.settings.developer_provider_name.is_empty()
            && provider == pool.settings.developer_provider_name
        {
            return Err(ApiError::not_authorized(
                "Developer authenticated identities must sign in through GetOpenIdTokenForDeveloperIdentity.",
            ));
        }
        Err(ApiError::not_authorized(
            "Token is not from a supported provider of this identity pool.",
        ))
    }

    async fn verify_user_pool_token(
        &self,
        provider: &str,
        clients: &[&portcullis_proto::events::v1::CognitoIdentityProvider],
        token: &str,
    ) -> Result<Verified, ApiError> {
        let request = tok::VerifyIdTokenRequest {
            id_token: token.to_owned(),
        };
        let verified = match self.token.clone().verify_id_token(request).await {
            Ok(v) => v.into_inner(),
            Err(status) => {
                let err = ApiError::from(status);
                return Err(match err.code {
                    ErrorCode::NotAuthorizedException if err.message.contains("expired") => {
                        invalid_token("Token is expired.")
                    }
                    ErrorCode::NotAuthorizedException | ErrorCode::InvalidParameterException => {
                        invalid_token("Not a valid OpenId Connect identity token.")
                    }
                    _ => err,
                });
            }
        };
        if user_pool_of(provider).as_deref() != Some(verified.pool_id.as_str()) {
            return Err(invalid_token("Issuer doesn't match providerName"));
        }
        let claims: Value =
            serde_json::from_str(&verified.claims_json).map_err(|_| ApiError::internal())?;
        let aud = text(&claims, "aud");
        let Some(client) = clients.iter().find(|c| c.client_id == aud) else {
            return Err(invalid_token("Incorrect token audience."));
        };
        let sub = text(&claims, "sub").to_owned();
        if client.server_side_token_check {
            self.check_session(&verified.pool_id, &sub, &claims).await?;
        }
        Ok(Verified {
            login: Login {
                provider: provider.to_owned(),
                key: sha256_hex(&sub),
            },
            amr: vec![
                provider.to_owned(),
                format!("{provider}:CognitoSignIn:{sub}"),
            ],
            claims,
            identity_id: None,
            offered_roles: Vec::new(),
            single_use: None,
        })
    }

    /// A base64 SAML response from an identity provider registered in IAM: signed by a
    /// key of its metadata and addressed to AWS as a service provider (identity
    /// providers are set up for identity pools that way).
    async fn verify_saml(
        &self,
        pool: &PoolState,
        provider: &str,
        token: &str,
    ) -> Result<Verified, ApiError> {
        let unusable = || {
            ApiError::new(
                ErrorCode::InvalidIdentityPoolConfigurationException,
                format!("The SAML provider {provider} does not exist."),
            )
        };
        let metadata = self
            .providers
            .saml_provider(provider)
            .await?
            .ok_or_else(unusable)?;
        let region = pool.id.split_once(':').map_or("", |(r, _)| r);
        let login = self
            .verify_login(
                provider,
                token,
                fed::verify_login_request::Kind::Saml(fed::SamlLoginKind {
                    metadata_document: metadata,
                    region: region.to_owned(),
                }),
            )
            .await?;
        let single_use = SingleUse {
            key: format!("saml-spent/{}", login.spent_key),
            ttl: std::time::Duration::from_secs(login.valid_seconds.max(1)),
        };
        let offered_roles = match login.claims.get(SAML_ROLE) {
            Some(Value::String(one)) => vec![one.clone()],
            Some(Value::Array(many)) => many
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
            _ => Vec::new(),
        }
        .iter()
        .filter_map(|pair| role_for_provider(pair, provider))
        .collect();
        Ok(Verified {
            login: Login {
                provider: provider.to_owned(),
                key: sha256_hex(&login.subject),
            },
            amr: vec![provider.to_owned(), format!("{provider}:{}", login.subject)],
            claims: login.claims,
            identity_id: None,
            offered_roles,
            single_use: Some(single_use),
        })
    }

    /// Has the federation service verify a login of an outside provider.
    async fn verify_login(
        &self,
        provider: &str,
        token: &str,
        kind: fed::verify_login_request::Kind,
    ) -> Result<ProviderLogin, ApiError> {
        let verified = self
            .federation
            .clone()
            .verify_login(fed::VerifyLoginRequest {
                provider: provider.to_owned(),
                token: token.to_owned(),
                kind: Some(kind),
            })
            .await
            .map_err(ApiError::from)?
            .into_inner();
        let claims: Value =
            serde_json::from_str(&verified.claims_json).map_err(|_| ApiError::internal())?;
        Ok(ProviderLogin {
            subject: verified.subject,
            claims,
            spent_key: verified.spent_key,
            valid_seconds: verified.valid_seconds,
        })
    }

    /// `ServerSideTokenCheck`: the user still exists, is enabled and has not signed out
    /// of the session the token belongs to.
    async fn check_session(
        &self,
        pool_id: &str,
        sub: &str,
        claims: &Value,
    ) -> Result<(), ApiError> {
        let request = dir::GetUserRequest::by_sub(pool_id, sub);
        let load = || async {
            let user = self.directory.clone().get_user(request).await?;
            Ok::<_, ApiError>(user.into_inner())
        };
        let user = self
            .cache
            .get_of("user", (pool_id, "user", sub), load)
            .await;
        let user = match user {
            Ok(user) => user,
            Err(err) => {
                return Err(match err.code {
                    ErrorCode::UserNotFoundException | ErrorCode::ResourceNotFoundException => {
                        invalid_token("Token has been revoked.")
                    }
                    _ => err,
                });
            }
        };
        let auth_time_ms = claims
            .get("auth_time")
            .and_then(Value::as_i64)
            .unwrap_or_default()
            .saturating_mul(1_000);
        let revoked = portcullis_types::session_revoked(
            user.signed_out_ms,
            &user.revoked_sessions,
            text(claims, "origin_jti"),
            auth_time_ms,
        );
        if revoked || !user.enabled {
            return Err(invalid_token("Token has been revoked."));
        }
        Ok(())
    }

    /// An OpenID token of this service (from GetOpenIdTokenForDeveloperIdentity or
    /// GetOpenIdToken), for the pool it was issued for.
    async fn verify_identity_token(
        &self,
        pool: &PoolState,
        token: &str,
    ) -> Result<Verified, ApiError> {
        let request = tok::VerifyIdentityTokenRequest {
            token: token.to_owned(),
        };
        let verified = self
            .token
            .clone()
            .verify_identity_token(request)
            .await
            .map_err(ApiError::from)?
            .into_inner();
        let claims: Value =
            serde_json::from_str(&verified.claims_json).map_err(|_| ApiError::internal())?;
        if text(&claims, "aud") != pool.id {
            return Err(invalid_token("Incorrect token audience."));
        }
        // A guest's token says `unauthenticated`: presenting it as a login must not
        // make its holder an authenticated identity.
        if !says_authenticated(&claims) {
            return Err(invalid_token("Token is not for an authenticated identity."));
        }
        let identity_id = text(&claims, "sub").to_owned();
        Ok(Verified {
            login: Login {
                provider: IDENTITY_PROVIDER.to_owned(),
                key: identity_id.clone(),
            },
            amr: claims
                .get("amr")
                .and_then(Value::as_array)
                .map(|amr| {
                    amr.iter()
                        .filter_map(Value::as_str)
                        .filter(|a| *a != "authenticated")
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
            claims,
            identity_id: Some(identity_id),
            offered_roles: Vec::new(),
            single_use: None,
        })
    }
}

/// Whether an identity-pool OpenID token's `amr` names `authenticated`.
fn says_authenticated(claims: &Value) -> bool {
    claims
        .get("amr")
        .and_then(Value::as_array)
        .is_some_and(|amr| amr.iter().any(|a| a.as_str() == Some("authenticated")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_pool_provider_names_in_both_forms() {
        assert_eq!(
            user_pool_of("cognito-idp.us-east-1.amazonaws.com/us-east-1_AbCd1234").as_deref(),
            Some("us-east-1_AbCd1234")
        );
        assert_eq!(
            user_pool_of("127.0.0.1:9339/us-east-1_AbCd1234").as_deref(),
            Some("us-east-1_AbCd1234")
        );
        assert_eq!(user_pool_of("accounts.google.com"), None);
        assert_eq!(
            user_pool_of("cognito-idp.us-east-1.amazonaws.com/nope"),
            None
        );
    }

    #[test]
    fn only_tokens_that_say_authenticated_are_authenticated() {
        let claims = |amr: Value| serde_json::json!({ "amr": amr });
        assert!(says_authenticated(&claims(serde_json::json!([
            "authenticated",
            "login.demo"
        ]))));
        assert!(!says_authenticated(&claims(serde_json::json!([
            "unauthenticated"
        ]))));
        assert!(!says_authenticated(&claims(serde_json::json!(
            "authenticated"
        ))));
        assert!(!says_authenticated(&serde_json::json!({})));
    }

    #[test]
    fn saml_role_pairs_in_either_order_for_this_provider_only() {
        let provider = "arn:aws:iam::000000000000:saml-provider/corp";
        let role = "arn:aws:iam::000000000000:role/reader";
        assert_eq!(
            role_for_provider(&format!("{role},{provider}"), provider).as_deref(),
            Some(role)
        );
        assert_eq!(
            role_for_provider(&format!("{provider}, {role}"), provider).as_deref(),
            Some(role)
        );
        let other = "arn:aws:iam::000000000000:saml-provider/other";
        assert_eq!(
            role_for_provider(&format!("{role},{other}"), provider),
            None
        );
        assert_eq!(role_for_provider(role, provider), None);
    }
}
