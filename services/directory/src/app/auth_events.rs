//! The auth-event history: recording a sign-in's records, reading a user's events
//! (`AdminListUserAuthEvents`), and feedback on one (`AdminUpdateAuthEventFeedback`,
//! `UpdateAuthEventFeedback`).

use portcullis_errors::{ApiError, ErrorCode};
use portcullis_proto::directory::v1 as pb;
use portcullis_proto::events::v1::{UserAuthEventFeedbackGiven, UserAuthEventRecorded};

use super::{CommandMeta, Directory};
use crate::domain::risk_configuration::require_add_on_in;

/// `MaxResults` of AdminListUserAuthEvents: 0 to 60, 0 (or none) meaning 60.
const MOST_EVENTS: u32 = 60;

fn event_not_found() -> ApiError {
    ApiError::not_found("Auth event not found.")
}

/// `EventId`: 1 to 50 word characters, `+` or `-`.
fn check_event_id(event_id: &str) -> Result<(), ApiError> {
    let valid = (1..=50).contains(&event_id.chars().count())
        && event_id
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '+' | '-'));
    if valid {
        return Ok(());
    }
    Err(ApiError::invalid_parameter(format!(
        "1 validation error detected: Value '{event_id}' at 'eventId' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+-]+"
    )))
}

fn check_feedback_value(value: &str) -> Result<(), ApiError> {
    if matches!(value, "Valid" | "Invalid") {
        return Ok(());
    }
    Err(ApiError::invalid_parameter(format!(
        "1 validation error detected: Value '{value}' at 'feedbackValue' failed to satisfy constraint: Member must satisfy enum value set: [Valid, Invalid]"
    )))
}

impl Directory {
    /// Appends one record of an auth event in a stream of its own
    /// (`<pool>/authevent/<record id>`): one write, nothing read, however many events
    /// the user has. The read model groups records by the event id they carry.
    pub async fn record_auth_event(
        &self,
        pool_id: &str,
        event: UserAuthEventRecorded,
        meta: &CommandMeta,
    ) -> Result<String, ApiError> {
        let record_id = uuid::Uuid::now_v7().to_string();
        let stream = portcullis_eventlog::StreamId::new(pool_id, "authevent", &record_id)
            .map_err(|_| ApiError::invalid_parameter(format!("Invalid identifier: {pool_id}")))?;
        let event_id = if event.event_id.is_empty() {
            record_id.clone()
        } else {
            event.event_id.clone()
        };
        self.store
            .append_new(
                &stream,
                &record_id,
                crate::domain::Event::UserAuthEventRecorded(event),
                meta,
            )
            .await?;
        Ok(event_id)
    }

    /// The pool must have threat protection on; the user is found by name, alias or sub.
    async fn auth_event_user(
        &self,
        pool_id: &str,
        username: &str,
        sub: &str,
    ) -> Result<String, ApiError> {
        if !sub.is_empty() {
            return Ok(self.user_by_sub(pool_id, sub).await?.sub);
        }
        let (pool, _) = self.pool(pool_id).await?;
        require_add_on_in(&pool.settings)?;
        Ok(self.user_by_name(pool_id, username).await?.sub)
    }

    /// AdminListUserAuthEvents: the user's events, newest first. Asked with a sub (the
    /// sign-in's own risk assessment), the add-on is not checked.
    pub async fn list_user_auth_events(
        &self,
        req: &pb::ListUserAuthEventsRequest,
    ) -> Result<pb::ListUserAuthEventsResponse, ApiError> {
        if req.max_results > MOST_EVENTS {
            return Err(ApiError::invalid_parameter(format!(
                "1 validation error detected: Value '{}' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to {MOST_EVENTS}",
                req.max_results
            )));
        }
        let sub = self
            .auth_event_user(&req.pool_id, &req.username, &req.sub)
            .await?;
        let limit = match req.max_results {
            0 => MOST_EVENTS,
            n => n,
        } as usize;
        let token = Some(req.next_token.clone()).filter(|t| !t.is_empty());
        if let Some(token) = &token
            && (token.len() != 20 + 1 + 36 || !token.is_ascii())
        {
            return Err(ApiError::invalid_parameter("Invalid pagination token."));
        }
        self.wait_for_log().await?;
        let (events, next) = self
            .projection
            .auth_events(&req.pool_id, &sub, limit, token, self.store.now_ms())
            .await?;
        Ok(pb::ListUserAuthEventsResponse {
            events,
            next_token: next.unwrap_or_default(),
            sub,
        })
    }

    /// AdminUpdateAuthEventFeedback (no token) and UpdateAuthEventFeedback (the token the
    /// notification carried, compared in constant time with the hash kept on the event).
    pub async fn update_auth_event_feedback(
        &self,
        req: &pb::UpdateAuthEventFeedbackRequest,
        meta: &CommandMeta,
    ) -> Result<(), ApiError> {
        check_event_id(&req.event_id)?;
        check_feedback_value(&req.feedback_value)?;
        let sub = self
            .auth_event_user(&req.pool_id, &req.username, "")
            .await?;
        self.wait_for_log().await?;
        let (_, token_hash) = self
            .projection
            .auth_event(&req.pool_id, &sub, &req.event_id)
            .await?
            .ok_or_else(event_not_found)?;
        let by_user = !req.feedback_token.is_empty();
        if by_user {
            let given = aws_lc_rs::digest::digest(
                &aws_lc_rs::digest::SHA256,
                req.feedback_token.as_bytes(),
            );
            let kept = hex::decode(&token_hash).unwrap_or_default();
            let matches = !kept.is_empty()
                && aws_lc_rs::constant_time::verify_slices_are_equal(given.as_ref(), &kept).is_ok();
            if !matches {
                return Err(ApiError::new(
                    ErrorCode::NotAuthorizedException,
                    "The feedback token is not valid for this event.",
                ));
            }
        }
        let record_id = uuid::Uuid::now_v7().to_string();
        let stream = portcullis_eventlog::StreamId::new(&req.pool_id, "authevent", &record_id)
            .map_err(|_| ApiError::invalid_parameter("Invalid identifier."))?;
        let given = UserAuthEventFeedbackGiven {
            sub,
            event_id: req.event_id.clone(),
            value: req.feedback_value.clone(),
            provider: if by_user { "User" } else { "Admin" }.to_owned(),
        };
        self.store
            .append_new(
                &stream,
                &record_id,
                crate::domain::Event::UserAuthEventFeedbackGiven(given),
                meta,
            )
            .await?;
        Ok(())
    }
}
