//! A user's own account, with their access token (the gateway verified it and names
//! the user by sub), and the administrator's attribute updates: changing attributes,
//! verifying them with codes, changing the password.

use portcullis_errors::ApiError;
use portcullis_proto::authn::v1 as pb;
use portcullis_proto::directory::v1 as dir;
use portcullis_proto::events::v1::UserPoolSettings;

use crate::codes;
use crate::context::{Flows, code_error, incorrect_credentials, policy_error, pool_error};
use crate::delivery::{Purpose, UPDATE_ATTRIBUTE, VERIFY_ATTRIBUTE};
use crate::lockout::Proof;
use crate::password::{self, Policy};
use crate::sender::Medium;
use crate::triggers::Caller;
use portcullis_triggers::event::NO_CLIENT;

/// Codes that verify an attribute live a day, as sign-up codes do.
const VERIFY_VALIDITY: std::time::Duration = codes::SIGN_UP_VALIDITY;

fn verify_code_key(pool_id: &str, sub: &str, attribute: &str) -> String {
    format!("verify/{pool_id}/{sub}/{attribute}")
}

fn medium_of(attribute: &str) -> Option<Medium> {
    match attribute {
        "email" => Some(Medium::Email),
        "phone_number" => Some(Medium::Sms),
        _ => None,
    }
}

fn attribute_value(user: &dir::User, name: &str) -> Option<String> {
    user.attributes
        .iter()
        .find(|a| a.name == name)
        .map(|a| a.value.clone())
}

impl Flows {
    /// Updates attributes, then sends a code to each new email or phone number the pool
    /// verifies automatically and that the change left unverified.
    pub async fn update_user_attributes(
        &self,
        req: pb::UpdateUserAttributesRequest,
    ) -> Result<pb::UpdateUserAttributesResponse, ApiError> {
        let user_ref = req.user.clone().unwrap_or_default();
        let pool = self.pool(&user_ref.pool_id).await?;
        let settings = pool.settings.unwrap_or_default();
        let changed: Vec<String> = req.attributes.iter().map(|a| a.name.clone()).collect();
        let request = dir::UpdateUserAttributesRequest {
            caller: req.caller,
            user: Some(user_ref),
            attributes: req.attributes,
            by_admin: req.by_admin,
            // The client's WriteAttributes bound what its user writes (the directory
            // checks them).
            client_id: if req.by_admin {
                String::new()
            } else {
                req.client_id.clone()
            },
        };
        let user = self
            .directory
            .clone()
            .update_user_attributes(request)
            .await?
            .into_inner();
        let mut details = Vec::new();
        for attribute in ["phone_number", "email"] {
            let pending = user.pending_attributes.iter().any(|p| p.name == attribute);
            if changed.iter().any(|c| c == attribute)
                && (pending || needs_verification(&settings, &user, attribute))
            {
                let caller = Caller {
                    client_id: if req.client_id.is_empty() {
                        NO_CLIENT
                    } else {
                        &req.client_id
                    },
                    context: req.caller_context.as_ref(),
                };
                let sent = self
                    .send_verification(&settings, &user, attribute, UPDATE_ATTRIBUTE, &caller)
                    .await;
                details.push(sent.map_err(crate::context::too_many_requests)?);
            }
        }
        Ok(pb::UpdateUserAttributesResponse {
            code_delivery_details_list: details,
        })
    }

    async fn send_verification(
        &self,
        pool: &UserPoolSettings,
        user: &dir::User,
        attribute: &'static str,
        purpose: Purpose,
        caller: &Caller<'_>,
    ) -> Result<pb::CodeDeliveryDetails, ApiError> {
        // A new value waiting for verification is where the code goes.
        let pending = user
            .pending_attributes
            .iter()
            .find(|p| p.name == attribute)
            .map(|p| p.value.clone());
        let (Some(medium), Some(destination)) = (
            medium_of(attribute),
            pending.or_else(|| attribute_value(user, attribute)),
        ) else {
            return Err(ApiError::invalid_parameter(format!(
                "User does not have a value for the attribute: {attribute}"
            )));
        };
        let key = verify_code_key(&user.pool_id, &user.sub, attribute);
        self.send_code(
            pool,
            user,
            (medium, attribute, destination),
            purpose,
            &key,
            VERIFY_VALIDITY,
            caller,
        )
        .await
    }

