//! What every flow works with: the service's dependencies ([`Flows`]), the app
//! client, reads from the directory, tokens, and the errors flows share.

use std::sync::Arc;

use portcullis_errors::{ApiError, ErrorCode};
use portcullis_eventlog::cache::LogCache;
use portcullis_eventlog::{KeyValue, KvError};
use portcullis_proto::authn::v1 as pb;
use portcullis_proto::directory::v1 as dir;
use portcullis_proto::directory::v1::DirectoryLink;
use portcullis_proto::events::v1::UserPoolSettings;
use portcullis_proto::federation::v1::FederationLink;
use portcullis_proto::token::v1 as tok;
use portcullis_proto::token::v1::TokenLink;
use portcullis_runtime::GrpcChannel as Channel;
use portcullis_types::{Clock, validity_seconds};

use crate::codes::{CodeError, Codes};
use crate::password::{self, PasswordHasherPool};
use crate::secret_hash;
use crate::sender::MessageSender;

/// Everything the flows need.
#[derive(Clone)]
pub struct Flows {
    pub directory: DirectoryLink<Channel>,
    pub token: TokenLink<Channel>,
    /// Identity providers: where a federated sign-in starts and what it proves.
    pub federation: FederationLink<Channel>,
    /// Password hashes by `<pool>/<sub>`; kept out of the event log.
    pub credentials: Arc<dyn KeyValue>,
    /// Hashes imported with users by the directory, until the first sign-in.
    pub imported_passwords: Arc<dyn KeyValue>,
    pub hasher: Arc<PasswordHasherPool>,
    pub clock: Arc<dyn Clock>,
    pub codes: Codes,
    pub sender: Arc<dyn MessageSender>,
    /// Sign-in sessions between a challenge and its answer.
    pub sessions: Arc<dyn portcullis_ephemeral::EphemeralStore>,
    /// How long issuing and delivering a code takes lately, so that answering for a
    /// user who does not exist takes as long (`PreventUserExistenceErrors`).
    pub delivery_time: Arc<LatencyEstimate>,
    /// App clients (`client/<id>`) and pools (`pool/<id>`) as the directory describes
    /// them, kept until the log records a change to the pool's configuration; users
    /// (`user/<pool>/<sub>`) until the log records a change to the user.
    pub cache: LogCache,
    /// Calls the pools' triggers.
    pub triggers: Arc<portcullis_triggers::Invoker>,
    /// The breached-password corpus, when the operator gave one (see `compromised.rs`).
    pub breached: Option<Arc<portcullis_breached::Corpus>>,
    /// Base of the links in risk notifications (the gateway's public URL).
    pub public_base_url: String,
    /// Where addresses are (city, country, coordinates), when the operator gave a
    /// database.
    pub geo: Option<Arc<portcullis_geo::Database>>,
}

/// The median of the last [`LatencyEstimate::SAMPLES`] durations: a first slow
/// delivery (a file created, a connection opened) does not linger in it.
#[derive(Debug, Default)]
pub struct LatencyEstimate(std::sync::Mutex<std::collections::VecDeque<std::time::Duration>>);

impl LatencyEstimate {
    pub const SAMPLES: usize = 15;

    pub fn record(&self, took: std::time::Duration) {
        let mut samples = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if samples.len() == Self::SAMPLES {
            samples.pop_front();
        }
        samples.push_back(took);
    }

    /// Waits until the current estimate has passed since `started`: work done since
    /// then (the decoy's own store writes) counts towards it, as it does in a real
    /// delivery's recorded time.
    pub async fn pad_from(&self, started: std::time::Instant) {
        tokio::time::sleep_until((started + self.current()).into()).await;
    }

    pub fn current(&self) -> std::time::Duration {
        let mut sorted: Vec<_> = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .copied()
            .collect();
        sorted.sort_unstable();
        sorted.get(sorted.len() / 2).copied().unwrap_or_default()
    }
}

pub(crate) fn username_client_not_found() -> ApiError {
    ApiError::new(
        ErrorCode::UserNotFoundException,
        "Username/client id combination not found.",
    )
}

pub(crate) fn code_error(err: CodeError) -> ApiError {
    match err {
        CodeError::Mismatch => ApiError::new(
            ErrorCode::CodeMismatchException,
            "Invalid verification code provided, please try again.",
        ),
        CodeError::Expired => ApiError::new(
            ErrorCode::ExpiredCodeException,
            "Invalid code provided, please request a code again.",
        ),
        CodeError::TooManyAttempts | CodeError::TooManyIssued => ApiError::new(
            ErrorCode::LimitExceededException,
            "Attempt limit exceeded, please try after some time.",
        ),
        CodeError::Unavailable(reason) => {
            tracing::error!(%reason, "code store failure");
            ApiError::unavailable()
        }
    }
}

