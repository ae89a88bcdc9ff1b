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
