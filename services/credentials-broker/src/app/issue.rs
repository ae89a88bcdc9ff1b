//! What an identity is issued: temporary credentials for a role (enhanced flow), an
//! OpenID token that vouches for it (basic and developer flows), and credentials for
//! such a token through STS's AssumeRoleWithWebIdentity.

use std::collections::HashMap;

use portcullis_aggregate::CommandMeta;
use portcullis_errors::{ApiError, ErrorCode};
use portcullis_policy::{Policy, Request, evaluate};
use portcullis_proto::token::v1 as tok;
use serde_json::{Value, json};

use super::{Broker, RoleInfo};
use crate::credentials::{Credentials, Grant, Minter};
use crate::domain::identity::{IdentityState, Login};
use crate::domain::identity_pool::PoolState;
use crate::logins::{IDENTITY_PROVIDER, IdentityTokens, Verified};
use crate::roles::{self, Ambiguous, Mapping, MatchType, Resolved, Rule};

/// Credentials from GetCredentialsForIdentity last an hour, as Cognito's do.
const CREDENTIALS_TTL_MS: i64 = 3_600_000;
/// OpenID tokens from GetOpenIdToken last ten minutes; developer tokens default to 15.
const OPEN_ID_TOKEN_TTL_S: i64 = 600;
const DEVELOPER_TOKEN_TTL_S: i64 = 900;
/// STS session bounds.
const MIN_SESSION_S: i64 = 900;
const DEFAULT_SESSION_S: i64 = 3_600;
/// The claim under which principal tags travel in an OpenID token.
const TAGS_CLAIM: &str = "https://aws.amazon.com/tags";
/// The principal identity pools' tokens are trusted as.
const FEDERATED_PRINCIPAL: &str = "cognito-identity.amazonaws.com";

pub struct Issued {
    pub identity_id: String,
    pub credentials: Credentials,
}

pub struct AssumedRole {
    pub credentials: Credentials,
    pub subject: String,
    pub assumed_role_id: String,
    pub assumed_role_arn: String,
    pub provider: String,
    pub audience: String,
}

fn bad_configuration() -> ApiError {
    ApiError::new(
        ErrorCode::InvalidIdentityPoolConfigurationException,
        "Invalid identity pool configuration. Check assigned IAM roles for this pool.",
    )
}

fn internal(err: impl std::fmt::Display) -> ApiError {
    tracing::error!(error = %err, "credentials could not be minted");
    ApiError::internal()
}

/// The pool's stored mapping in the form role resolution takes.
fn mapping(stored: &portcullis_proto::events::v1::RoleMapping) -> Mapping {
    let ambiguous = if stored.ambiguous_role_resolution == "AuthenticatedRole" {
        Ambiguous::AuthenticatedRole
    } else {
        Ambiguous::Deny
    };
    if stored.r#type == "Token" {
        return Mapping::Token { ambiguous };
    }
    let rules = stored
        .rules
        .iter()
        .map(|r| Rule {
            claim: r.claim.clone(),
            match_type: match r.match_type.as_str() {
                "Contains" => MatchType::Contains,
                "StartsWith" => MatchType::StartsWith,
                "NotEqual" => MatchType::NotEqual,
                _ => MatchType::Equals,
            },
            value: r.value.clone(),
            role_arn: r.role_arn.clone(),
        })
        .collect();
    Mapping::Rules { rules, ambiguous }
}

