//! Threat protection's compromised-credentials check of a new password (sign-up and
//! password changes): a password in the operator's breached-password corpus is refused
//! where the pool (or the app client) says `BLOCK` and threat protection is `ENFORCED`;
//! in `AUDIT`, or with `NO_ACTION`, it is only noted in the log (without the password).

use portcullis_errors::{ApiError, ErrorCode};
use portcullis_proto::events::v1::UserPoolSettings;

use crate::context::{ClientInfo, Flows};

/// Which of the `EventFilter`'s events a check is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PasswordEvent {
    SignUp,
    PasswordChange,
}

impl PasswordEvent {
    fn filter_name(self) -> &'static str {
        match self {
            Self::SignUp => "SIGN_UP",
            Self::PasswordChange => "PASSWORD_CHANGE",
        }
    }
}

fn compromised() -> ApiError {
    ApiError::new(
        ErrorCode::InvalidPasswordException,
        "Provided password cannot be used for security reasons.",
    )
}

impl Flows {
    /// Refuses `password` when it is breached and the configuration of `client_id` (or
    /// the pool's) blocks compromised credentials for `event`. Costs nothing when the
    /// operator gave no corpus or the pool has threat protection off.
    pub(crate) async fn refuse_breached(
        &self,
        pool_id: &str,
        settings: &UserPoolSettings,
        client_id: &str,
        event: PasswordEvent,
        password: &str,
    ) -> Result<(), ApiError> {
        let Some(corpus) = &self.breached else {
            return Ok(());
        };
        let mode = settings
            .user_pool_add_ons
            .as_ref()
            .map(|a| a.advanced_security_mode.as_str())
            .unwrap_or_default();
        if !matches!(mode, "AUDIT" | "ENFORCED") {
            return Ok(());
        }
        let configuration = self.risk_configuration(pool_id, client_id).await?;
        // Without a configuration of its own, threat protection blocks compromised
        // credentials at every event.
        let (filter, action) = match configuration.and_then(|c| c.compromised_credentials) {
            Some(c) => (c.event_filter, c.event_action),
            None => (Vec::new(), "BLOCK".to_owned()),
        };
        let applies = filter.is_empty() || filter.iter().any(|f| f == event.filter_name());
        if !applies {
            return Ok(());
        }
        let breached = corpus.contains_password(password).map_err(|err| {
            tracing::error!(error = %err, "the breached-password corpus could not be read");
            ApiError::internal()
        })?;
        if !breached {
            return Ok(());
        }
        let blocks = mode == "ENFORCED" && action == "BLOCK";
        tracing::info!(
            pool = pool_id,
            event = event.filter_name(),
            blocked = blocks,
            "compromised credentials detected"
        );
        if blocks {
            return Err(compromised());
        }
        Ok(())
    }

    /// Notes on the sign-in whether the password it proved is breached, for the risk
    /// step (`SIGN_IN`); only sign-ins that send the password itself can be checked.
    pub(crate) fn note_breached(&self, client: &ClientInfo, password: &str) {
        let Some(corpus) = &self.breached else {
            return;
        };
        match corpus.contains_password(password) {
            Ok(breached) => client.attempt.set_breached(breached),
            Err(err) => {
                tracing::error!(error = %err, "the breached-password corpus could not be read");
            }
        }
    }
}
