//! `RespondToAuthChallenge`: each challenge's answer goes to the flow that opened it
//! (`PASSWORD_VERIFIER` to `srp_flow`, `SELECT_CHALLENGE` to `user_auth`, the MFA
//! challenges to `mfa_flow`, ...); `NEW_PASSWORD_REQUIRED`, for temporary passwords, is
//! answered here. Sessions are kept by `auth_session`.

use std::collections::HashMap;

use portcullis_errors::ApiError;
use portcullis_proto::authn::v1 as pb;
use portcullis_proto::directory::v1 as dir;
use portcullis_proto::events::v1::{Attribute, UserPoolSettings};

use crate::auth_session::invalid_session;
use crate::context::{ClientInfo, Flows, policy_error};
use crate::machine::FirstFactor;
use crate::password::{self, Policy};

pub const NEW_PASSWORD_REQUIRED: &str = "NEW_PASSWORD_REQUIRED";

impl Flows {
    /// The `NEW_PASSWORD_REQUIRED` challenge's parameters: the user's attributes and the
    /// required ones they lack.
    pub(crate) async fn new_password_challenge(
        &self,
        client: &ClientInfo,
        user: &dir::User,
        pool: &UserPoolSettings,
    ) -> Result<pb::InitiateAuthResponse, ApiError> {
        let attributes: serde_json::Map<String, serde_json::Value> = user
            .attributes
            .iter()
            .filter(|a| a.name != "sub")
            .map(|a| (a.name.clone(), a.value.clone().into()))
            .collect();
        let missing: Vec<String> = pool
            .schema
            .iter()
            .filter(|s| s.required && s.name != "sub")
            .filter(|s| !user.attributes.iter().any(|a| a.name == s.name))
            .map(|s| format!("userAttributes.{}", s.name))
            .collect();
        let parameters = HashMap::from([
            ("USER_ID_FOR_SRP".to_owned(), user.username.clone()),
            (
                "requiredAttributes".to_owned(),
                serde_json::to_string(&missing).unwrap_or_default(),
            ),
            (
                "userAttributes".to_owned(),
                serde_json::Value::Object(attributes).to_string(),
            ),
        ]);
        self.challenge(client, user, NEW_PASSWORD_REQUIRED, parameters)
            .await
    }

    pub async fn respond_to_auth_challenge(
        &self,
        req: pb::RespondToAuthChallengeRequest,
    ) -> Result<pb::InitiateAuthResponse, ApiError> {
        let mut client = self.client_for(&req.client_id, req.hosted).await?;
        client.caller = req.caller_context.clone().unwrap_or_default();
        if !req.admin_pool_id.is_empty() && req.admin_pool_id != client.pool_id() {
            return Err(ApiError::not_found(format!(
                "User pool client {} does not exist.",
                req.client_id
            )));
        }
        let outcome = Box::pin(self.answer_challenge(&client, &req)).await;
        self.finish_sign_in(&client, &outcome).await;
        outcome
    }