/// The code limit as answered by operations whose model has no `LimitExceededException`
/// (sign-in, attribute updates): `TooManyRequestsException`, with the same message.
pub(crate) fn too_many_requests(err: ApiError) -> ApiError {
    if err.code == ErrorCode::LimitExceededException {
        ApiError::new(ErrorCode::TooManyRequestsException, err.message)
    } else {
        err
    }
}

/// A challenge answer's member `name`, which must be there.
pub(crate) fn required_param<'a>(
    responses: &'a std::collections::HashMap<String, String>,
    name: &str,
) -> Result<&'a str, ApiError> {
    responses
        .get(name)
        .map(String::as_str)
        .ok_or_else(|| ApiError::invalid_parameter(format!("Missing required parameter {name}")))
}

pub(crate) fn incorrect_credentials() -> ApiError {
    ApiError::not_authorized("Incorrect username or password.")
}

pub(crate) fn kv_error(err: KvError) -> ApiError {
    tracing::error!(error = %err, "credential store failure");
    match err {
        KvError::Unavailable(_) => ApiError::unavailable(),
        KvError::Conflict => ApiError::internal(),
    }
}

pub(crate) fn pool_error(err: password::PoolError) -> ApiError {
    match err {
        password::PoolError::Overloaded => ApiError::new(
            ErrorCode::TooManyRequestsException,
            "Too many requests, retry later.",
        ),
        other => {
            tracing::error!(error = %other, "password hashing failed");
            ApiError::internal()
        }
    }
}

pub(crate) fn policy_error(violation: password::PolicyViolation) -> ApiError {
    let code = ErrorCode::from_type_name(violation.exception_name())
        .unwrap_or(ErrorCode::InvalidPasswordException);
    ApiError::new(code, violation.to_string())
}

pub(crate) struct ClientInfo {
    pub(crate) client: dir::UserPoolClient,
    pub(crate) settings: portcullis_proto::events::v1::UserPoolClientSettings,
    /// Signing in on the hosted UI for this client: the UI may use any flow, sends no
    /// secret hash, and gets a browser session instead of tokens.
    pub(crate) hosted: bool,
    /// What the request tells the pool's triggers (`ClientMetadata`, the caller).
    pub(crate) caller: pb::CallerContext,
    /// The auth event this request is part of, if it signs a user in.
    pub(crate) attempt: crate::attempt::Attempt,
}

impl ClientInfo {
    pub(crate) fn pool_id(&self) -> &str {
        &self.client.pool_id
    }

    pub(crate) fn allows(&self, flow: &str) -> bool {
        self.hosted || portcullis_types::auth_flow_allowed(&self.settings.explicit_auth_flows, flow)
    }

    pub(crate) fn validity(&self) -> tok::Validity {
        let v = self.settings.token_validity.clone().unwrap_or_default();
        tok::Validity {
            access_seconds: validity_seconds(v.access_token, &v.access_token_unit),
            id_seconds: validity_seconds(v.id_token, &v.id_token_unit),
            refresh_seconds: validity_seconds(v.refresh_token, &v.refresh_token_unit),
        }
    }

    /// How long a challenge's session lives: `AuthSessionValidity` minutes (3 by default).
    pub(crate) fn session_validity(&self) -> std::time::Duration {
        let minutes = match self.settings.auth_session_validity {
            0 => 3,
            m => m,
        };
        std::time::Duration::from_secs(u64::from(minutes) * 60)
    }

    pub(crate) fn hides_user_existence(&self) -> bool {
        self.settings.prevent_user_existence_errors == "ENABLED"
    }

    /// The client's current secrets (two while one is rotated), none for a public client.
    pub(crate) fn secrets(&self) -> Vec<&String> {
        if self.client.client_secrets.is_empty() {
            self.client.client_secret.iter().collect()
        } else {
            self.client.client_secrets.iter().collect()
        }
    }

