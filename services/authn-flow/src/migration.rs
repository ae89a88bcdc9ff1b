//! Lazy migration: a user the pool does not know who signs in with a password, or asks
//! for a password reset, is looked up by the pool's user migration trigger and, when the
//! function finds them, created from its answer — with the password just typed, so the
//! sign-in goes on in the same call.

use portcullis_errors::{ApiError, ErrorCode};
use portcullis_proto::directory::v1 as dir;
use portcullis_proto::events::v1::{Actor, Attribute, actor::Kind};
use portcullis_triggers::{Trigger, invalid_response};
use serde_json::{Map, Value, json};

use crate::admin::{Invitation, delivery_mediums};
use crate::context::{ClientInfo, Flows};
use crate::lockout::Proof;
use crate::sender::Medium;
use crate::triggers::Caller;

/// Why the user migration trigger runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MigrationSource {
    /// A password sign-in (`USER_PASSWORD_AUTH` or the admin flows; SRP cannot, as the
    /// function needs the password).
    Authentication,
    ForgotPassword,
}

impl MigrationSource {
    fn name(self) -> &'static str {
        match self {
            Self::Authentication => "UserMigration_Authentication",
            Self::ForgotPassword => "UserMigration_ForgotPassword",
        }
    }
}

/// The user a migration function answered.
struct Answer {
    attributes: Vec<Attribute>,
    reset_required: bool,
    force_alias_creation: bool,
    enable_sms_mfa: bool,
    /// Where the welcome message goes (`desiredDeliveryMediums`, SMS unless named);
    /// empty when `messageAction` is `SUPPRESS`.
    welcome: Vec<Medium>,
}

impl Flows {
    /// Runs the pool's user migration trigger for `user_name` (with the `password`
    /// typed, for a sign-in) and creates the user it answers. `None` when the pool has
    /// no such trigger, or when the function did not find the user and the client hides
    /// whether users exist (the caller then answers as for any unknown user). `call` is
    /// the request's region and correlation id.
    pub(crate) async fn migrate(
        &self,
        client: &ClientInfo,
        source: MigrationSource,
        user_name: &str,
        password: Option<&str>,
        call: (&str, &str),
    ) -> Result<Option<dir::User>, ApiError> {
        let config = self.lambda_config(client.pool_id()).await?;
        if Trigger::UserMigration.function(&config).is_none() {
            return Ok(None);
        }
        let trigger_caller = Caller::of(client);
        let mut request = json!({
            "validationData": trigger_caller.metadata(),
            "clientMetadata": trigger_caller.metadata(),
        });
        if let Some(password) = password {
            request["password"] = json!(password);
        }
        let response = self
            .run_with_config(
                &config,
                Trigger::UserMigration,
                source.name(),
                client.pool_id(),
                user_name,
                &trigger_caller,
                request,
                json!({
                    "userAttributes": null,
                    "finalUserStatus": null,
                    "messageAction": null,
                    "desiredDeliveryMediums": null,
                    "forceAliasCreation": null,
                    "enableSMSMFA": null,
                }),
            )
            .await;
        let hides = client.hides_user_existence();
        let response = match response {
            Ok(response) => response.unwrap_or_default(),
            // The function's refusal: the old directory does not know the user, or the
            // password is wrong there.
            Err(err) if err.code == ErrorCode::UserLambdaValidationException && hides => {
                return Ok(None);
            }
            Err(err) => return Err(err),
        };
        let Some(mut answer) = read_answer(&response, source)? else {
            if hides {
                return Ok(None);
            }
            return Err(ApiError::new(
                ErrorCode::UserNotFoundException,
                format!(
                    "Exception migrating user in app client {}",
                    client.client.client_id
                ),
            ));
        };
        let password = password.filter(|_| !answer.reset_required);
        let welcome = std::mem::take(&mut answer.welcome);
        let user = self
            .create_migrated(client, user_name, password, answer, call)
            .await?;
        if !welcome.is_empty() {
            self.welcome_migrated(client, &user, user_name, &welcome)
                .await;
        }
        Ok(Some(user))
    }

    /// The welcome a migrated user gets unless the function suppressed it: the pool's
    /// invitation (its template, the custom message and custom sender triggers as for
    /// `AdminCreateUser`), with no password in it. The user exists by now and the
    /// sign-in goes on, so a welcome that cannot be delivered is only logged.
    async fn welcome_migrated(
        &self,
        client: &ClientInfo,
        user: &dir::User,
        user_name: &str,
        mediums: &[Medium],
    ) {
        let sent = async {
            let settings = self
                .pool(client.pool_id())
                .await?
                .settings
                .unwrap_or_default();
            let invitation = Invitation {
                username: user_name,
                temporary: None,
            };
            self.send_invitation(&settings, user, mediums, invitation, &Caller::of(client))
                .await
        };
        if let Err(err) = sent.await {
            tracing::warn!(code = ?err.code, "a migrated user's welcome was not sent");
        }
    }

