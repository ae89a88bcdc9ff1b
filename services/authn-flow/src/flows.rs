//! The sign-up and sign-in flows. Each reads what it needs from the directory, checks
//! credentials here, and asks the token service for tokens.

use std::sync::Arc;

use portcullis_errors::{ApiError, ErrorCode};
use portcullis_eventlog::{KeyValue, KvError};
use portcullis_proto::authn::v1 as pb;
use portcullis_proto::directory::v1 as dir;
use portcullis_proto::directory::v1::directory_client::DirectoryClient;
use portcullis_proto::events::v1::{Actor, UserPoolSettings, actor::Kind};
use portcullis_proto::token::v1 as tok;
use portcullis_proto::token::v1::token_client::TokenClient;
use portcullis_runtime::GrpcChannel as Channel;
use portcullis_types::{Clock, validity_seconds};

use crate::codes::{self, CodeError, Codes};
use crate::credential::Credential;
use crate::lockout::Proof;
use crate::password::{self, PasswordHasherPool, Policy};
use crate::secret_hash;
use crate::sender::{self, Medium, MessageSender};

/// Everything the flows need.
#[derive(Clone)]
pub struct Flows {
    pub directory: DirectoryClient<Channel>,
    pub token: TokenClient<Channel>,
    /// Password hashes by `<pool>/<sub>`; kept out of the event log.
    pub credentials: Arc<dyn KeyValue>,
    pub hasher: Arc<PasswordHasherPool>,
    pub clock: Arc<dyn Clock>,
    pub codes: Codes,
    pub sender: Arc<dyn MessageSender>,
    /// Sign-in sessions between a challenge and its answer.
    pub sessions: Arc<dyn portcullis_ephemeral::EphemeralStore>,
    /// How long issuing and delivering a code takes lately, so that answering for a
    /// user who does not exist takes as long (`PreventUserExistenceErrors`).
    pub delivery_time: Arc<LatencyEstimate>,
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

/// Cognito's default verification message.
pub(crate) const DEFAULT_CODE_MESSAGE: &str = "Your verification code is {####}. ";

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

/// Where a pool sends a user's confirmation code: the phone number if the pool verifies
/// phone numbers and the user has one, else the email address likewise.
pub(crate) fn verification_target(
    pool: &portcullis_proto::events::v1::UserPoolSettings,
    user: &dir::User,
) -> Option<(Medium, &'static str, String)> {
    let value = |name: &str| {
        user.attributes
            .iter()
            .find(|a| a.name == name)
            .map(|a| a.value.clone())
    };
    let verifies = |name: &str| pool.auto_verified_attributes.iter().any(|a| a == name);
    if verifies("phone_number")
        && let Some(phone) = value("phone_number")
    {
        return Some((Medium::Sms, "phone_number", phone));
    }
    if verifies("email")
        && let Some(email) = value("email")
    {
        return Some((Medium::Email, "email", email));
    }
    None
}

/// Where a password-reset code goes: the first mechanism of the pool's
/// `AccountRecoverySetting` (by priority) the user can receive it on — a verified phone
/// number or a verified email address. Without a setting, a verified phone number is
/// preferred over a verified email (Cognito's legacy order); `admin_only` means none.
pub(crate) fn recovery_target(
    pool: &portcullis_proto::events::v1::UserPoolSettings,
    user: &dir::User,
) -> Option<(Medium, &'static str, String)> {
    let value = |name: &str| {
        user.attributes
            .iter()
            .find(|a| a.name == name)
            .map(|a| a.value.clone())
    };
    let verified = |name: &str| value(&format!("{name}_verified")).as_deref() == Some("true");
    let mut mechanisms: Vec<(u32, String)> = pool
        .account_recovery_setting
        .as_ref()
        .map(|s| {
            s.recovery_mechanisms
                .iter()
                .map(|m| (m.priority, m.name.clone()))
                .collect()
        })
        .unwrap_or_default();
    if mechanisms.is_empty() {
        mechanisms = vec![
            (1, "verified_phone_number".into()),
            (2, "verified_email".into()),
        ];
    }
    mechanisms.sort();
    for (_, name) in mechanisms {
        let target = match name.as_str() {
            "verified_phone_number" => ("phone_number", Medium::Sms),
            "verified_email" => ("email", Medium::Email),
            _ => return None,
        };
        if verified(target.0)
            && let Some(destination) = value(target.0)
        {
            return Some((target.1, target.0, destination));
        }
    }
    None
}

/// The pool's verification message for a medium and, for email, its subject (Cognito's
/// defaults where the pool sets none).
pub(crate) fn verification_message(
    pool: &portcullis_proto::events::v1::UserPoolSettings,
    channel: Medium,
) -> (String, Option<String>) {
    let template = pool
        .verification_message_template
        .clone()
        .unwrap_or_default();
    let or = |value: String, default: &str| {
        if value.is_empty() {
            default.to_owned()
        } else {
            value
        }
    };
    match channel {
        Medium::Sms => (or(template.sms_message, DEFAULT_CODE_MESSAGE), None),
        Medium::Email => (
            or(template.email_message, DEFAULT_CODE_MESSAGE),
            Some(or(template.email_subject, "Your verification code")),
        ),
    }
}

/// What `CodeDeliveryDetails` says of a message sent to `destination`.
pub(crate) fn delivery_details(
    medium: Medium,
    attribute: &str,
    destination: &str,
) -> pb::CodeDeliveryDetails {
    pb::CodeDeliveryDetails {
        destination: sender::mask(medium, destination),
        delivery_medium: medium.medium().to_owned(),
        attribute_name: attribute.to_owned(),
    }
}

/// Plausible details for a user who does not exist, where the pool hides existence.
pub(crate) fn decoy_delivery(medium: Medium, username: &str) -> pb::CodeDeliveryDetails {
    match medium {
        Medium::Sms => delivery_details(medium, "phone_number", "+10000000000"),
        Medium::Email => delivery_details(medium, "email", &format!("{username}@example.com")),
    }
}

pub(crate) fn forgot_code_key(pool_id: &str, sub: &str) -> String {
    format!("forgot/{pool_id}/{sub}")
}

pub(crate) fn signup_code_key(pool_id: &str, sub: &str) -> String {
    format!("signup/{pool_id}/{sub}")
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

pub(crate) fn credential_key(pool_id: &str, sub: &str) -> String {
    format!("{pool_id}/{sub}")
}

pub(crate) struct ClientInfo {
    pub(crate) client: dir::UserPoolClient,
    pub(crate) settings: portcullis_proto::events::v1::UserPoolClientSettings,
    /// Signing in on the hosted UI for this client: the UI may use any flow, sends no
    /// secret hash, and gets a browser session instead of tokens.
    pub(crate) hosted: bool,
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

impl Flows {
    pub(crate) async fn client(&self, client_id: &str) -> Result<ClientInfo, ApiError> {
        let request = dir::DescribeUserPoolClientRequest {
            pool_id: String::new(),
            client_id: client_id.to_owned(),
        };
        let client = self
            .directory
            .clone()
            .describe_user_pool_client(request)
            .await?
            .into_inner();
        let settings = client.settings.clone().unwrap_or_default();
        Ok(ClientInfo {
            client,
            settings,
            hosted: false,
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
        let request = dir::DescribeUserPoolRequest {
            pool_id: pool_id.to_owned(),
        };
        Ok(self
            .directory
            .clone()
            .describe_user_pool(request)
            .await?
            .into_inner())
    }

    pub(crate) async fn user_by_name(
        &self,
        pool_id: &str,
        username: &str,
    ) -> Result<Option<dir::User>, ApiError> {
        let request = dir::GetUserRequest {
            pool_id: pool_id.to_owned(),
            key: Some(dir::get_user_request::Key::Username(username.to_owned())),
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

    pub async fn sign_up(&self, req: pb::SignUpRequest) -> Result<pb::SignUpResponse, ApiError> {
        let client = self.client_for(&req.client_id, req.hosted).await?;
        client.check_secret_hash(
            &[&req.username],
            Some(&req.secret_hash)
                .filter(|s| !s.is_empty())
                .map(String::as_str),
        )?;
        let pool = self.pool(client.pool_id()).await?;
        let settings = pool.settings.unwrap_or_default();
        if settings.allow_admin_create_user_only {
            return Err(ApiError::not_authorized(
                "SignUp is not permitted for this user pool",
            ));
        }
        let settings_for_codes = settings.clone();
        let policy = settings.password_policy.unwrap_or_default();
        password::check_policy(&req.password, &Policy::from(&policy)).map_err(policy_error)?;

        let sub = uuid::Uuid::new_v4().to_string();
        let hash = self
            .hasher
            .hash(req.password.clone())
            .await
            .map_err(pool_error)?;
        let credential = Credential::new(hash);
        let key = credential_key(client.pool_id(), &sub);
        // The credential is stored first, under a sub nobody else has; if creating the
        // user then fails, it is removed (and if this process dies in between, it is an
        // unreachable orphan, not a security problem).
        let revision = self
            .credentials
            .create(&key, credential.encode())
            .await
            .map_err(kv_error)?;
        let request = dir::CreateUserRequest {
            caller: Some(dir::Caller {
                region: req.region,
                actor: Some(Actor {
                    kind: Kind::User as i32,
                    id: sub.clone(),
                }),
                correlation_id: req.correlation_id,
            }),
            pool_id: client.pool_id().to_owned(),
            sub: sub.clone(),
            username: req.username,
            attributes: req.user_attributes,
            confirmed: false,
            temporary_password: false,
            force_alias_creation: false,
        };
        match self.directory.clone().create_user(request).await {
            Ok(user) => {
                let user = user.into_inner();
                self.add_srp(&user, req.password, credential, revision)
                    .await;
                let target = verification_target(&settings_for_codes, &user);
                let code_delivery_details = match target {
                    Some(target) => Some(
                        self.send_signup_code(&settings_for_codes, &user, target, "SignUp")
                            .await?,
                    ),
                    None => None,
                };
                Ok(pb::SignUpResponse {
                    user_confirmed: user.status == "CONFIRMED",
                    user_sub: user.sub,
                    code_delivery_details,
                })
            }
            Err(status) => {
                if let Err(err) = self.credentials.delete(&key, revision).await {
                    tracing::warn!(error = %err, "could not remove the credential of a failed sign-up");
                }
                Err(status.into())
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

    async fn send_signup_code(
        &self,
        pool: &UserPoolSettings,
        user: &dir::User,
        target: (Medium, &'static str, String),
        kind: &'static str,
    ) -> Result<pb::CodeDeliveryDetails, ApiError> {
        let key = signup_code_key(&user.pool_id, &user.sub);
        self.send_code(pool, user, target, kind, &key, codes::SIGN_UP_VALIDITY)
            .await
    }

    /// Issues a code under `key`, sends it to `target` in the pool's verification
    /// message and says where it went.
    pub(crate) async fn send_code(
        &self,
        pool: &UserPoolSettings,
        user: &dir::User,
        (channel, attribute, destination): (Medium, &'static str, String),
        kind: &'static str,
        key: &str,
        validity: std::time::Duration,
    ) -> Result<pb::CodeDeliveryDetails, ApiError> {
        let template = verification_message(pool, channel);
        self.send_code_with(
            user,
            (channel, attribute, destination),
            kind,
            key,
            validity,
            template,
        )
        .await
    }

    /// Issues a code under `key` and sends it with `text` (`{####}` is the code) and,
    /// for email, `subject`.
    pub(crate) async fn send_code_with(
        &self,
        user: &dir::User,
        (channel, attribute, destination): (Medium, &'static str, String),
        kind: &'static str,
        key: &str,
        validity: std::time::Duration,
        (text, subject): (String, Option<String>),
    ) -> Result<pb::CodeDeliveryDetails, ApiError> {
        let started = std::time::Instant::now();
        let code = self
            .codes
            .issue(key, attribute, validity)
            .await
            .map_err(code_error)?;
        let message = sender::Message {
            channel,
            destination: destination.clone(),
            pool_id: user.pool_id.clone(),
            username: user.username.clone(),
            kind,
            message: text
                .replace("{####}", &code)
                .replace("{username}", &user.username),
            code: Some(code),
            subject,
        };
        self.sender.send(&message).await.map_err(|err| {
            tracing::error!(error = %err, "could not deliver a confirmation code");
            ApiError::new(
                ErrorCode::CodeDeliveryFailureException,
                "Unable to deliver the message.",
            )
        })?;
        self.delivery_time.record(started.elapsed());
        Ok(delivery_details(channel, attribute, &destination))
    }

    pub async fn confirm_sign_up(
        &self,
        req: pb::ConfirmSignUpRequest,
    ) -> Result<pb::ConfirmSignUpResponse, ApiError> {
        let (client, user) = self
            .client_and_user(&req.client_id, &req.username, &req.secret_hash, req.hosted)
            .await?;
        let Some(user) = user else {
            return Err(if client.hides_user_existence() {
                code_error(CodeError::Mismatch)
            } else {
                username_client_not_found()
            });
        };
        if user.status != "UNCONFIRMED" {
            return Err(ApiError::not_authorized(format!(
                "User cannot be confirmed. Current status is {}",
                user.status
            )));
        }
        let key = signup_code_key(&user.pool_id, &user.sub);
        let attribute = self
            .codes
            .redeem(&key, &req.confirmation_code)
            .await
            .map_err(code_error)?;
        let request = dir::ConfirmUserRequest {
            caller: Some(dir::Caller {
                region: req.region,
                actor: Some(Actor {
                    kind: Kind::User as i32,
                    id: user.sub.clone(),
                }),
                correlation_id: req.correlation_id,
            }),
            pool_id: user.pool_id.clone(),
            username: user.username.clone(),
            verified_attribute: attribute,
            force_alias_creation: req.force_alias_creation,
        };
        self.directory.clone().confirm_user(request).await?;
        Ok(pb::ConfirmSignUpResponse {})
    }

    pub async fn resend_confirmation_code(
        &self,
        req: pb::ResendConfirmationCodeRequest,
    ) -> Result<pb::ResendConfirmationCodeResponse, ApiError> {
        let (client, user) = self
            .client_and_user(&req.client_id, &req.username, &req.secret_hash, req.hosted)
            .await?;
        let pool = self
            .pool(client.pool_id())
            .await?
            .settings
            .unwrap_or_default();
        self.codes
            .admit_client(&req.client_id)
            .await
            .map_err(code_error)?;
        let Some(user) = user else {
            if !client.hides_user_existence() {
                return Err(username_client_not_found());
            }
            // Answer as for a real user, without sending anything, under the same limit.
            let subject = crate::lockout::unknown_subject(&req.username);
            self.codes
                .admit(&signup_code_key(client.pool_id(), &subject))
                .await
                .map_err(code_error)?;
            let sms = pool
                .auto_verified_attributes
                .iter()
                .any(|a| a == "phone_number");
            let medium = if sms { Medium::Sms } else { Medium::Email };
            tokio::time::sleep(self.delivery_time.current()).await;
            return Ok(pb::ResendConfirmationCodeResponse {
                code_delivery_details: Some(decoy_delivery(medium, &req.username)),
            });
        };
        if user.status != "UNCONFIRMED" {
            return Err(ApiError::invalid_parameter("User is already confirmed."));
        }
        let target = verification_target(&pool, &user)
            .ok_or_else(|| ApiError::invalid_parameter("Auto verification not turned on."))?;
        let details = self
            .send_signup_code(&pool, &user, target, "ResendCode")
            .await?;
        Ok(pb::ResendConfirmationCodeResponse {
            code_delivery_details: Some(details),
        })
    }

    pub async fn forgot_password(
        &self,
        req: pb::ForgotPasswordRequest,
    ) -> Result<pb::ForgotPasswordResponse, ApiError> {
        let (client, user) = self
            .client_and_user(&req.client_id, &req.username, &req.secret_hash, req.hosted)
            .await?;
        self.codes
            .admit_client(&req.client_id)
            .await
            .map_err(code_error)?;
        let Some(user) = user else {
            if !client.hides_user_existence() {
                return Err(username_client_not_found());
            }
            // Answer as for a real user, without sending anything, under the same limit.
            let subject = crate::lockout::unknown_subject(&req.username);
            self.codes
                .admit(&forgot_code_key(client.pool_id(), &subject))
                .await
                .map_err(code_error)?;
            tokio::time::sleep(self.delivery_time.current()).await;
            return Ok(pb::ForgotPasswordResponse {
                code_delivery_details: Some(decoy_delivery(Medium::Email, &req.username)),
            });
        };
        if !user.enabled {
            return Err(ApiError::not_authorized("User is disabled."));
        }
        let pool = self.pool(&user.pool_id).await?.settings.unwrap_or_default();
        let target = recovery_target(&pool, &user).ok_or_else(|| {
            ApiError::invalid_parameter(
                "Cannot reset password for the user as there is no registered/verified email or phone_number",
            )
        })?;
        let key = forgot_code_key(&user.pool_id, &user.sub);
        let details = self
            .send_code(
                &pool,
                &user,
                target,
                "ForgotPassword",
                &key,
                codes::RESET_VALIDITY,
            )
            .await?;
        Ok(pb::ForgotPasswordResponse {
            code_delivery_details: Some(details),
        })
    }

    pub async fn confirm_forgot_password(
        &self,
        req: pb::ConfirmForgotPasswordRequest,
    ) -> Result<pb::ConfirmForgotPasswordResponse, ApiError> {
        let (client, user) = self
            .client_and_user(&req.client_id, &req.username, &req.secret_hash, req.hosted)
            .await?;
        let Some(user) = user else {
            return Err(if client.hides_user_existence() {
                code_error(CodeError::Mismatch)
            } else {
                username_client_not_found()
            });
        };
        let policy = self
            .pool(client.pool_id())
            .await?
            .settings
            .unwrap_or_default()
            .password_policy
            .unwrap_or_default();
        password::check_policy(&req.password, &Policy::from(&policy)).map_err(policy_error)?;
        let key = forgot_code_key(&user.pool_id, &user.sub);
        self.codes
            .redeem(&key, &req.confirmation_code)
            .await
            .map_err(code_error)?;
        self.replace_password(&user, req.password, policy.password_history_size)
            .await?;
        let request = dir::RecordPasswordChangeRequest {
            caller: Some(dir::Caller {
                region: req.region,
                actor: Some(Actor {
                    kind: Kind::User as i32,
                    id: user.sub.clone(),
                }),
                correlation_id: req.correlation_id,
            }),
            pool_id: user.pool_id.clone(),
            sub: user.sub.clone(),
            method: "FORGOT_PASSWORD".into(),
            status: String::new(),
        };
        self.directory
            .clone()
            .record_password_change(request)
            .await?;
        Ok(pb::ConfirmForgotPasswordResponse {})
    }

    /// The current password hash of a user, or a dummy one (so a missing credential
    /// costs the same verification and never matches).
    pub(crate) async fn current_hash(&self, pool_id: &str, sub: &str) -> Result<String, ApiError> {
        let stored = self
            .credentials
            .get(&credential_key(pool_id, sub))
            .await
            .map_err(kv_error)?;
        Ok(stored
            .and_then(|e| Credential::decode(&e.value))
            .map_or_else(|| password::dummy_hash().to_owned(), |c| c.hash))
    }

    /// Replaces the user's password, refusing one of the last `history` passwords
    /// (`PasswordHistorySize`); compare-and-set against the credential it read.
    pub(crate) async fn replace_password(
        &self,
        user: &dir::User,
        password: String,
        history: u32,
    ) -> Result<(), ApiError> {
        let key = credential_key(&user.pool_id, &user.sub);
        let current = self.credentials.get(&key).await.map_err(kv_error)?;
        let credential = current.as_ref().and_then(|e| Credential::decode(&e.value));
        if let Some(credential) = &credential {
            for used in credential.recent(history as usize) {
                if self
                    .hasher
                    .verify(password.clone(), used)
                    .await
                    .map_err(pool_error)?
                {
                    return Err(ApiError::new(
                        ErrorCode::InvalidPasswordException,
                        "Password has previously been used",
                    ));
                }
            }
        }
        let hash = self
            .hasher
            .hash(password.clone())
            .await
            .map_err(pool_error)?;
        let srp = self
            .srp_verifier(&user.pool_id, &user.username, password)
            .await?;
        let next = match credential {
            Some(credential) => credential.replaced_by(hash),
            None => Credential::new(hash),
        }
        .with_srp(Some(srp));
        let written = match current {
            Some(entry) => {
                self.credentials
                    .update(&key, next.encode(), entry.revision)
                    .await
            }
            None => self.credentials.create(&key, next.encode()).await,
        };
        written.map(drop).map_err(|err| match err {
            KvError::Conflict => ApiError::new(
                ErrorCode::ConcurrentModificationException,
                "The password was changed concurrently, retry the request.",
            ),
            other => kv_error(other),
        })
    }

    /// A new SRP salt and verifier for `password` (one 3072-bit exponentiation, off the
    /// async threads).
    pub(crate) async fn srp_verifier(
        &self,
        pool_id: &str,
        username: &str,
        password: String,
    ) -> Result<crate::srp::Verifier, ApiError> {
        let (pool_id, username) = (pool_id.to_owned(), username.to_owned());
        tokio::task::spawn_blocking(move || {
            crate::srp::new_verifier(&pool_id, &username, &password)
        })
        .await
        .ok()
        .flatten()
        .ok_or_else(ApiError::internal)
    }

    /// Adds the SRP verifier to a credential written before the user's internal name was
    /// known (sign-up, AdminCreateUser) or before SRP existed. Best effort: without it the
    /// user can still sign in with the password, and that sign-in adds it.
    pub(crate) async fn add_srp(
        &self,
        user: &dir::User,
        password: String,
        credential: Credential,
        revision: u64,
    ) {
        let key = credential_key(&user.pool_id, &user.sub);
        let written = match self
            .srp_verifier(&user.pool_id, &user.username, password)
            .await
        {
            Ok(srp) => {
                let next = credential.with_srp(Some(srp));
                self.credentials
                    .update(&key, next.encode(), revision)
                    .await
                    .map(drop)
                    .map_err(|err| err.to_string())
            }
            Err(err) => Err(err.message),
        };
        if let Err(error) = written {
            tracing::warn!(%error, "could not store an srp verifier");
        }
    }

    pub async fn initiate_auth(
        &self,
        req: pb::InitiateAuthRequest,
    ) -> Result<pb::InitiateAuthResponse, ApiError> {
        let client = self.client_for(&req.client_id, req.hosted).await?;
        if !req.admin_pool_id.is_empty() && req.admin_pool_id != client.pool_id() {
            return Err(ApiError::not_found(format!(
                "User pool client {} does not exist.",
                req.client_id
            )));
        }
        let admin = !req.admin_pool_id.is_empty();
        match (req.auth_flow.as_str(), admin) {
            ("USER_PASSWORD_AUTH", false) => {
                self.password_auth(
                    &client,
                    &req,
                    "ALLOW_USER_PASSWORD_AUTH",
                    "USER_PASSWORD_AUTH",
                )
                .await
            }
            ("ADMIN_USER_PASSWORD_AUTH" | "ADMIN_NO_SRP_AUTH", true) => {
                self.password_auth(
                    &client,
                    &req,
                    "ALLOW_ADMIN_USER_PASSWORD_AUTH",
                    &req.auth_flow,
                )
                .await
            }
            ("REFRESH_TOKEN_AUTH" | "REFRESH_TOKEN", _) => self.refresh(&client, &req).await,
            ("USER_SRP_AUTH", _) => self.srp_auth(&client, &req).await,
            ("USER_AUTH", _) => self.user_auth(&client, &req).await,
            (
                "CUSTOM_AUTH"
                | "ADMIN_USER_PASSWORD_AUTH"
                | "ADMIN_NO_SRP_AUTH"
                | "USER_PASSWORD_AUTH",
                _,
            ) => Err(ApiError::invalid_parameter(format!(
                "Unsupported authentication flow: {}",
                req.auth_flow
            ))),
            _ => Err(ApiError::invalid_parameter(format!(
                "1 validation error detected: Value '{}' at 'authFlow' failed to satisfy constraint: Member must satisfy enum value set: [USER_SRP_AUTH, REFRESH_TOKEN_AUTH, REFRESH_TOKEN, CUSTOM_AUTH, ADMIN_NO_SRP_AUTH, USER_PASSWORD_AUTH, ADMIN_USER_PASSWORD_AUTH, USER_AUTH]",
                req.auth_flow
            ))),
        }
    }

    pub(crate) async fn password_auth(
        &self,
        client: &ClientInfo,
        req: &pb::InitiateAuthRequest,
        allow: &str,
        flow: &str,
    ) -> Result<pb::InitiateAuthResponse, ApiError> {
        if !client.allows(allow) {
            return Err(ApiError::invalid_parameter(format!(
                "{flow} flow not enabled for this client"
            )));
        }
        let param = |name: &str| req.auth_parameters.get(name).map(String::as_str);
        let (Some(username), Some(password)) = (param("USERNAME"), param("PASSWORD")) else {
            return Err(ApiError::invalid_parameter(
                "Missing required parameter USERNAME or PASSWORD",
            ));
        };
        let user = self.user_by_name(client.pool_id(), username).await?;
        let internal = user.as_ref().map_or(username, |u| u.username.as_str());
        client.check_secret_hash(&[username, internal], param("SECRET_HASH"))?;

        let Some(user) = user else {
            // Same work as for a real user, so timing does not reveal who exists.
            let check = async {
                let _ = self
                    .hasher
                    .verify(password.to_owned(), password::dummy_hash().to_owned())
                    .await;
                Ok(false)
            };
            if !client.hides_user_existence() {
                check.await?;
                return Err(ApiError::new(
                    ErrorCode::UserNotFoundException,
                    "User does not exist.",
                ));
            }
            let subject = crate::lockout::unknown_subject(username);
            self.guarded(client.pool_id(), &subject, Proof::Password, check)
                .await?;
            return Err(incorrect_credentials());
        };
        let key = credential_key(client.pool_id(), &user.sub);
        let stored = self.credentials.get(&key).await.map_err(kv_error)?;
        if stored.is_none() && user.status == "RESET_REQUIRED" {
            // An imported user has no password yet: whatever was typed, the answer is
            // that a reset is required (after the same work as a real check).
            let _ = self
                .hasher
                .verify(password.to_owned(), password::dummy_hash().to_owned())
                .await;
            return Err(ApiError::new(
                ErrorCode::PasswordResetRequiredException,
                "Password reset required for the user",
            ));
        }
        let current = stored.and_then(|e| Credential::decode(&e.value).map(|c| (c, e.revision)));
        let phc = current.as_ref().map_or_else(
            || password::dummy_hash().to_owned(),
            |(c, _)| c.hash.clone(),
        );
        let check = async {
            self.hasher
                .verify(password.to_owned(), phc)
                .await
                .map_err(pool_error)
        };
        if !self
            .guarded(client.pool_id(), &user.sub, Proof::Password, check)
            .await?
        {
            return Err(incorrect_credentials());
        }
        if let Some((credential, revision)) = current
            && credential.srp.is_none()
        {
            self.add_srp(&user, password.to_owned(), credential, revision)
                .await;
        }
        self.signed_in(client, &user, param("DEVICE_KEY")).await
    }

    /// After the password was proven: the user's state decides between tokens, an error
    /// and a `NEW_PASSWORD_REQUIRED` challenge; then the device the client names
    /// (`DEVICE_KEY`) decides whether MFA is skipped and whether it must prove itself.
    pub(crate) async fn signed_in(
        &self,
        client: &ClientInfo,
        user: &dir::User,
        device_key: Option<&str>,
    ) -> Result<pb::InitiateAuthResponse, ApiError> {
        if !user.enabled {
            return Err(ApiError::not_authorized("User is disabled."));
        }
        // Read once for every step below.
        let pool = self
            .pool(client.pool_id())
            .await?
            .settings
            .unwrap_or_default();
        match user.status.as_str() {
            "UNCONFIRMED" => {
                return Err(ApiError::new(
                    ErrorCode::UserNotConfirmedException,
                    "User is not confirmed.",
                ));
            }
            "RESET_REQUIRED" => {
                return Err(ApiError::new(
                    ErrorCode::PasswordResetRequiredException,
                    "Password reset required for the user",
                ));
            }
            "FORCE_CHANGE_PASSWORD" => {
                let days = pool
                    .password_policy
                    .as_ref()
                    .map_or(7, |p| p.temporary_password_validity_days);
                if crate::challenges::temporary_password_expired(
                    user.password_set_ms,
                    self.clock.now_ms(),
                    days,
                ) {
                    return Err(ApiError::not_authorized(
                        "Temporary password has expired and must be reset by an administrator.",
                    ));
                }
                return self.new_password_challenge(client, user).await;
            }
            _ => {}
        }
        let device = self.device_step(user, &pool, device_key).await?;
        // MFA, unless the device is remembered; a correct answer resumes the sign-in with
        // `after_device_step` and the device step its session carried.
        if !device.skips_mfa
            && let Some(challenge) = self.mfa_step(client, user, &pool, &device).await?
        {
            return Ok(challenge);
        }
        self.after_device_step(client, user, device).await
    }

    /// Tokens for a user who passed every step of a sign-in.
    pub(crate) async fn complete_sign_in(
        &self,
        client: &ClientInfo,
        user: &dir::User,
    ) -> Result<pb::InitiateAuthResponse, ApiError> {
        if client.hosted {
            return self.open_browser_session(user).await;
        }
        let auth_time = self.clock.now_ms() / 1_000;
        let tokens = self
            .issue(client, user, auth_time, String::new(), true, "")
            .await?;
        Ok(authenticated(tokens))
    }

    async fn refresh(
        &self,
        client: &ClientInfo,
        req: &pb::InitiateAuthRequest,
    ) -> Result<pb::InitiateAuthResponse, ApiError> {
        if !client.allows("ALLOW_REFRESH_TOKEN_AUTH") {
            return Err(ApiError::invalid_parameter(
                "REFRESH_TOKEN_AUTH flow not enabled for this client",
            ));
        }
        if client.rotation().is_some() {
            return Err(ApiError::invalid_parameter(
                "Refresh token rotation is enabled for this client: refresh with GetTokensFromRefreshToken",
            ));
        }
        let Some(refresh_token) = req.auth_parameters.get("REFRESH_TOKEN") else {
            return Err(ApiError::invalid_parameter(
                "Missing required parameter REFRESH_TOKEN",
            ));
        };
        let refresh = crate::sessions::RefreshRequest {
            refresh_token,
            device_key: req
                .auth_parameters
                .get("DEVICE_KEY")
                .map_or("", String::as_str),
            region: &req.region,
            correlation_id: &req.correlation_id,
        };
        self.refresh_session(client, refresh, |user| {
            let hashed_name = req
                .auth_parameters
                .get("USERNAME")
                .map_or(user.username.as_str(), String::as_str);
            client.check_secret_hash(
                &[hashed_name, &user.username, &user.sub],
                req.auth_parameters.get("SECRET_HASH").map(String::as_str),
            )
        })
        .await
    }

    pub(crate) async fn issue(
        &self,
        client: &ClientInfo,
        user: &dir::User,
        auth_time: i64,
        origin_jti: String,
        issue_refresh_token: bool,
        device_key: &str,
    ) -> Result<tok::TokenSet, ApiError> {
        let mut request = self
            .issue_request(client, user, auth_time, origin_jti, issue_refresh_token)
            .await?;
        device_key.clone_into(&mut request.device_key);
        Ok(self.token.clone().issue_tokens(request).await?.into_inner())
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
        // The ID token carries what the client may read (everything by default).
        let readable = &client.settings.read_attributes;
        let attributes = user
            .attributes
            .iter()
            .filter(|a| readable.is_empty() || readable.contains(&a.name))
            .map(|a| (a.name.clone(), a.value.clone()))
            .collect();
        let groups = if user.groups.is_empty() {
            Vec::new()
        } else {
            let request = dir::ListGroupsForUserRequest {
                user: Some(dir::UserRef {
                    pool_id: user.pool_id.clone(),
                    username: String::new(),
                    sub: user.sub.clone(),
                }),
                limit: 0,
                next_token: String::new(),
            };
            self.directory
                .clone()
                .list_groups_for_user(request)
                .await?
                .into_inner()
                .groups
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
