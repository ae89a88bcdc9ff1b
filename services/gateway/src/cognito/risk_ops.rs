//! Threat protection's risk configuration: SetRiskConfiguration and
//! DescribeRiskConfiguration, kept by the directory (per pool, and per app client).

use portcullis_errors::ApiError;
use portcullis_proto::directory::v1 as dir;
use portcullis_proto::events::v1 as ev;
use serde::Deserialize;
use serde_json::{Value, json};

use super::Call;
use super::ops::caller;
use super::shapes::{compact, parse, required};
use crate::AppState;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RiskRequest {
    user_pool_id: Option<String>,
    client_id: Option<String>,
    compromised_credentials_risk_configuration: Option<Compromised>,
    account_takeover_risk_configuration: Option<Takeover>,
    risk_exception_configuration: Option<Exceptions>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Compromised {
    event_filter: Option<Vec<String>>,
    actions: Option<CompromisedActions>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CompromisedActions {
    event_action: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Takeover {
    notify_configuration: Option<Notify>,
    actions: Option<TakeoverActions>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TakeoverActions {
    low_action: Option<Action>,
    medium_action: Option<Action>,
    high_action: Option<Action>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Action {
    notify: Option<bool>,
    event_action: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Notify {
    from: Option<String>,
    reply_to: Option<String>,
    source_arn: Option<String>,
    block_email: Option<Email>,
    no_action_email: Option<Email>,
    mfa_email: Option<Email>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Email {
    subject: Option<String>,
    html_body: Option<String>,
    text_body: Option<String>,
}

#[derive(Deserialize)]
struct Exceptions {
    #[serde(rename = "BlockedIPRangeList")]
    blocked: Option<Vec<String>>,
    #[serde(rename = "SkippedIPRangeList")]
    skipped: Option<Vec<String>>,
}

fn action(
    given: Option<Action>,
    member: &str,
) -> Result<Option<ev::AccountTakeoverAction>, ApiError> {
    let Some(given) = given else {
        return Ok(None);
    };
    Ok(Some(ev::AccountTakeoverAction {
        notify: required(given.notify, &format!("{member}.notify"))?,
        event_action: required(given.event_action, &format!("{member}.eventAction"))?,
    }))
}

fn email(given: Option<Email>) -> Option<ev::RiskNotifyEmail> {
    given.map(|e| ev::RiskNotifyEmail {
        subject: e.subject.unwrap_or_default(),
        html_body: e.html_body.unwrap_or_default(),
        text_body: e.text_body.unwrap_or_default(),
    })
}

/// The request's configuration as the directory keeps it (members required by the
/// model checked here, values by the directory).
fn configuration(req: RiskRequest) -> Result<ev::RiskConfiguration, ApiError> {
    let compromised = match req.compromised_credentials_risk_configuration {
        Some(c) => {
            let actions = required(c.actions, "compromisedCredentialsRiskConfiguration.actions")?;
            Some(ev::CompromisedCredentialsRisk {
                event_filter: c.event_filter.unwrap_or_default(),
                event_action: required(
                    actions.event_action,
                    "compromisedCredentialsRiskConfiguration.actions.eventAction",
                )?,
            })
        }
        None => None,
    };
    let takeover = match req.account_takeover_risk_configuration {
        Some(t) => {
            let member = "accountTakeoverRiskConfiguration.actions";
            let actions = required(t.actions, member)?;
            Some(ev::AccountTakeoverRisk {
                notify: t.notify_configuration.map(|n| ev::RiskNotifyConfiguration {
                    from: n.from.unwrap_or_default(),
                    reply_to: n.reply_to.unwrap_or_default(),
                    source_arn: n.source_arn.unwrap_or_default(),
                    block_email: email(n.block_email),
                    no_action_email: email(n.no_action_email),
                    mfa_email: email(n.mfa_email),
                }),
                low: action(actions.low_action, &format!("{member}.lowAction"))?,
                medium: action(actions.medium_action, &format!("{member}.mediumAction"))?,
                high: action(actions.high_action, &format!("{member}.highAction"))?,
            })
        }
        None => None,
    };
    let exceptions = req
        .risk_exception_configuration
        .map(|e| ev::RiskExceptions {
            blocked_ip_ranges: e.blocked.unwrap_or_default(),
            skipped_ip_ranges: e.skipped.unwrap_or_default(),
        });
    Ok(ev::RiskConfiguration {
        compromised_credentials: compromised,
        account_takeover: takeover,
        exceptions,
    })
}

fn email_out(email: Option<&ev::RiskNotifyEmail>) -> Value {
    email.map_or(Value::Null, |e| {
        compact(json!({
            "Subject": e.subject,
            "HtmlBody": Some(&e.html_body).filter(|b| !b.is_empty()),
            "TextBody": Some(&e.text_body).filter(|b| !b.is_empty()),
        }))
    })
}

fn action_out(action: Option<&ev::AccountTakeoverAction>) -> Value {
    action.map_or(
        Value::Null,
        |a| json!({"Notify": a.notify, "EventAction": a.event_action}),
    )
}

fn answer_out(answer: dir::RiskConfigurationAnswer) -> Value {
    let configuration = answer.configuration.unwrap_or_default();
    let compromised = configuration.compromised_credentials.map(|c| {
        json!({
            "EventFilter": c.event_filter,
            "Actions": {"EventAction": c.event_action},
        })
    });
    let takeover = configuration.account_takeover.map(|t| {
        let notify = t.notify.map(|n| {
            compact(json!({
                "From": Some(&n.from).filter(|f| !f.is_empty()),
                "ReplyTo": Some(&n.reply_to).filter(|r| !r.is_empty()),
                "SourceArn": n.source_arn,
                "BlockEmail": email_out(n.block_email.as_ref()),
                "NoActionEmail": email_out(n.no_action_email.as_ref()),
                "MfaEmail": email_out(n.mfa_email.as_ref()),
            }))
        });
        compact(json!({
            "NotifyConfiguration": notify,
            "Actions": compact(json!({
                "LowAction": action_out(t.low.as_ref()),
                "MediumAction": action_out(t.medium.as_ref()),
                "HighAction": action_out(t.high.as_ref()),
            })),
        }))
    });
    let exceptions = configuration.exceptions.map(|e| {
        json!({
            "BlockedIPRangeList": e.blocked_ip_ranges,
            "SkippedIPRangeList": e.skipped_ip_ranges,
        })
    });
    json!({
        "RiskConfiguration": compact(json!({
            "UserPoolId": answer.pool_id,
            "ClientId": Some(&answer.client_id).filter(|c| !c.is_empty()),
            "CompromisedCredentialsRiskConfiguration": compromised,
            "AccountTakeoverRiskConfiguration": takeover,
            "RiskExceptionConfiguration": exceptions,
            "LastModifiedDate": Some(answer.last_modified_date).filter(|d| *d > 0),
        }))
    })
}

pub async fn set_risk_configuration(state: &AppState, call: Call) -> Result<Value, ApiError> {
    let caller = caller(&call);
    let mut req: RiskRequest = parse(call.body)?;
    let pool_id = required(req.user_pool_id.take(), "userPoolId")?;
    let client_id = req.client_id.take().unwrap_or_default();
    let request = dir::SetRiskConfigurationRequest {
        caller: Some(caller),
        pool_id,
        client_id,
        configuration: Some(configuration(req)?),
    };
    let answer = state
        .directory
        .clone()
        .set_risk_configuration(request)
        .await?
        .into_inner();
    Ok(answer_out(answer))
}

pub async fn describe_risk_configuration(state: &AppState, call: Call) -> Result<Value, ApiError> {
    let req: RiskRequest = parse(call.body)?;
    let request = dir::DescribeRiskConfigurationRequest {
        pool_id: required(req.user_pool_id, "userPoolId")?,
        client_id: req.client_id.unwrap_or_default(),
    };
    let answer = state
        .directory
        .clone()
        .describe_risk_configuration(request)
        .await?
        .into_inner();
    Ok(answer_out(answer))
}

/// An auth event as AdminListUserAuthEvents gives it. Only the challenge names of the
/// model (`Password`, `Mfa`) are listed: passkey and device proofs are kept in the log.
fn auth_event_out(event: &dir::AuthEvent) -> Value {
    let seconds = |ms: i64| ms as f64 / 1000.0;
    let challenges: Vec<Value> = event
        .challenges
        .iter()
        .filter(|c| matches!(c.name.as_str(), "Password" | "Mfa"))
        .map(|c| {
            json!({
                "ChallengeName": c.name,
                "ChallengeResponse": if c.success { "Success" } else { "Failure" },
            })
        })
        .collect();
    let risk = event.risk.as_ref().map(|r| {
        compact(json!({
            "RiskDecision": r.decision,
            "RiskLevel": Some(&r.level).filter(|l| !l.is_empty()),
            "CompromisedCredentialsDetected": r.compromised_credentials_detected,
        }))
    });
    let context = event.context.as_ref().map(|c| {
        let some = |s: &String| Some(s.clone()).filter(|s| !s.is_empty());
        compact(json!({
            "IpAddress": some(&c.ip_address),
            "DeviceName": some(&c.device_name),
            "Timezone": some(&c.timezone),
            "City": some(&c.city),
            "Country": some(&c.country),
        }))
    });
    let feedback = (!event.feedback_value.is_empty()).then(|| {
        json!({
            "FeedbackValue": event.feedback_value,
            "Provider": event.feedback_provider,
            "FeedbackDate": seconds(event.feedback_ms),
        })
    });
    compact(json!({
        "EventId": event.event_id,
        "EventType": event.event_type,
        "CreationDate": seconds(event.creation_ms),
        "EventResponse": event.event_response,
        "EventRisk": risk,
        "ChallengeResponses": challenges,
        "EventContextData": context,
        "EventFeedback": feedback,
    }))
}

pub async fn admin_list_user_auth_events(state: &AppState, call: Call) -> Result<Value, ApiError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Req {
        user_pool_id: Option<String>,
        username: Option<String>,
        max_results: Option<i64>,
        next_token: Option<String>,
    }
    let req: Req = parse(call.body)?;
    let max_results = req.max_results.unwrap_or(0);
    if !(0..=60).contains(&max_results) {
        let bound = if max_results < 0 {
            "greater than or equal to 0"
        } else {
            "less than or equal to 60"
        };
        return Err(ApiError::invalid_parameter(format!(
            "1 validation error detected: Value '{max_results}' at 'maxResults' failed to satisfy constraint: Member must have value {bound}"
        )));
    }
    let request = dir::ListUserAuthEventsRequest {
        caller: None,
        pool_id: required(req.user_pool_id, "userPoolId")?,
        username: required(req.username, "username")?,
        sub: String::new(),
        max_results: u32::try_from(max_results).unwrap_or(0),
        next_token: req.next_token.unwrap_or_default(),
    };
    let answer = state
        .directory
        .clone()
        .list_user_auth_events(request)
        .await?
        .into_inner();
    let events: Vec<Value> = answer.events.iter().map(auth_event_out).collect();
    Ok(compact(json!({
        "AuthEvents": events,
        "NextToken": Some(answer.next_token).filter(|t| !t.is_empty()),
    })))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct FeedbackRequest {
    user_pool_id: Option<String>,
    username: Option<String>,
    event_id: Option<String>,
    feedback_token: Option<String>,
    feedback_value: Option<String>,
}

async fn update_feedback(
    state: &AppState,
    call: &Call,
    req: FeedbackRequest,
    feedback_token: String,
) -> Result<Value, ApiError> {
    let request = dir::UpdateAuthEventFeedbackRequest {
        caller: Some(caller(call)),
        pool_id: required(req.user_pool_id, "userPoolId")?,
        username: required(req.username, "username")?,
        event_id: required(req.event_id, "eventId")?,
        feedback_value: required(req.feedback_value, "feedbackValue")?,
        feedback_token,
    };
    state
        .directory
        .clone()
        .update_auth_event_feedback(request)
        .await?;
    Ok(json!({}))
}

pub async fn admin_update_auth_event_feedback(
    state: &AppState,
    call: Call,
) -> Result<Value, ApiError> {
    let req: FeedbackRequest = parse(call.body.clone())?;
    update_feedback(state, &call, req, String::new()).await
}

/// UpdateAuthEventFeedback: unsigned; the feedback token of the risk notification is the
/// proof.
pub async fn update_auth_event_feedback(state: &AppState, call: Call) -> Result<Value, ApiError> {
    let mut req: FeedbackRequest = parse(call.body.clone())?;
    let token = required(req.feedback_token.take(), "feedbackToken")?;
    if token.is_empty() {
        return Err(ApiError::invalid_parameter(
            "1 validation error detected: Value at 'feedbackToken' failed to satisfy constraint: Member must satisfy regular expression pattern: [A-Za-z0-9-_=.]+",
        ));
    }
    update_feedback(state, &call, req, token).await
}

/// The one-click links of a risk notification (`GET /risk/feedback?pool&username&event&
/// token&value`): the user's feedback, answered with a short page.
pub async fn feedback_link(
    axum::extract::State(state): axum::extract::State<std::sync::Arc<AppState>>,
    axum::extract::Query(query): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let get = |name: &str| query.get(name).cloned().unwrap_or_default();
    let value = match get("value").as_str() {
        "valid" | "Valid" => "Valid",
        "invalid" | "Invalid" => "Invalid",
        _ => "",
    };
    let request = dir::UpdateAuthEventFeedbackRequest {
        caller: None,
        pool_id: get("pool"),
        username: get("username"),
        event_id: get("event"),
        feedback_value: value.to_owned(),
        feedback_token: get("token"),
    };
    let outcome = if request.feedback_token.is_empty() {
        Err(ApiError::invalid_parameter(
            "The link has no feedback token.",
        ))
    } else {
        state
            .directory
            .clone()
            .update_auth_event_feedback(request)
            .await
            .map_err(ApiError::from)
    };
    let (status, text) = match outcome {
        Ok(_) if value == "Valid" => (
            axum::http::StatusCode::OK,
            "Thank you: the sign-in is recorded as yours.",
        ),
        Ok(_) => (
            axum::http::StatusCode::OK,
            "Thank you: the sign-in is recorded as not yours. Change your password now.",
        ),
        Err(err) => {
            tracing::info!(error = %err.message, "a feedback link was refused");
            (
                axum::http::StatusCode::BAD_REQUEST,
                "This link is not valid (it may have been used for another event).",
            )
        }
    };
    let page = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Sign-in feedback</title></head><body><p>{text}</p></body></html>"
    );
    (
        status,
        [(axum::http::header::CONTENT_TYPE, "text/html; charset=utf-8")],
        page,
    )
        .into_response()
}