    /// [`Flows::migrate`] for a password sign-in, under the lockout of the unknown name:
    /// a locked name does not reach the function, and each try the function does not
    /// answer with a user counts as a failed sign-in, so the old directory's passwords
    /// cannot be guessed through the trigger faster than ours. `None` when the pool has
    /// no migration trigger; else the migrated user, if any.
    pub(crate) async fn migrate_signing_in(
        &self,
        client: &ClientInfo,
        user_name: &str,
        password: &str,
        call: (&str, &str),
    ) -> Result<Option<Option<dir::User>>, ApiError> {
        let config = self.lambda_config(client.pool_id()).await?;
        if Trigger::UserMigration.function(&config).is_none() {
            return Ok(None);
        }
        let source = MigrationSource::Authentication;
        let mut outcome = Ok(None);
        let subject = crate::lockout::unknown_subject(user_name);
        let attempt = async {
            // Boxed: the trigger call and the user's creation make a large future.
            outcome = Box::pin(self.migrate(client, source, user_name, Some(password), call)).await;
            // A failure of the function itself (not a refusal) is not the caller's try.
            match &outcome {
                Ok(user) => Ok(user.is_some()),
                Err(err) if err.code == ErrorCode::UserLambdaValidationException => Ok(false),
                Err(err) => Err(err.clone()),
            }
        };
        self.guarded(
            &client.attempt,
            client.pool_id(),
            &subject,
            Proof::Password,
            attempt,
        )
        .await?;
        outcome.map(Some)
    }

    async fn create_migrated(
        &self,
        client: &ClientInfo,
        user_name: &str,
        password: Option<&str>,
        answer: Answer,
        (region, correlation_id): (&str, &str),
    ) -> Result<dir::User, ApiError> {
        let sub = uuid::Uuid::new_v4().to_string();
        let caller = dir::Caller {
            region: region.to_owned(),
            actor: Some(Actor {
                kind: Kind::User as i32,
                id: sub.clone(),
            }),
            correlation_id: correlation_id.to_owned(),
        };
        let has_phone = answer.attributes.iter().any(|a| a.name == "phone_number");
        let request = dir::CreateUserRequest {
            caller: Some(caller.clone()),
            pool_id: client.pool_id().to_owned(),
            sub: sub.clone(),
            username: user_name.to_owned(),
            attributes: answer.attributes,
            confirmed: true,
            temporary_password: false,
            force_alias_creation: answer.force_alias_creation,
        };
        let mut user = self
            .create_with_password(request, password.map(str::to_owned))
            .await?;
        // `enableSMSMFA`: SMS MFA on for the new user, who needs a phone number for it.
        if answer.enable_sms_mfa && has_phone {
            let request = dir::SetUserMfaPreferenceRequest {
                caller: Some(caller.clone()),
                user: Some(dir::UserRef {
                    pool_id: user.pool_id.clone(),
                    username: String::new(),
                    sub: user.sub.clone(),
                }),
                sms: Some(dir::MfaSetting {
                    enabled: true,
                    preferred: false,
                }),
                software_token: None,
                email: None,
            };
            user = self
                .directory
                .clone()
                .set_user_mfa_preference(request)
                .await?
                .into_inner();
        }
        if answer.reset_required {
            let request = dir::RequirePasswordResetRequest {
                caller: Some(caller),
                user: Some(dir::UserRef {
                    pool_id: user.pool_id.clone(),
                    username: String::new(),
                    sub: user.sub.clone(),
                }),
            };
            return Ok(self
                .directory
                .clone()
                .require_password_reset(request)
                .await?
                .into_inner());
        }
        Ok(user)
    }
}