    /// Checks `SECRET_HASH` when the client has a secret. Any of `names` may be the one
    /// the client hashed (the name typed, or the internal name), and any current secret
    /// the key (a client holds two while its secret is rotated).
    pub(crate) fn check_secret_hash(
        &self,
        names: &[&str],
        given: Option<&str>,
    ) -> Result<(), ApiError> {
        let secrets = self.secrets();
        if secrets.is_empty() || self.hosted {
            return Ok(());
        }
        let client_id = &self.client.client_id;
        let ok = given.is_some_and(|g| {
            secrets.iter().fold(false, |found, secret| {
                found | secret_hash::matches(secret, names, client_id, g)
            })
        });
        if ok {
            Ok(())
        } else {
            Err(ApiError::not_authorized(format!(
                "Unable to verify secret hash for client {}",
                self.client.client_id
            )))
        }
    }
}

/// How a sign-in step names its user.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Named<'a> {
    /// As typed: a user name or an alias.
    Username(&'a str),
    Sub(&'a str),
}

/// What [`Flows::read_sign_in`] read.
pub(crate) struct SignInRead {
    pub(crate) client: ClientInfo,
    pub(crate) user: Option<dir::User>,
    /// The rest, for the steps after the first factor.
    pub(crate) known: Known,
}

impl Flows {
    pub(crate) async fn client(&self, client_id: &str) -> Result<ClientInfo, ApiError> {
        let client = self
            .cache
            .get(&format!("client/{client_id}"), || async {
                let request = dir::DescribeUserPoolClientRequest {
                    pool_id: String::new(),
                    client_id: client_id.to_owned(),
                };
                let mut directory = self.directory.clone();
                let client = directory.describe_user_pool_client(request).await?;
                let client = client.into_inner();
                Ok::<_, ApiError>((client.pool_id.clone(), client))
            })
            .await?;
        let settings = client.settings.clone().unwrap_or_default();
        Ok(ClientInfo {
            client,
            settings,
            hosted: false,
            caller: pb::CallerContext::default(),
            attempt: crate::attempt::Attempt::default(),
        })
    }

    /// Everything a sign-in step reads, in one directory call: the client, its pool, the
    /// user named (if there is one), the user's groups and the device named.
    pub(crate) async fn read_sign_in(
        &self,
        client_id: &str,
        hosted: bool,
        user: Option<Named<'_>>,
        device_key: Option<&str>,
    ) -> Result<SignInRead, ApiError> {
        use dir::get_sign_in_context_request::User;
        let request = dir::GetSignInContextRequest {
            client_id: client_id.to_owned(),
            user: user.map(|named| match named {
                Named::Username(name) => User::Username(name.to_owned()),
                Named::Sub(sub) => User::Sub(sub.to_owned()),
            }),
            device_key: device_key.unwrap_or_default().to_owned(),
            groups: true,
        };
        let read = self
            .directory
            .clone()
            .get_sign_in_context(request)
            .await?
            .into_inner();
        let client = read.client.unwrap_or_default();
        let settings = client.settings.clone().unwrap_or_default();
        Ok(SignInRead {
            client: ClientInfo {
                client,
                settings,
                hosted,
                caller: pb::CallerContext::default(),
                attempt: crate::attempt::Attempt::default(),
            },
            user: read.user,
            known: Known {
                pool: read.pool.and_then(|p| p.settings).unwrap_or_default(),
                device: read.device,
                groups: Some(read.groups),
            },
        })
    }

    /// The client, for a sign-in on the hosted UI when `hosted`.
    pub(crate) async fn client_for(
        &self,
        client_id: &str,
        hosted: bool,
    ) -> Result<ClientInfo, ApiError> {
        let mut client = self.client(client_id).await?;
        client.hosted = hosted;
        Ok(client)
    }

    pub(crate) async fn pool(&self, pool_id: &str) -> Result<dir::UserPool, ApiError> {
        self.cache
            .get(&format!("pool/{pool_id}"), || async {
                let request = dir::DescribeUserPoolRequest {
                    pool_id: pool_id.to_owned(),
                };
                let pool = self.directory.clone().describe_user_pool(request).await?;
                Ok((pool_id.to_owned(), pool.into_inner()))
            })
            .await
    }

    /// A user by sub, from the cache while the log records no change to the user.
    pub(crate) async fn user_by_sub(
        &self,
        pool_id: &str,
        sub: &str,
    ) -> Result<dir::User, ApiError> {
        let request = dir::GetUserRequest::by_sub(pool_id, sub);
        let load = || async { Ok(self.directory.clone().get_user(request).await?.into_inner()) };
        self.cache
            .get_of("user", (pool_id, "user", sub), load)
            .await
    }

    /// A user's groups (names, precedence and roles), from the cache while the log
    /// records no change to the user or to the pool's groups.
    async fn groups_of(&self, pool_id: &str, sub: &str) -> Result<Vec<dir::Group>, ApiError> {
        let load = || async {
            let request = dir::ListGroupsForUserRequest {
                user: Some(dir::UserRef {
                    pool_id: pool_id.to_owned(),
                    username: String::new(),
                    sub: sub.to_owned(),
                }),
                limit: 0,
                next_token: String::new(),
            };
            let groups = self.directory.clone().list_groups_for_user(request).await?;
            Ok(groups.into_inner().groups)
        };
        self.cache
            .get_of("groups", (pool_id, "user", sub), load)
            .await
    }

    pub(crate) async fn user_by_name(
        &self,
        pool_id: &str,
        username: &str,
    ) -> Result<Option<dir::User>, ApiError> {
        let request = dir::GetUserRequest {
            pool_id: pool_id.to_owned(),
            key: Some(dir::get_user_request::Key::Username(username.to_owned())),
            client_id: String::new(),
        };
        match self.directory.clone().get_user(request).await {
            Ok(user) => Ok(Some(user.into_inner())),
            Err(status) => {
                let err = ApiError::from(status);
                if err.code == ErrorCode::UserNotFoundException {
                    Ok(None)
                } else {
                    Err(err)
                }
            }
        }
    }

    /// The client, the user the request names (if any), and the client's
    /// `SECRET_HASH` check, which accepts a hash of the name typed or of the internal
    /// name — the start of every unauthenticated operation on a user.
    pub(crate) async fn client_and_user(
        &self,
        client_id: &str,
        username: &str,
        secret_hash: &str,
        hosted: bool,
    ) -> Result<(ClientInfo, Option<dir::User>), ApiError> {
        let client = self.client_for(client_id, hosted).await?;
        let user = self.user_by_name(client.pool_id(), username).await?;
        let internal = user.as_ref().map_or(username, |u| u.username.as_str());
        let given = Some(secret_hash).filter(|s| !s.is_empty());
        client.check_secret_hash(&[username, internal], given)?;
        Ok((client, user))
    }

    /// What to ask the token service for: the user's claims as the client may see them.
    pub(crate) async fn issue_request(
        &self,
        client: &ClientInfo,
        user: &dir::User,
        auth_time: i64,
        origin_jti: String,
        issue_refresh_token: bool,
    ) -> Result<tok::IssueTokensRequest, ApiError> {
        self.issue_request_with(
            client,
            user,
            auth_time,
            origin_jti,
            issue_refresh_token,
            None,
        )
        .await
    }

    /// [`Flows::issue_request`], with the user's groups when already read.
    pub(crate) async fn issue_request_with(
        &self,
        client: &ClientInfo,
        user: &dir::User,
        auth_time: i64,
        origin_jti: String,
        issue_refresh_token: bool,
        groups: Option<Vec<dir::Group>>,
    ) -> Result<tok::IssueTokensRequest, ApiError> {
        // The ID token carries what the client may read (everything by default).
        let readable = &client.settings.read_attributes;
        let attributes = user
            .attributes
            .iter()
            .filter(|a| portcullis_types::client_reads(readable, &a.name))
            .map(|a| (a.name.clone(), a.value.clone()))
            .collect();
        let groups = if let Some(groups) = groups {
            groups
        } else if user.groups.is_empty() {
            Vec::new()
        } else {
            self.groups_of(&user.pool_id, &user.sub).await?
        };
        let claims = GroupClaims::of(groups);
        Ok(tok::IssueTokensRequest {
            pool_id: client.pool_id().to_owned(),
            client_id: client.client.client_id.clone(),
            sub: user.sub.clone(),
            username: user.username.clone(),
            attributes,
            auth_time,
            validity: Some(client.validity()),
            origin_jti,
            issue_refresh_token,
            groups: claims.groups,
            roles: claims.roles,
            preferred_role: claims.preferred_role.unwrap_or_default(),
            refresh_expires_ms: 0,
            device_key: String::new(),
            ..Default::default()
        })
    }
}

pub(crate) fn authenticated(tokens: tok::TokenSet) -> pb::InitiateAuthResponse {
    pb::InitiateAuthResponse {
        authentication_result: Some(pb::AuthenticationResult {
            access_token: tokens.access_token,
            expires_in: i64::try_from(tokens.expires_in).unwrap_or(i64::MAX),
            token_type: "Bearer".into(),
            refresh_token: tokens.refresh_token,
            id_token: tokens.id_token,
            new_device_metadata: None,
        }),
        ..Default::default()
    }
}

/// `cognito:groups`, `cognito:roles` and `cognito:preferred_role` of a user's groups.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct GroupClaims {
    pub groups: Vec<String>,
    pub roles: Vec<String>,
    pub preferred_role: Option<String>,
}