    pub async fn get_user_attribute_verification_code(
        &self,
        req: pb::GetUserAttributeVerificationCodeRequest,
    ) -> Result<pb::GetUserAttributeVerificationCodeResponse, ApiError> {
        let attribute = match req.attribute_name.as_str() {
            "email" => "email",
            "phone_number" => "phone_number",
            other => {
                return Err(ApiError::invalid_parameter(format!(
                    "Invalid attribute name {other}: only email and phone_number can be verified."
                )));
            }
        };
        let user = self.user_by_sub(&req.pool_id, &req.sub).await?;
        let pool = self.pool(&req.pool_id).await?.settings.unwrap_or_default();
        let caller = Caller {
            client_id: &req.client_id,
            context: req.caller_context.as_ref(),
        };
        let details = self
            .send_verification(&pool, &user, attribute, VERIFY_ATTRIBUTE, &caller)
            .await?;
        Ok(pb::GetUserAttributeVerificationCodeResponse {
            code_delivery_details: Some(details),
        })
    }

    pub async fn verify_user_attribute(
        &self,
        req: pb::VerifyUserAttributeRequest,
    ) -> Result<pb::VerifyUserAttributeResponse, ApiError> {
        if medium_of(&req.attribute_name).is_none() {
            return Err(ApiError::invalid_parameter(format!(
                "Invalid attribute name {}: only email and phone_number can be verified.",
                req.attribute_name
            )));
        }
        let key = verify_code_key(&req.pool_id, &req.sub, &req.attribute_name);
        self.codes
            .redeem(&key, &req.code)
            .await
            .map_err(code_error)?;
        let request = dir::VerifyUserAttributeRequest {
            caller: req.caller,
            user: Some(dir::UserRef {
                pool_id: req.pool_id,
                username: String::new(),
                sub: req.sub,
            }),
            name: req.attribute_name,
        };
        self.directory
            .clone()
            .verify_user_attribute(request)
            .await?;
        Ok(pb::VerifyUserAttributeResponse {})
    }

    pub async fn change_password(
        &self,
        req: pb::ChangePasswordRequest,
    ) -> Result<pb::ChangePasswordResponse, ApiError> {
        let user = self.user_by_sub(&req.pool_id, &req.sub).await?;
        let settings = self.pool(&req.pool_id).await?.settings.unwrap_or_default();
        let policy = settings.password_policy.unwrap_or_default();
        password::check_policy(&req.proposed_password, &Policy::from(&policy))
            .map_err(policy_error)?;
        self.refuse_breached(
            &req.pool_id,
            &settings,
            "",
            crate::compromised::PasswordEvent::PasswordChange,
            &req.proposed_password,
        )
        .await?;
        let phc = self.current_hash(&user.pool_id, &user.sub).await?;
        let check = async {
            self.hasher
                .verify(req.previous_password, phc)
                .await
                .map_err(pool_error)
        };
        let attempt = crate::attempt::Attempt::default();
        let passed = self
            .guarded(
                &attempt,
                &user.pool_id,
                &user.sub,
                Proof::PasswordChange,
                check,
            )
            .await;
        let response = if matches!(passed, Ok(true)) {
            "Pass"
        } else {
            "Fail"
        };
        self.record_attempt(&user.pool_id, "", &attempt, "PasswordChange", response);
        if !passed? {
            return Err(incorrect_credentials());
        }
        self.replace_password(&user, req.proposed_password, policy.password_history_size)
            .await?;
        self.record_password(&req.caller, &user, "CHANGE", "")
            .await?;
        Ok(pb::ChangePasswordResponse {})
    }
}

/// Whether a changed attribute needs a code: the pool verifies it automatically and
/// the user's new value is not verified.
fn needs_verification(settings: &UserPoolSettings, user: &dir::User, attribute: &str) -> bool {
    settings
        .auto_verified_attributes
        .iter()
        .any(|a| a == attribute)
        && attribute_value(user, attribute).is_some()
        && attribute_value(user, &format!("{attribute}_verified")).as_deref() != Some("true")
}