/// The user a migration function's `response` describes; `None` when it names no
/// attributes (the function did not find the user).
fn read_answer(
    response: &Map<String, Value>,
    source: MigrationSource,
) -> Result<Option<Answer>, ApiError> {
    let attributes = match response.get("userAttributes") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Object(attributes)) => attributes,
        Some(_) => return Err(invalid_response()),
    };
    let mut list = Vec::new();
    for (name, value) in attributes {
        // The pool makes these itself.
        if name == "sub" || name == "username" || name.starts_with("cognito:") {
            continue;
        }
        let value = match value {
            Value::String(value) => value.clone(),
            Value::Bool(value) => value.to_string(),
            Value::Number(value) => value.to_string(),
            _ => return Err(invalid_response()),
        };
        list.push(Attribute {
            name: name.clone(),
            value,
        });
    }
    if list.is_empty() {
        return Ok(None);
    }
    let reset_required = match (response.get("finalUserStatus"), source) {
        (None | Some(Value::Null), MigrationSource::Authentication) => false,
        (None | Some(Value::Null), MigrationSource::ForgotPassword) => true,
        (Some(Value::String(s)), MigrationSource::Authentication) if s == "CONFIRMED" => false,
        (Some(Value::String(s)), _) if s == "RESET_REQUIRED" => true,
        _ => return Err(invalid_response()),
    };
    let suppress = match response.get("messageAction") {
        None | Some(Value::Null) => false,
        Some(Value::String(action)) if action == "SUPPRESS" => true,
        Some(Value::String(action)) if action == "RESEND" => false,
        Some(_) => return Err(invalid_response()),
    };
    let mediums = match response.get("desiredDeliveryMediums") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(mediums)) => mediums
            .iter()
            .map(|medium| medium.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(invalid_response)?,
        Some(_) => return Err(invalid_response()),
    };
    let mediums = delivery_mediums(&mediums).map_err(|_| invalid_response())?;
    let welcome = if suppress { Vec::new() } else { mediums };
    let force_alias_creation = match response.get("forceAliasCreation") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(force)) => *force,
        Some(_) => return Err(invalid_response()),
    };
    let enable_sms_mfa = match response.get("enableSMSMFA") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(enable)) => *enable,
        Some(_) => return Err(invalid_response()),
    };
    Ok(Some(Answer {
        attributes: list,
        reset_required,
        force_alias_creation,
        enable_sms_mfa,
        welcome,
    }))
}

/// A migrated sign-in that must reset its password first.
pub(crate) fn reset_required() -> ApiError {
    ApiError::new(
        ErrorCode::PasswordResetRequiredException,
        "Password reset required for the user",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn an_answer_names_the_users_attributes_and_status() {
        let response = answer(json!({
            "userAttributes": {"email": "kim@example.com", "email_verified": "true",
                               "sub": "old-sub", "cognito:user_status": "X", "custom:tier": 3},
            "finalUserStatus": "CONFIRMED",
            "messageAction": "SUPPRESS",
            "enableSMSMFA": true,
        }));
        let read = read_answer(&response, MigrationSource::Authentication)
            .unwrap()
            .unwrap();
        assert!(read.enable_sms_mfa);
        assert!(read.welcome.is_empty(), "SUPPRESS sends no welcome");
        let names: Vec<&str> = read.attributes.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["custom:tier", "email", "email_verified"]);
        assert!(!read.reset_required);

        let forgot = answer(json!({"userAttributes": {"email": "kim@example.com"}}));
        let read = read_answer(&forgot, MigrationSource::ForgotPassword)
            .unwrap()
            .unwrap();
        assert!(read.reset_required, "a reset asked for is a reset required");
        let confirmed = answer(json!({"userAttributes": {"email": "k@example.com"},
                                      "finalUserStatus": "CONFIRMED"}));
        assert!(read_answer(&confirmed, MigrationSource::ForgotPassword).is_err());
        assert!(
            read_answer(&answer(json!({})), MigrationSource::Authentication)
                .unwrap()
                .is_none()
        );
        let bad = answer(json!({"userAttributes": {"email": "k@example.com"},
                                "finalUserStatus": "ENABLED"}));
        assert!(read_answer(&bad, MigrationSource::Authentication).is_err());
    }

    #[test]
    fn a_welcome_goes_where_the_answer_says_and_by_sms_unless_named() {
        let read =
            |response: Value| read_answer(&answer(response), MigrationSource::Authentication);
        let welcome = read(json!({"userAttributes": {"email": "k@example.com"}}))
            .unwrap()
            .unwrap()
            .welcome;
        assert_eq!(welcome, [Medium::Sms]);
        let welcome = read(json!({"userAttributes": {"email": "k@example.com"},
                                  "messageAction": "RESEND",
                                  "desiredDeliveryMediums": ["EMAIL", "SMS", "EMAIL"]}))
        .unwrap()
        .unwrap()
        .welcome;
        assert_eq!(welcome, [Medium::Email, Medium::Sms]);
        for bad in [
            json!({"userAttributes": {"email": "k@example.com"}, "messageAction": "SEND"}),
            json!({"userAttributes": {"email": "k@example.com"},
                   "desiredDeliveryMediums": ["FAX"]}),
            json!({"userAttributes": {"email": "k@example.com"},
                   "desiredDeliveryMediums": "EMAIL"}),
        ] {
            let err = read(bad.clone()).err().expect("refused");
            assert_eq!(err.code, ErrorCode::InvalidLambdaResponseException, "{bad}");
        }
    }
}