    async fn answer_challenge(
        &self,
        client: &ClientInfo,
        req: &pb::RespondToAuthChallengeRequest,
    ) -> Result<pb::InitiateAuthResponse, ApiError> {
        match req.challenge_name.as_str() {
            NEW_PASSWORD_REQUIRED => {}
            crate::srp_flow::PASSWORD_VERIFIER => {
                return self.password_verifier(client, req).await;
            }
            crate::user_auth::SELECT_CHALLENGE | "PASSWORD" | "PASSWORD_SRP" => {
                return self.select_challenge_answer(client, req).await;
            }
            crate::passkeys::WEB_AUTHN => {
                return self.web_authn_answer(client, req).await;
            }
            crate::devices::DEVICE_SRP_AUTH => {
                return self.device_srp_auth(client, req).await;
            }
            crate::devices::DEVICE_PASSWORD_VERIFIER => {
                return self.device_password_verifier(client, req).await;
            }
            crate::machine::mfa::SMS_MFA
            | crate::machine::mfa::EMAIL_OTP
            | crate::machine::mfa::SOFTWARE_TOKEN_MFA
            | crate::machine::mfa::SELECT_MFA_TYPE
            | crate::machine::mfa::MFA_SETUP
            | crate::mfa_flow::SMS_OTP => {
                return self.answer_mfa(client, req).await;
            }
            crate::custom_auth::CUSTOM_CHALLENGE => {
                return Box::pin(self.custom_challenge_answer(client, req)).await;
            }
            "ADMIN_NO_SRP_AUTH" => {
                return Err(ApiError::invalid_parameter(format!(
                    "Unsupported challenge: {}",
                    req.challenge_name
                )));
            }
            other => {
                return Err(ApiError::invalid_parameter(format!(
                    "1 validation error detected: Value '{other}' at 'challengeName' failed to satisfy constraint: Member must satisfy enum value set: [SMS_MFA, EMAIL_OTP, SOFTWARE_TOKEN_MFA, SELECT_MFA_TYPE, MFA_SETUP, PASSWORD_VERIFIER, CUSTOM_CHALLENGE, SELECT_CHALLENGE, DEVICE_SRP_AUTH, DEVICE_PASSWORD_VERIFIER, ADMIN_NO_SRP_AUTH, NEW_PASSWORD_REQUIRED, SMS_OTP, PASSWORD, WEB_AUTHN, PASSWORD_SRP]"
                )));
            }
        }
        let responses = &req.challenge_responses;
        let username = responses
            .get("USERNAME")
            .ok_or_else(|| ApiError::invalid_parameter("Missing required parameter USERNAME"))?;
        let new_password = responses.get("NEW_PASSWORD").ok_or_else(|| {
            ApiError::invalid_parameter("Missing required parameter NEW_PASSWORD")
        })?;
        // The session is spent by this answer, right or wrong.
        let session = self
            .take_session(&req.session, NEW_PASSWORD_REQUIRED, client)
            .await?;
        let user = self
            .user_by_name(&session.pool_id, username)
            .await?
            .filter(|u| u.sub == session.sub)
            .ok_or_else(invalid_session)?;
        client.check_secret_hash(
            &[username, &user.username],
            responses.get("SECRET_HASH").map(String::as_str),
        )?;
        if user.status != "FORCE_CHANGE_PASSWORD" {
            return Err(invalid_session());
        }
        let pool = self.pool(&user.pool_id).await?.settings.unwrap_or_default();
        let policy = pool.password_policy.unwrap_or_default();
        let refused = match password::check_policy(new_password, &Policy::from(&policy)) {
            Err(violation) => Some(policy_error(violation)),
            Ok(()) => self
                .refuse_breached(
                    &user.pool_id,
                    &pool,
                    &client.client.client_id,
                    crate::compromised::PasswordEvent::PasswordChange,
                    new_password,
                )
                .await
                .err(),
        };
        if let Some(refused) = refused {
            // A password refused proves nothing wrong: the session stays usable for
            // another try, as for a wrong MFA code.
            self.retry_session(&req.session, session, crate::mfa_flow::MAX_WRONG_ANSWERS)
                .await?;
            return Err(refused);
        }
        let attributes: Vec<Attribute> = responses
            .iter()
            .filter_map(|(k, v)| {
                k.strip_prefix("userAttributes.").map(|name| Attribute {
                    name: name.to_owned(),
                    value: v.clone(),
                })
            })
            .collect();
        if let Some(missing) = pool.schema.iter().find(|s| {
            s.required
                && s.name != "sub"
                && !user.attributes.iter().any(|a| a.name == s.name)
                && !attributes.iter().any(|a| a.name == s.name)
        }) {
            return Err(ApiError::invalid_parameter(format!(
                "Invalid attributes given, {} is missing",
                missing.name
            )));
        }
        let caller = Some(dir::Caller {
            region: req.region.clone(),
            actor: Some(portcullis_proto::events::v1::Actor {
                kind: portcullis_proto::events::v1::actor::Kind::User as i32,
                id: user.sub.clone(),
            }),
            correlation_id: req.correlation_id.clone(),
        });
        if !attributes.is_empty() {
            let request = dir::UpdateUserAttributesRequest {
                caller: caller.clone(),
                user: Some(dir::UserRef {
                    pool_id: user.pool_id.clone(),
                    username: String::new(),
                    sub: user.sub.clone(),
                }),
                attributes,
                by_admin: false,
                client_id: String::new(),
            };
            self.directory
                .clone()
                .update_user_attributes(request)
                .await?;
        }
        self.replace_password(&user, new_password.clone(), policy.password_history_size)
            .await?;
        let user = self
            .record_password(&caller, &user, "NEW_PASSWORD_CHALLENGE", "CONFIRMED")
            .await?;
        // On to the steps after the first factor, as if the new password had been the
        // one given.
        self.signed_in(
            client,
            &user,
            FirstFactor::NewPassword,
            responses.get("DEVICE_KEY").map(String::as_str),
        )
        .await
    }
}