impl GroupClaims {
    /// Groups in precedence order (lowest value first, groups without one last); the
    /// preferred role is the role of the single group with the lowest precedence among
    /// those with a role, and there is none when several share it.
    pub(crate) fn of(mut groups: Vec<dir::Group>) -> Self {
        groups.sort_by(|a, b| {
            let key = |g: &dir::Group| (g.precedence.is_none(), g.precedence, g.group_name.clone());
            key(a).cmp(&key(b))
        });
        let mut roles: Vec<String> = Vec::new();
        for group in &groups {
            if !group.role_arn.is_empty() && !roles.contains(&group.role_arn) {
                roles.push(group.role_arn.clone());
            }
        }
        let with_roles: Vec<&dir::Group> =
            groups.iter().filter(|g| !g.role_arn.is_empty()).collect();
        let preferred_role = match with_roles.as_slice() {
            [] => None,
            [first, rest @ ..] => {
                let tied = rest
                    .first()
                    .is_some_and(|second| second.precedence == first.precedence);
                (!tied).then(|| first.role_arn.clone())
            }
        };
        Self {
            groups: groups.into_iter().map(|g| g.group_name).collect(),
            roles,
            preferred_role,
        }
    }
}

#[cfg(test)]
mod group_claim_tests {
    use super::*;