/// Principal tags carried by an identity-pool OpenID token (developer flow).
fn token_tags(claims: &Value) -> Vec<(String, String)> {
    claims
        .get(TAGS_CLAIM)
        .and_then(|t| t.get("principal_tags"))
        .and_then(Value::as_object)
        .map(|tags| {
            tags.iter()
                .filter_map(|(k, v)| {
                    let value = v.as_array()?.first()?.as_str()?;
                    Some((k.clone(), value.to_owned()))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Whether a `Logins` key is a SAML provider's ARN.
fn is_saml_provider(provider: &str) -> bool {
    provider.starts_with("arn:") && provider.contains(":saml-provider/")
}

/// `authenticated` and what each verified login adds to `amr`.
fn authenticated_amr(verified: &[Verified]) -> Vec<String> {
    let mut amr = vec!["authenticated".to_owned()];
    for v in verified {
        amr.extend(v.amr.iter().cloned());
    }
    amr
}

/// The first action the role's trust policy refuses to an identity of `pool_id` with
/// `amr`: `sts:AssumeRoleWithWebIdentity`, then `sts:TagSession` when the session
/// carries principal tags (as IAM requires); `None` when it trusts the identity.
fn refused_by_trust(
    role: &RoleInfo,
    pool_id: &str,
    identity_id: Option<&str>,
    amr: &[String],
    tagged: bool,
) -> Option<&'static str> {
    let trust = Policy::parse(&role.trust_policy).ok();
    let allows = |action: &str| {
        let mut request = Request::new(action, role.arn.clone())
            .by("Federated", FEDERATED_PRINCIPAL)
            .with("cognito-identity.amazonaws.com:aud", pool_id)
            .with_values("cognito-identity.amazonaws.com:amr", amr.to_vec());
        if let Some(sub) = identity_id {
            request = request.with("cognito-identity.amazonaws.com:sub", sub);
        }
        trust
            .as_ref()
            .is_some_and(|t| evaluate(&[t], &request).allowed())
    };
    ["sts:AssumeRoleWithWebIdentity", "sts:TagSession"]
        .into_iter()
        .filter(|action| tagged || *action != "sts:TagSession")
        .find(|action| !allows(action))
}

/// What an identity is, for a role decision: its role, principal tags and `amr`.
struct Session {
    role_arn: String,
    principal_tags: Vec<(String, String)>,
    amr: Vec<String>,
}

impl Broker {
    /// The role and tags an identity's verified logins earn, by the pool's roles,
    /// mappings and tag maps.
    fn authenticated_session(
        pool: &PoolState,
        verified: &[Verified],
        custom_role_arn: Option<&str>,
    ) -> Result<Session, ApiError> {
        let Some(first) = verified.first() else {
            return Err(super::identities::logins_do_not_match());
        };
        let authenticated = pool.roles.get("authenticated").map(String::as_str);
        // The first login whose provider has a mapping decides; a user pool's mapping
        // may be keyed by `<provider>:<client id>`.
        let mapped = verified.iter().find_map(|v| {
            let aud = v
                .claims
                .get("aud")
                .and_then(Value::as_str)
                .unwrap_or_default();
            pool.role_mappings
                .get(&format!("{}:{aud}", v.login.provider))
                .or_else(|| pool.role_mappings.get(&v.login.provider))
                .map(|m| (v, mapping(m)))
        });
        let decider = mapped.as_ref().map_or(first, |(v, _)| *v);
        // Roles a SAML assertion offers come before the pool's mapping.
        let resolved = if decider.offered_roles.is_empty() {
            let mapping = mapped.as_ref().map(|(_, m)| m);
            roles::resolve(mapping, &decider.claims, authenticated, custom_role_arn)
        } else {
            roles::offered(&decider.offered_roles, custom_role_arn)
        };
        let role_arn = match resolved {
            Resolved::Role(role) => role,
            Resolved::Denied if mapped.is_some() => {
                return Err(ApiError::not_authorized(
                    "Access to Identity is forbidden: no role matched the role mapping rules.",
                ));
            }
            Resolved::Denied => return Err(bad_configuration()),
            Resolved::NotOffered => {
                return Err(ApiError::invalid_parameter(
                    "The CustomRoleArn is not one of the roles the token offers.",
                ));
            }
            Resolved::Choose => {
                return Err(ApiError::invalid_parameter(
                    "The SAML assertion offers several roles: choose one with CustomRoleArn.",
                ));
            }
        };
        if custom_role_arn.is_some_and(|c| c != role_arn) {
            return Err(ApiError::invalid_parameter(
                "The CustomRoleArn is not one of the roles the token offers.",
            ));
        }
        let principal_tags = if decider.login.provider == IDENTITY_PROVIDER {
            token_tags(&decider.claims)
        } else {
            let (_, map) = Self::tag_map(pool, &decider.login.provider);
            let map: Vec<(String, String)> = map.into_iter().collect();
            roles::principal_tags(&map, &decider.claims)
        };
        Ok(Session {
            role_arn,
            principal_tags,
            amr: authenticated_amr(verified),
        })
    }

    fn guest_session(pool: &PoolState) -> Result<Session, ApiError> {
        if !pool.settings.allow_unauthenticated_identities {
            return Err(super::identities::no_guests());
        }
        let role_arn = pool
            .roles
            .get("unauthenticated")
            .cloned()
            .ok_or_else(bad_configuration)?;
        Ok(Session {
            role_arn,
            principal_tags: Vec::new(),
            amr: vec!["unauthenticated".to_owned()],
        })
    }

    /// The role, if its trust policy lets identities of `pool_id` with `amr` assume it.
    async fn trusted_role(
        &self,
        role_arn: &str,
        pool_id: &str,
        amr: &[String],
        tagged: bool,
    ) -> Result<RoleInfo, ApiError> {
        let role = self
            .roles
            .role(role_arn)
            .await?
            .ok_or_else(bad_configuration)?;
        match refused_by_trust(&role, pool_id, None, amr, tagged) {
            None => Ok(role),
            Some(_) => Err(bad_configuration()),
        }
    }

    fn mint(&self, grant: &Grant) -> Result<Credentials, ApiError> {
        self.minter.mint(grant).map_err(internal)
    }

    /// The identity and its verified logins, which must speak for it; none for a guest.
    async fn proven(
        &self,
        identity_id: &str,
        logins: &HashMap<String, String>,
        identity_tokens: IdentityTokens,
    ) -> Result<(IdentityState, PoolState, Vec<Verified>), ApiError> {
        let identity = self.identity(identity_id).await?;
        let pool = self.pool(&identity.pool_id).await?;
        if logins.is_empty() {
            if identity.is_authenticated() {
                return Err(super::identities::logins_do_not_match());
            }
            return Ok((identity, pool, Vec::new()));
        }
        let verified = self
            .verifier
            .verify_all(&pool, logins, identity_tokens)
            .await?;
        Self::check_logins_match(&identity, &verified)?;
        Ok((identity, pool, verified))
    }

    /// GetCredentialsForIdentity.
    pub async fn credentials_for_identity(
        &self,
        identity_id: &str,
        logins: &HashMap<String, String>,
        custom_role_arn: Option<&str>,
        region: &str,
    ) -> Result<Issued, ApiError> {
        let (identity, pool, verified) = self
            .proven(identity_id, logins, IdentityTokens::Accepted)
            .await?;
        let session = if verified.is_empty() {
            if custom_role_arn.is_some() {
                return Err(ApiError::invalid_parameter(
                    "CustomRoleArn is only for authenticated identities.",
                ));
            }
            Self::guest_session(&pool)?
        } else {
            Self::authenticated_session(&pool, &verified, custom_role_arn)?
        };
        let tagged = !session.principal_tags.is_empty();
        self.trusted_role(&session.role_arn, &pool.id, &session.amr, tagged)
            .await?;
        // Last, so that a refused request leaves a SAML response usable.
        self.verifier.spend(&verified).await?;
        let grant = Grant {
            access_key_id: Minter::new_access_key_id().map_err(internal)?,
            identity_id: identity.id.clone(),
            identity_pool_id: pool.id.clone(),
            role_arn: session.role_arn,
            region: region.to_owned(),
            principal_tags: session.principal_tags,
            session_policy: None,
            amr: session.amr,
            expires_ms: self.now_ms() + CREDENTIALS_TTL_MS,
        };
        Ok(Issued {
            identity_id: identity.id,
            credentials: self.mint(&grant)?,
        })
    }

    async fn sign(&self, claims: Value) -> Result<String, ApiError> {
        let request = tok::SignIdentityTokenRequest {
            claims_json: claims.to_string(),
        };
        Ok(self
            .token
            .clone()
            .sign_identity_token(request)
            .await?
            .into_inner()
            .token)
    }

    fn open_id_claims(&self, identity: &IdentityState, amr: &[String], ttl_s: i64) -> Value {
        let now = self.now_ms() / 1_000;
        json!({
            "sub": identity.id,
            "aud": identity.pool_id,
            "amr": amr,
            "iat": now,
            "exp": now + ttl_s,
            "jti": uuid::Uuid::new_v4().to_string(),
        })
    }

    /// GetOpenIdToken (the basic flow).
    pub async fn open_id_token(
        &self,
        identity_id: &str,
        logins: &HashMap<String, String>,
    ) -> Result<String, ApiError> {
        let (identity, pool, verified) = self
            .proven(identity_id, logins, IdentityTokens::Refused)
            .await?;
        if verified.iter().any(|v| is_saml_provider(&v.login.provider)) {
            return Err(ApiError::invalid_parameter(
                "SAML logins are supported only in the enhanced flow (GetCredentialsForIdentity).",
            ));
        }
        let amr = if verified.is_empty() {
            if !pool.settings.allow_unauthenticated_identities {
                return Err(super::identities::no_guests());
            }
            vec!["unauthenticated".to_owned()]
        } else {
            authenticated_amr(&verified)
        };
        let mut claims = self.open_id_claims(&identity, &amr, OPEN_ID_TOKEN_TTL_S);
        // A developer token's principal tags carry over to the tokens it is traded for.
        if let Some(tags) = verified.iter().find_map(|v| v.claims.get(TAGS_CLAIM)) {
            claims[TAGS_CLAIM] = tags.clone();
        }
        self.sign(claims).await
    }

    /// GetOpenIdTokenForDeveloperIdentity: the identity of the developer's user (linked
    /// now if new) and a token for it.
    pub async fn developer_open_id_token(
        &self,
        pool_id: &str,
        identity_id: Option<&str>,
        logins: &HashMap<String, String>,
        principal_tags: &HashMap<String, String>,
        token_duration: Option<i64>,
        meta: &CommandMeta,
    ) -> Result<(String, String), ApiError> {
        let pool = self.pool(pool_id).await?;
        let provider = pool.settings.developer_provider_name.clone();
        let Some(user) = logins.get(&provider).filter(|_| !provider.is_empty()) else {
            return Err(ApiError::invalid_parameter(
                "Logins must name the identity pool's developer provider.",
            ));
        };
        let duration = token_duration.unwrap_or(DEVELOPER_TOKEN_TTL_S);
        if !(1..=86_400).contains(&duration) {
            let bound = if duration < 1 {
                "greater than or equal to 1"
            } else {
                "less than or equal to 86400"
            };
            return Err(ApiError::invalid_parameter(format!(
                "1 validation error detected: Value '{duration}' at 'tokenDuration' failed to satisfy constraint: Member must have value {bound}"
            )));
        }
        if principal_tags.len() > 50 {
            return Err(crate::domain::validate::too_many("principalTags", 50));
        }
        let developer = Login {
            provider: provider.clone(),
            key: user.clone(),
        };
        crate::domain::validate::length(user, "developerUserIdentifier", 1, 1024)?;
        let others: HashMap<String, String> = logins
            .iter()
            .filter(|(k, _)| **k != provider)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let verified = self
            .verifier
            .verify_all(&pool, &others, IdentityTokens::Refused)
            .await?;
        let mut links = vec![developer.clone()];
        links.extend(verified.iter().map(|v| v.login.clone()));
        if let Some(id) = identity_id {
            self.identity_in_pool(id, &pool.id).await?;
            if let Some((linked, _)) = self.linked(&pool.id, &developer).await?
                && linked != id
            {
                return Err(ApiError::new(
                    ErrorCode::DeveloperUserAlreadyRegisteredException,
                    "The developer user identifier is already registered with another identity.",
                ));
            }
        }
        let id = self.identity_for(&pool, &links, identity_id, meta).await?;
        let identity = self.identity(&id).await?;
        let amr = vec![
            "authenticated".to_owned(),
            provider.clone(),
            format!("{provider}:{}:{user}", pool.id),
        ];
        let mut claims = self.open_id_claims(&identity, &amr, duration);
        if !principal_tags.is_empty() {
            let tags: serde_json::Map<String, Value> = principal_tags
                .iter()
                .map(|(k, v)| (k.clone(), json!([v])))
                .collect();
            claims[TAGS_CLAIM] = json!({ "principal_tags": tags });
        }
        Ok((id, self.sign(claims).await?))
    }

    /// STS AssumeRoleWithWebIdentity for an identity pool's OpenID token.
    pub async fn assume_role_with_web_identity(
        &self,
        role_arn: &str,
        session_name: &str,
        web_identity_token: &str,
        duration_s: Option<i64>,
        session_policy: Option<&str>,
        region: &str,
    ) -> Result<AssumedRole, ApiError> {
        let request = tok::VerifyIdentityTokenRequest {
            token: web_identity_token.to_owned(),
        };
        let verified = self
            .token
            .clone()
            .verify_identity_token(request)
            .await
            .map_err(|status| {
                let err = ApiError::from(status);
                if err.message.contains("expired") {
                    ApiError::new(ErrorCode::ExpiredTokenException, "Token is expired.")
                } else {
                    ApiError::new(
                        ErrorCode::InvalidIdentityToken,
                        "The web identity token that was passed could not be validated. Retry the request with a valid token.",
                    )
                }
            })?
            .into_inner();
        let claims: Value = serde_json::from_str(&verified.claims_json).map_err(internal)?;
        let text = |name: &str| {
            claims
                .get(name)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let (identity_id, pool_id) = (text("sub"), text("aud"));
        let amr: Vec<String> = claims
            .get("amr")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        let pool = self.pool(&pool_id).await.map_err(|_| {
            ApiError::new(
                ErrorCode::InvalidIdentityToken,
                "The identity pool of the token no longer exists.",
            )
        })?;
        if !pool.settings.allow_classic_flow {
            return Err(ApiError::new(
                ErrorCode::AccessDenied,
                "Basic (classic) flow is not enabled for this identity pool.",
            ));
        }
        let role = self.roles.role(role_arn).await?.ok_or_else(|| {
            ApiError::new(
                ErrorCode::AccessDenied,
                "Not authorized to perform sts:AssumeRoleWithWebIdentity",
            )
        })?;
        let principal_tags = token_tags(&claims);
        let tagged = !principal_tags.is_empty();
        if let Some(action) = refused_by_trust(&role, &pool_id, Some(&identity_id), &amr, tagged) {
            return Err(ApiError::new(
                ErrorCode::AccessDenied,
                format!("Not authorized to perform {action}"),
            ));
        }
        let max = i64::from(role.max_session_duration.max(3_600));
        let duration = duration_s.unwrap_or(DEFAULT_SESSION_S);
        if duration < MIN_SESSION_S || duration > max {
            return Err(ApiError::new(
                ErrorCode::ValidationError,
                format!(
                    "The requested DurationSeconds exceeds the MaxSessionDuration set for this role, or is below {MIN_SESSION_S}."
                ),
            ));
        }
        if let Some(policy) = session_policy {
            Policy::parse(policy).map_err(|err| {
                ApiError::new(ErrorCode::MalformedPolicyDocument, err.to_string())
            })?;
        }
        let session_name_ok = (2..=64).contains(&session_name.len())
            && session_name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+=,.@-_".contains(c));
        if !session_name_ok {
            return Err(ApiError::new(
                ErrorCode::ValidationError,
                format!(
                    "1 validation error detected: Value '{session_name}' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*"
                ),
            ));
        }
        // As long as asked, within the role's maximum session.
        let expires_ms = self.now_ms() + duration * 1_000;
        let grant = Grant {
            access_key_id: Minter::new_access_key_id().map_err(internal)?,
            identity_id: identity_id.clone(),
            identity_pool_id: pool_id.clone(),
            role_arn: role_arn.to_owned(),
            region: region.to_owned(),
            principal_tags,
            session_policy: session_policy.map(str::to_owned),
            amr,
            expires_ms,
        };
        let role_name = role_arn.rsplit('/').next().unwrap_or_default();
        Ok(AssumedRole {
            credentials: self.mint(&grant)?,
            subject: identity_id,
            assumed_role_id: format!("{}:{session_name}", role.role_id),
            assumed_role_arn: format!(
                "arn:aws:sts::{}:assumed-role/{role_name}/{session_name}",
                portcullis_types::ACCOUNT_ID
            ),
            provider: FEDERATED_PRINCIPAL.to_owned(),
            audience: pool_id,
        })
    }
}
