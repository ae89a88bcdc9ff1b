//! Recording a sign-in's auth event: what each request's [`Attempt`] gathered, sent
//! to the directory when the request answers.

use portcullis_errors::ApiError;
use portcullis_proto::authn::v1 as pb;

use crate::attempt::Attempt;
use crate::context::{ClientInfo, Flows};

/// Where a sign-in stands after a request's answer.
fn response_of(outcome: &Result<pb::InitiateAuthResponse, ApiError>) -> &'static str {
    match outcome {
        Ok(answer)
            if answer.authentication_result.is_some() || !answer.browser_session.is_empty() =>
        {
            "Pass"
        }
        Ok(_) => "InProgress",
        Err(_) => "Fail",
    }
}

impl Flows {
    /// Records what this request of a sign-in found, if it checked a user's secret or
    /// assessed a sign-in. A sign-in that goes on is recorded before it answers, so that
    /// its next step (and an administrator reading the history) sees it; a failure is
    /// recorded in the background, so that a wrong password for a real user answers
    /// as fast as one for a name that matches nobody (which records nothing).
    pub(crate) async fn finish_sign_in(
        &self,
        client: &ClientInfo,
        outcome: &Result<pb::InitiateAuthResponse, ApiError>,
    ) {
        let event_response = response_of(outcome);
        if client.attempt.context().is_none() {
            client.attempt.set_context(self.signals(client).context());
        }
        if client.attempt.failed() {
            let flows = self.clone();
            let key = crate::risk::ip_failure_key(client);
            tokio::spawn(async move { flows.count_ip_failure(key).await });
        }
        let record = self.attempt_record(
            client.pool_id(),
            &client.client.client_id,
            &client.attempt,
            "SignIn",
            event_response,
        );
        self.send_record(record, event_response == "Fail").await;
    }

    /// Records, in the background, an event of `user` that checks no secret
    /// (`SignUp`, `ForgotPassword`, `ResendCode`), where the pool has threat protection
    /// on (only such pools keep a history).
    pub(crate) fn record_user_event(
        &self,
        client: &ClientInfo,
        settings: &portcullis_proto::events::v1::UserPoolSettings,
        user: &portcullis_proto::directory::v1::User,
        event_type: &str,
    ) {
        if crate::risk::mode(settings).is_none() {
            return;
        }
        let attempt = &client.attempt;
        attempt.named(&user.sub, &user.username);
        attempt.set_context(self.signals(client).context());
        attempt.note(self.clock.now_ms());
        self.record_attempt(
            &user.pool_id,
            &client.client.client_id,
            attempt,
            event_type,
            "Pass",
        );
    }

    /// Records an attempt of `event_type` that ended with `event_response`, in the
    /// background.
    pub(crate) fn record_attempt(
        &self,
        pool_id: &str,
        client_id: &str,
        attempt: &Attempt,
        event_type: &str,
        event_response: &str,
    ) {
        let record = self.attempt_record(pool_id, client_id, attempt, event_type, event_response);
        let flows = self.clone();
        tokio::spawn(async move { flows.send_record(record, false).await });
    }

    fn attempt_record(
        &self,
        pool_id: &str,
        client_id: &str,
        attempt: &Attempt,
        event_type: &str,
        event_response: &str,
    ) -> Option<portcullis_proto::directory::v1::RecordAuthEventRequest> {
        let event = attempt.take_record(event_type, event_response, client_id)?;
        Some(portcullis_proto::directory::v1::RecordAuthEventRequest {
            caller: None,
            pool_id: pool_id.to_owned(),
            event: Some(event),
        })
    }

    /// Appends a record, now or (`background`) in a task of its own. A record that
    /// cannot be appended is logged; the sign-in's answer stands.
    async fn send_record(
        &self,
        record: Option<portcullis_proto::directory::v1::RecordAuthEventRequest>,
        background: bool,
    ) {
        let Some(request) = record else {
            return;
        };
        let mut directory = self.directory.clone();
        let append = async move {
            if let Err(status) = directory.record_auth_event(request).await {
                tracing::warn!(error = %status.message(), "could not record an auth event");
            }
        };
        if background {
            tokio::spawn(append);
        } else {
            append.await;
        }
    }
}