    fn group(name: &str, precedence: Option<u32>, role: &str) -> dir::Group {
        dir::Group {
            group_name: name.into(),
            precedence,
            role_arn: role.into(),
            ..Default::default()
        }
    }

    #[test]
    fn groups_are_ordered_by_precedence_and_the_lowest_role_is_preferred() {
        let claims = GroupClaims::of(vec![
            group("readers", None, "arn:aws:iam::1:role/r"),
            group("admins", Some(1), "arn:aws:iam::1:role/a"),
            group("staff", Some(5), ""),
        ]);
        assert_eq!(claims.groups, ["admins", "staff", "readers"]);
        assert_eq!(
            claims.roles,
            ["arn:aws:iam::1:role/a", "arn:aws:iam::1:role/r"]
        );
        assert_eq!(
            claims.preferred_role.as_deref(),
            Some("arn:aws:iam::1:role/a")
        );
    }

    #[test]
    fn a_tie_at_the_lowest_precedence_means_no_preferred_role() {
        let claims = GroupClaims::of(vec![
            group("a", Some(2), "arn:aws:iam::1:role/a"),
            group("b", Some(2), "arn:aws:iam::1:role/b"),
        ]);
        assert_eq!(claims.preferred_role, None);
        assert!(GroupClaims::of(Vec::new()) == GroupClaims::default());
    }
}

#[cfg(test)]
mod latency_tests {
    use super::LatencyEstimate;
    use std::time::Duration;

    #[test]
    fn the_estimate_is_the_median_of_the_recent_samples() {
        let ms = Duration::from_millis;
        let estimate = LatencyEstimate::default();
        assert_eq!(estimate.current(), Duration::ZERO);
        estimate.record(ms(400)); // a slow first delivery
        assert_eq!(estimate.current(), ms(400));
        for _ in 0..3 {
            estimate.record(ms(10));
        }
        assert_eq!(estimate.current(), ms(10));
        // Only the last SAMPLES count: after that many slow ones, the estimate is slow.
        for _ in 0..LatencyEstimate::SAMPLES {
            estimate.record(ms(30));
        }
        assert_eq!(estimate.current(), ms(30));
    }
}

/// What a sign-in read of its context, beside the facts the core decides on: read
/// with the user before the first factor ([`Flows::read_sign_in`]), or when the core
/// first asks for it.
pub(crate) struct Known {
    pub(crate) pool: UserPoolSettings,
    /// The device the client named, if the pool tracks devices and the user has it.
    pub(crate) device: Option<dir::Device>,
    /// The user's groups, for the tokens; `None` if not read.
    pub(crate) groups: Option<Vec<dir::Group>>,
}
