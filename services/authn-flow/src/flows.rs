//! The sign-up and sign-in flows. Each reads what it needs from the directory, checks
//! credentials here, and asks the token service for tokens.

use portcullis_errors::{ApiError, ErrorCode};
use portcullis_proto::authn::v1 as pb;
use portcullis_proto::directory::v1 as dir;
use portcullis_proto::events::v1::{Actor, UserPoolSettings, actor::Kind};

use crate::codes::{self, CodeError};
use crate::compromised::PasswordEvent;
use crate::context::{
    ClientInfo, Flows, Named, code_error, incorrect_credentials, policy_error, pool_error,
    username_client_not_found,
};
use crate::delivery::{
    FORGOT_PASSWORD, Purpose, RESEND_CODE, SIGN_UP, decoy_delivery, forgot_code_key,
    recovery_target, signup_code_key, verification_target,
};
use crate::lockout::Proof;
use crate::machine::FirstFactor;
use crate::migration::MigrationSource;
use crate::password::{self, Policy};
use crate::sender::Medium;
use crate::triggers::Caller;

impl Flows {
    pub async fn sign_up(&self, req: pb::SignUpRequest) -> Result<pb::SignUpResponse, ApiError> {
        let mut client = self.client_for(&req.client_id, req.hosted).await?;
        client.caller = req.caller_context.clone().unwrap_or_default();
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
        self.refuse_breached(
            client.pool_id(),
            &settings_for_codes,
            &client.client.client_id,
            PasswordEvent::SignUp,
            &req.password,
        )
        .await?;

        let sub = uuid::Uuid::new_v4().to_string();
        // Where an email or phone number is the user name, the internal name is the sub.
        let user_name = if settings.username_attributes.is_empty() {
            req.username.as_str()
        } else {
            sub.as_str()
        };
        let caller = Caller {
            client_id: &req.client_id,
            context: req.caller_context.as_ref(),
        };
        let answer = self
            .pre_sign_up(
                &settings.lambda_config.unwrap_or_default(),
                "PreSignUp_SignUp",
                client.pool_id(),
                user_name,
                &caller,
                &req.user_attributes,
                &req.validation_data,
            )
            .await?;
        let mut attributes = req.user_attributes;
        answer.verify(&mut attributes);
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
            attributes,
            confirmed: answer.auto_confirm,
            temporary_password: false,
            force_alias_creation: false,
        };
        let user = self
            .create_with_password(request, Some(req.password))
            .await?;
        let target =
            verification_target(&settings_for_codes, &user).filter(|_| !answer.auto_confirm);
        let code_delivery_details = match target {
            Some(target) => Some(
                self.send_signup_code(&settings_for_codes, &user, target, SIGN_UP, &caller)
                    .await?,
            ),
            None => None,
        };
        self.record_user_event(&client, &settings_for_codes, &user, "SignUp");
        Ok(pb::SignUpResponse {
            user_confirmed: user.status == "CONFIRMED",
            user_sub: user.sub,
            code_delivery_details,
        })
    }

    async fn send_signup_code(
        &self,
        pool: &UserPoolSettings,
        user: &dir::User,
        target: (Medium, &'static str, String),
        purpose: Purpose,
        caller: &Caller<'_>,
    ) -> Result<pb::CodeDeliveryDetails, ApiError> {
        let key = signup_code_key(&user.pool_id, &user.sub);
        let validity = codes::SIGN_UP_VALIDITY;
        self.send_code(pool, user, target, purpose, &key, validity, caller)
            .await
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
        let confirmed = self.directory.clone().confirm_user(request).await?;
        let caller = Caller {
            client_id: &req.client_id,
            context: req.caller_context.as_ref(),
        };
        self.post_confirmation(
            "PostConfirmation_ConfirmSignUp",
            &confirmed.into_inner(),
            &caller,
        )
        .await?;
        Ok(pb::ConfirmSignUpResponse {})
    }

    /// `AdminConfirmSignUp`: confirms without a code, then runs the post confirmation
    /// trigger (whose failure is answered; the confirmation stays).
    pub async fn admin_confirm_sign_up(
        &self,
        req: pb::AdminConfirmSignUpRequest,
    ) -> Result<pb::AdminConfirmSignUpResponse, ApiError> {
        let request = dir::ConfirmUserRequest {
            caller: req.caller,
            pool_id: req.pool_id,
            username: req.username,
            verified_attribute: String::new(),
            force_alias_creation: false,
        };
        let confirmed = self.directory.clone().confirm_user(request).await?;
        let caller = Caller::admin(req.caller_context.as_ref());
        self.post_confirmation(
            "PostConfirmation_ConfirmSignUp",
            &confirmed.into_inner(),
            &caller,
        )
        .await?;
        Ok(pb::AdminConfirmSignUpResponse {})
    }

    pub async fn resend_confirmation_code(
        &self,
        req: pb::ResendConfirmationCodeRequest,
    ) -> Result<pb::ResendConfirmationCodeResponse, ApiError> {
        let (mut client, user) = self
            .client_and_user(&req.client_id, &req.username, &req.secret_hash, req.hosted)
            .await?;
        client.caller = req.caller_context.clone().unwrap_or_default();
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
            let started = std::time::Instant::now();
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
            self.delivery_time.pad_from(started).await;
            return Ok(pb::ResendConfirmationCodeResponse {
                code_delivery_details: Some(decoy_delivery(medium, &req.username)),
            });
        };
        if user.status != "UNCONFIRMED" {
            return Err(ApiError::invalid_parameter("User is already confirmed."));
        }
        let target = verification_target(&pool, &user)
            .ok_or_else(|| ApiError::invalid_parameter("Auto verification not turned on."))?;
        let caller = Caller {
            client_id: &req.client_id,
            context: req.caller_context.as_ref(),
        };
        let details = self
            .send_signup_code(&pool, &user, target, RESEND_CODE, &caller)
            .await?;
        self.record_user_event(&client, &pool, &user, "ResendCode");
        Ok(pb::ResendConfirmationCodeResponse {
            code_delivery_details: Some(details),
        })
    }

    pub async fn forgot_password(
        &self,
        req: pb::ForgotPasswordRequest,
    ) -> Result<pb::ForgotPasswordResponse, ApiError> {
        let (mut client, user) = self
            .client_and_user(&req.client_id, &req.username, &req.secret_hash, req.hosted)
            .await?;
        client.caller = req.caller_context.clone().unwrap_or_default();
        self.codes
            .admit_client(&req.client_id)
            .await
            .map_err(code_error)?;
        let user = match user {
            Some(user) => Some(user),
            None => {
                let call = (req.region.as_str(), req.correlation_id.as_str());
                let source = MigrationSource::ForgotPassword;
                self.migrate(&client, source, &req.username, None, call)
                    .await?
            }
        };
        let Some(user) = user else {
            if !client.hides_user_existence() {
                return Err(username_client_not_found());
            }
            // Answer as for a real user, without sending anything, under the same limit.
            let started = std::time::Instant::now();
            let subject = crate::lockout::unknown_subject(&req.username);
            self.codes
                .admit(&forgot_code_key(client.pool_id(), &subject))
                .await
                .map_err(code_error)?;
            self.delivery_time.pad_from(started).await;
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
                FORGOT_PASSWORD,
                &key,
                codes::RESET_VALIDITY,
                &Caller::of(&client),
            )
            .await?;
        self.record_user_event(&client, &pool, &user, "ForgotPassword");
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
        let settings = self
            .pool(client.pool_id())
            .await?
            .settings
            .unwrap_or_default();
        let policy = settings.password_policy.unwrap_or_default();
        password::check_policy(&req.password, &Policy::from(&policy)).map_err(policy_error)?;
        self.refuse_breached(
            client.pool_id(),
            &settings,
            &client.client.client_id,
            PasswordEvent::PasswordChange,
            &req.password,
        )
        .await?;
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
        let changed = self
            .directory
            .clone()
            .record_password_change(request)
            .await?
            .into_inner();
        let caller = Caller {
            client_id: &req.client_id,
            context: req.caller_context.as_ref(),
        };
        self.post_confirmation("PostConfirmation_ConfirmForgotPassword", &changed, &caller)
            .await?;
        Ok(pb::ConfirmForgotPasswordResponse {})
    }

    pub async fn initiate_auth(
        &self,
        req: pb::InitiateAuthRequest,
    ) -> Result<pb::InitiateAuthResponse, ApiError> {
        let admin = !req.admin_pool_id.is_empty();
        let password_flow = matches!(
            (req.auth_flow.as_str(), admin),
            ("USER_PASSWORD_AUTH", false)
                | ("ADMIN_USER_PASSWORD_AUTH" | "ADMIN_NO_SRP_AUTH", true)
        );
        // A password sign-in reads everything it may need at once; other flows read
        // the client first.
        let param = |name: &str| req.auth_parameters.get(name).map(String::as_str);
        let read = if password_flow {
            let read = self
                .read_sign_in(
                    &req.client_id,
                    req.hosted,
                    param("USERNAME").map(Named::Username),
                    param("DEVICE_KEY"),
                )
                .await;
            match read {
                Ok(read) => Some(read),
                // A name the directory refuses: read step by step, so that the errors
                // come in their usual order (the client's flows are checked first).
                Err(err) if err.code == ErrorCode::InvalidParameterException => None,
                Err(err) => return Err(err),
            }
        } else {
            None
        };
        let (mut client, read) = match read {
            Some(read) => (read.client, Some((read.user, read.known))),
            None => (self.client_for(&req.client_id, req.hosted).await?, None),
        };
        client.caller = req.caller_context.clone().unwrap_or_default();
        if admin && req.admin_pool_id != client.pool_id() {
            return Err(ApiError::not_found(format!(
                "User pool client {} does not exist.",
                req.client_id
            )));
        }
        let outcome = match (req.auth_flow.as_str(), admin) {
            ("USER_PASSWORD_AUTH", false) => {
                self.password_auth(
                    &client,
                    &req,
                    "ALLOW_USER_PASSWORD_AUTH",
                    "USER_PASSWORD_AUTH",
                    read,
                )
                .await
            }
            ("ADMIN_USER_PASSWORD_AUTH" | "ADMIN_NO_SRP_AUTH", true) => {
                self.password_auth(
                    &client,
                    &req,
                    "ALLOW_ADMIN_USER_PASSWORD_AUTH",
                    &req.auth_flow,
                    read,
                )
                .await
            }
            ("REFRESH_TOKEN_AUTH" | "REFRESH_TOKEN", _) => self.refresh(&client, &req).await,
            ("USER_SRP_AUTH", _) => self.srp_auth(&client, &req).await,
            ("USER_AUTH", _) => self.user_auth(&client, &req).await,
            ("CUSTOM_AUTH", _) => Box::pin(self.custom_auth(&client, &req)).await,
            ("ADMIN_USER_PASSWORD_AUTH" | "ADMIN_NO_SRP_AUTH" | "USER_PASSWORD_AUTH", _) => {
                Err(ApiError::invalid_parameter(format!(
                    "Unsupported authentication flow: {}",
                    req.auth_flow
                )))
            }
            _ => Err(ApiError::invalid_parameter(format!(
                "1 validation error detected: Value '{}' at 'authFlow' failed to satisfy constraint: Member must satisfy enum value set: [USER_SRP_AUTH, REFRESH_TOKEN_AUTH, REFRESH_TOKEN, CUSTOM_AUTH, ADMIN_NO_SRP_AUTH, USER_PASSWORD_AUTH, ADMIN_USER_PASSWORD_AUTH, USER_AUTH]",
                req.auth_flow
            ))),
        };
        self.finish_sign_in(&client, &outcome).await;
        outcome
    }

    pub(crate) async fn password_auth(
        &self,
        client: &ClientInfo,
        req: &pb::InitiateAuthRequest,
        allow: &str,
        flow: &str,
        read: Option<(Option<dir::User>, crate::context::Known)>,
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
        let (user, known) = match read {
            Some((user, known)) => (user, Some(known)),
            None => (self.user_by_name(client.pool_id(), username).await?, None),
        };
        let internal = user.as_ref().map_or(username, |u| u.username.as_str());
        client.check_secret_hash(&[username, internal], param("SECRET_HASH"))?;
        self.before_first_factor(client, user.as_ref()).await?;
        // Whether the user migration trigger tried this password (a try counted against
        // the name's lockout, as a failed sign-in of an unknown user is).
        let mut migration_tried = false;
        let user = match user {
            Some(user) => Some(user),
            None => {
                let call = (req.region.as_str(), req.correlation_id.as_str());
                let migrated = self
                    .migrate_signing_in(client, username, password, call)
                    .await?;
                migration_tried = migrated.is_some();
                if let Some(Some(user)) = migrated {
                    if user.status == "RESET_REQUIRED" {
                        return Err(crate::migration::reset_required());
                    }
                    let device_key = param("DEVICE_KEY");
                    return self
                        .signed_in(client, &user, FirstFactor::Password, device_key)
                        .await;
                }
                None
            }
        };

        let Some(user) = user else {
            self.before_unknown_first_factor(client, username).await?;
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
            if migration_tried {
                check.await?;
                return Err(incorrect_credentials());
            }
            let subject = crate::lockout::unknown_subject(username);
            self.guarded(
                &client.attempt,
                client.pool_id(),
                &subject,
                Proof::Password,
                check,
            )
            .await?;
            return Err(incorrect_credentials());
        };
        let current = self.current_credential(&user).await?;
        if current.is_none() && user.status == "RESET_REQUIRED" {
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
            .guarded(
                &client.attempt,
                client.pool_id(),
                &user.sub,
                Proof::Password,
                check,
            )
            .await?
        {
            return Err(incorrect_credentials());
        }
        self.note_breached(client, password);
        if let Some((credential, revision)) = current
            && (credential.srp.is_none() || !password::is_current(&credential.hash))
        {
            self.upgrade_credential(&user, password.to_owned(), credential, revision)
                .await;
        }
        let device_key = param("DEVICE_KEY");
        match known {
            Some(known) => {
                self.signed_in_knowing(client, &user, FirstFactor::Password, device_key, known)
                    .await
            }
            None => {
                self.signed_in(client, &user, FirstFactor::Password, device_key)
                    .await
            }
        }
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
}
