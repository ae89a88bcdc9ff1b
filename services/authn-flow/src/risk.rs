//! Threat protection's adaptive authentication: each sign-in of a pool with threat
//! protection on (`AUDIT` or `ENFORCED`) gets a risk level from signals Portcullis sees
//! itself, and the level's configured action (allow, MFA, block, notify) is applied in
//! `ENFORCED` mode. The judgement and its reasons are recorded on the sign-in's auth
//! event.
//!
//! The signals, compared with the user's own history (the auth events of earlier
//! sign-ins that passed and that nobody marked `Invalid`):
//! - a device (fingerprint of the client's device data, else of the user agent) the user
//!   never signed in from;
//! - an IP network (a /24 of IPv4, a /48 of IPv6) the user never signed in from;
//! - failures of the user before this sign-in (the lockout's count);
//! - failures from the sign-in's IP address across the pool, in the last 15 minutes.
//!
//! A user with no history yet has nothing to compare: only the failure signals count.
//! The score is the sum of the signals' weights ([`score`]); 0 is no risk, 1 a low risk,
//! 2 medium, 3 or more high. A sign-in from a `BlockedIPRangeList` range is blocked
//! whatever the score; one from a `SkippedIPRangeList` range is not assessed.

use std::net::IpAddr;
use std::time::Duration;

use aws_lc_rs::digest;
use base64::Engine;
use portcullis_errors::ApiError;
use portcullis_proto::directory::v1 as dir;
use portcullis_proto::events::v1::{
    AccountTakeoverAction, AuthEventContext, AuthEventRisk, RiskConfiguration, UserPoolSettings,
};
use portcullis_types::cidr::Cidr;

use crate::context::{ClientInfo, Flows};
use crate::machine::Verdict;

/// How long failures from one address are counted.
const IP_FAILURE_WINDOW: Duration = Duration::from_secs(15 * 60);

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Level {
    Low,
    Medium,
    High,
}

impl Level {
    fn name(self) -> &'static str {
        match self {
            Level::Low => "Low",
            Level::Medium => "Medium",
            Level::High => "High",
        }
    }
}

/// What the request tells about where it comes from.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Signals {
    pub(crate) ip: Option<IpAddr>,
    pub(crate) device_name: String,
    pub(crate) fingerprint: String,
    pub(crate) timezone: String,
    /// Where the address is, from the operator's IP geolocation database.
    pub(crate) place: Option<portcullis_geo::Place>,
}

impl Signals {
    pub(crate) fn context(&self) -> AuthEventContext {
        let place = self.place.as_ref();
        let location = place.and_then(|p| p.location);
        AuthEventContext {
            ip_address: self.ip.map(|ip| ip.to_string()).unwrap_or_default(),
            device_name: self.device_name.clone(),
            timezone: self.timezone.clone(),
            device_fingerprint: self.fingerprint.clone(),
            city: place.and_then(|p| p.city.clone()).unwrap_or_default(),
            country: place.and_then(|p| p.country.clone()).unwrap_or_default(),
            has_location: location.is_some(),
            latitude: location.map_or(0.0, |l| l.0),
            longitude: location.map_or(0.0, |l| l.1),
        }
    }
}

/// The signals of `client`'s request. The address is the one the app vouches for in
/// `ContextData` (admin operations) or, where the client may propagate it,
/// `UserContextData`; else the address the request came from.
pub(crate) fn signals(client: &ClientInfo) -> Signals {
    let caller = &client.caller;
    let data = caller.context_data.clone().unwrap_or_default();
    let vouched = data.from_server
        || client
            .settings
            .enable_propagate_additional_user_context_data;
    let ip = Some(data.ip_address.as_str())
        .filter(|ip| vouched && !ip.is_empty())
        .unwrap_or(&caller.source_ip)
        .parse::<IpAddr>()
        .ok()
        .map(portcullis_types::cidr::canonical);
    let user_agent = if data.from_server {
        data.http_headers
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case("user-agent"))
            .map(|(_, value)| value.clone())
            .unwrap_or_default()
    } else {
        caller.user_agent.clone()
    };
    let device = DeviceData::decode(&data.encoded_data);
    let basis = device
        .device_id
        .clone()
        .unwrap_or_else(|| format!("ua:{user_agent}"));
    let fingerprint =
        hex::encode(&digest::digest(&digest::SHA256, basis.as_bytes()).as_ref()[..16]);
    Signals {
        ip,
        device_name: device_name(device.user_agent.as_deref().unwrap_or(&user_agent)),
        fingerprint,
        timezone: device.timezone.unwrap_or_default(),
        place: None,
    }
}

/// What Portcullis reads of `EncodedData`: base64 of a JSON document whose `payload`
/// (a JSON string) holds `contextData` with the device's id, time zone and user agent.
/// Anything else is opaque and ignored.
#[derive(Debug, Default)]
struct DeviceData {
    device_id: Option<String>,
    timezone: Option<String>,
    user_agent: Option<String>,
}

impl DeviceData {
    fn decode(encoded: &str) -> Self {
        let parsed = (|| {
            let raw = base64::engine::general_purpose::STANDARD
                .decode(encoded.trim())
                .ok()?;
            let outer: serde_json::Value = serde_json::from_slice(&raw).ok()?;
            let payload: serde_json::Value = match outer.get("payload")? {
                serde_json::Value::String(text) => serde_json::from_str(text).ok()?,
                other => other.clone(),
            };
            let context = payload.get("contextData")?.clone();
            let text = |name: &str| {
                context
                    .get(name)
                    .and_then(serde_json::Value::as_str)
                    .filter(|v| !v.is_empty())
                    .map(|v| v.chars().take(256).collect::<String>())
            };
            Some(Self {
                device_id: text("DeviceId").or_else(|| text("DeviceFingerprint")),
                timezone: text("ClientTimezone"),
                user_agent: text("UserAgent"),
            })
        })();
        parsed.unwrap_or_default()
    }
}

/// A short name of the device a user agent describes, e.g. `Firefox, Linux`.
fn device_name(user_agent: &str) -> String {
    if user_agent.is_empty() {
        return String::new();
    }
    let browser = [
        ("Edg/", "Edge"),
        ("OPR/", "Opera"),
        ("Firefox/", "Firefox"),
        ("Chrome/", "Chrome"),
        ("Safari/", "Safari"),
        ("Boto3/", "Boto3"),
        ("aws-sdk-", "AWS SDK"),
        ("aws-cli/", "AWS CLI"),
        ("python-requests/", "Python"),
        ("curl/", "curl"),
    ]
    .into_iter()
    .find(|(token, _)| user_agent.contains(token))
    .map(|(_, name)| name);
    let system = [
        ("Android", "Android"),
        ("iPhone", "iOS"),
        ("iPad", "iOS"),
        ("Windows", "Windows"),
        ("Mac OS X", "macOS"),
        ("Macintosh", "macOS"),
        ("Linux", "Linux"),
    ]
    .into_iter()
    .find(|(token, _)| user_agent.contains(token))
    .map(|(_, name)| name);
    match (browser, system) {
        (Some(b), Some(s)) => format!("{b}, {s}"),
        (Some(b), None) => b.to_owned(),
        (None, Some(s)) => s.to_owned(),
        (None, None) => user_agent.chars().take(64).collect(),
    }
}

/// The network an address belongs to, for the new-network signal.
fn network(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            format!("{a}.{b}.{c}.0/24")
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}::/48", s[0], s[1], s[2])
        }
    }
}

/// What the user's earlier sign-ins tell.
#[derive(Debug, Clone, Default)]
pub(crate) struct History {
    pub(crate) known: bool,
    pub(crate) devices: Vec<String>,
    pub(crate) networks: Vec<String>,
    /// Where and when (ms) the newest trusted sign-in with a known place was.
    pub(crate) last_place: Option<((f64, f64), i64)>,
}

impl History {
    fn of(events: &[dir::AuthEvent]) -> Self {
        let mut history = Self::default();
        for event in events {
            let trusted = event.feedback_value == "Valid"
                || (event.event_response == "Pass" && event.feedback_value != "Invalid");
            if event.event_type != "SignIn" || !trusted {
                continue;
            }
            let Some(context) = &event.context else {
                continue;
            };
            history.known = true;
            if history.last_place.is_none() && context.has_location {
                history.last_place =
                    Some(((context.latitude, context.longitude), event.creation_ms));
            }
            history.devices.push(context.device_fingerprint.clone());
            if let Ok(ip) = context.ip_address.parse::<IpAddr>() {
                history.networks.push(network(ip));
            }
        }
        history
    }
}

/// Everything the score is made from.
#[derive(Debug, Clone, Default)]
pub(crate) struct Inputs {
    pub(crate) history: History,
    pub(crate) signals: Signals,
    pub(crate) user_failures: u32,
    pub(crate) ip_failures: i64,
    pub(crate) now_ms: i64,
}

/// Faster than an airliner, over a distance a city database's error does not explain.
const IMPOSSIBLE_SPEED_KMH: f64 = 1_000.0;
const IMPOSSIBLE_MIN_KM: f64 = 500.0;

/// Whether getting from the last trusted sign-in's place to this one's in the time
/// between them would take faster travel than a plane's.
fn impossible_travel(inputs: &Inputs) -> bool {
    let (Some((from, at_ms)), Some(to)) = (
        inputs.history.last_place,
        inputs.signals.place.as_ref().and_then(|p| p.location),
    ) else {
        return false;
    };
    let km = portcullis_geo::distance_km(from, to);
    let hours = (inputs.now_ms - at_ms).max(0) as f64 / 3_600_000.0;
    km > IMPOSSIBLE_MIN_KM && km > IMPOSSIBLE_SPEED_KMH * hours
}

/// The signals that fired and the level they make (none: no risk).
pub(crate) fn score(inputs: &Inputs) -> (Option<Level>, Vec<&'static str>) {
    let mut points = 0;
    let mut reasons = Vec::new();
    let history = &inputs.history;
    if history.known {
        if !history.devices.contains(&inputs.signals.fingerprint) {
            points += 1;
            reasons.push("new-device");
        }
        if let Some(ip) = inputs.signals.ip
            && !history.networks.contains(&network(ip))
        {
            points += 1;
            reasons.push("new-network");
        }
    }
    if impossible_travel(inputs) {
        points += 3;
        reasons.push("impossible-travel");
    }
    match inputs.user_failures {
        0..=2 => {}
        3..=9 => {
            points += 1;
            reasons.push("failure-velocity");
        }
        _ => {
            points += 2;
            reasons.push("failure-velocity");
        }
    }
    match inputs.ip_failures {
        ..=9 => {}
        10..=49 => {
            points += 1;
            reasons.push("ip-failure-velocity");
        }
        _ => {
            points += 2;
            reasons.push("ip-failure-velocity");
        }
    }
    let level = match points {
        0 => None,
        1 => Some(Level::Low),
        2 => Some(Level::Medium),
        _ => Some(Level::High),
    };
    (level, reasons)
}

/// The action configured for `level`; without an account-takeover configuration, low
/// risk is allowed, medium asks for MFA if the user has it, and high requires MFA.
fn action_for(configuration: Option<&RiskConfiguration>, level: Level) -> AccountTakeoverAction {
    let configured = configuration
        .and_then(|c| c.account_takeover.as_ref())
        .and_then(|a| match level {
            Level::Low => a.low.clone(),
            Level::Medium => a.medium.clone(),
            Level::High => a.high.clone(),
        });
    let default = match level {
        Level::Low => "NO_ACTION",
        Level::Medium => "MFA_IF_CONFIGURED",
        Level::High => "MFA_REQUIRED",
    };
    configured.unwrap_or_else(|| AccountTakeoverAction {
        notify: false,
        event_action: default.to_owned(),
    })
}

fn ranges(list: &[String]) -> Vec<Cidr> {
    list.iter().filter_map(|r| Cidr::parse(r).ok()).collect()
}

/// The pool's threat protection mode, if it is on.
pub(crate) fn mode(settings: &UserPoolSettings) -> Option<&str> {
    mode_for(settings, false)
}

/// The mode that applies to a sign-in: custom-auth sign-ins (`custom`) are assessed
/// only under `AdvancedSecurityAdditionalFlows.CustomAuthMode`, the others under
/// `AdvancedSecurityMode`.
fn mode_for(settings: &UserPoolSettings, custom: bool) -> Option<&str> {
    let add_ons = settings.user_pool_add_ons.as_ref()?;
    let mode = if custom {
        add_ons.custom_auth_mode.as_str()
    } else {
        add_ons.advanced_security_mode.as_str()
    };
    matches!(mode, "AUDIT" | "ENFORCED").then_some(mode)
}

fn ip_failures_key(pool_id: &str, ip: IpAddr) -> String {
    format!("risk-ip-failures/{pool_id}/{ip}")
}

/// Where failures from the request's address are counted, if it has one.
pub(crate) fn ip_failure_key(client: &ClientInfo) -> Option<String> {
    signals(client)
        .ip
        .map(|ip| ip_failures_key(client.pool_id(), ip))
}

/// A judged sign-in: the verdict for the core, and what to record and notify.
pub(crate) struct Judgement {
    pub(crate) verdict: Verdict,
    pub(crate) risk: AuthEventRisk,
    pub(crate) notify: bool,
}

/// Judges a sign-in (pure: the inputs were read).
pub(crate) fn judge(
    configuration: Option<&RiskConfiguration>,
    enforced: bool,
    inputs: &Inputs,
    compromised: bool,
) -> Judgement {
    let exceptions = configuration
        .and_then(|c| c.exceptions.clone())
        .unwrap_or_default();
    let ip = inputs.signals.ip;
    let in_any = |list: &[String]| ip.is_some_and(|ip| ranges(list).iter().any(|r| r.contains(ip)));
    let enforce = |verdict: Verdict| if enforced { verdict } else { Verdict::Allow };
    let mut risk = AuthEventRisk {
        compromised_credentials_detected: compromised,
        ..Default::default()
    };
    if in_any(&exceptions.blocked_ip_ranges) {
        risk.decision = "Block".to_owned();
        risk.level = Level::High.name().to_owned();
        risk.reasons = vec!["blocked-ip-range".to_owned()];
        let verdict = enforce(Verdict::Block);
        risk.action = action_name(verdict).to_owned();
        return Judgement {
            verdict,
            risk,
            notify: false,
        };
    }
    if in_any(&exceptions.skipped_ip_ranges) {
        risk.decision = "NoRisk".to_owned();
        risk.action = action_name(Verdict::Allow).to_owned();
        risk.reasons = vec!["skipped-ip-range".to_owned()];
        return Judgement {
            verdict: Verdict::Allow,
            risk,
            notify: false,
        };
    }
    let (level, reasons) = score(inputs);
    risk.reasons = reasons.iter().map(|r| (*r).to_owned()).collect();
    let mut verdict = Verdict::Allow;
    let mut notify = false;
    match level {
        None => {
            risk.decision = "NoRisk".to_owned();
            risk.level = Level::Low.name().to_owned();
        }
        Some(level) => {
            risk.decision = "AccountTakeover".to_owned();
            risk.level = level.name().to_owned();
            let action = action_for(configuration, level);
            notify = action.notify;
            verdict = match action.event_action.as_str() {
                "BLOCK" => Verdict::Block,
                "MFA_IF_CONFIGURED" => Verdict::Mfa { required: false },
                "MFA_REQUIRED" => Verdict::Mfa { required: true },
                _ => Verdict::Allow,
            };
        }
    }
    if compromised {
        risk.reasons.push("compromised-credentials".to_owned());
        let blocks = configuration
            .and_then(|c| c.compromised_credentials.as_ref())
            .is_none_or(|c| {
                c.event_action == "BLOCK"
                    && (c.event_filter.is_empty() || c.event_filter.iter().any(|f| f == "SIGN_IN"))
            });
        if blocks {
            verdict = Verdict::Block;
        }
    }
    let verdict = enforce(verdict);
    risk.action = action_name(verdict).to_owned();
    Judgement {
        verdict,
        risk,
        notify,
    }
}

fn action_name(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Allow => "ALLOW",
        Verdict::Mfa { .. } => "MFA",
        Verdict::Block => "BLOCK",
    }
}

impl Flows {
    /// [`signals`], with the address's place when the operator gave a database.
    pub(crate) fn signals(&self, client: &ClientInfo) -> Signals {
        let mut signals = signals(client);
        if let (Some(geo), Some(ip)) = (&self.geo, signals.ip) {
            signals.place = geo.lookup(ip);
        }
        signals
    }

    /// The risk configuration that applies to `client_id` (its own, else the pool's),
    /// cached until the log records a change to the pool's configuration.
    pub(crate) async fn risk_configuration(
        &self,
        pool_id: &str,
        client_id: &str,
    ) -> Result<Option<RiskConfiguration>, ApiError> {
        let answer = self
            .cache
            .get(&format!("risk/{pool_id}/{client_id}"), || async {
                let request = dir::DescribeRiskConfigurationRequest {
                    pool_id: pool_id.to_owned(),
                    client_id: client_id.to_owned(),
                };
                let answer = self
                    .directory
                    .clone()
                    .describe_risk_configuration(request)
                    .await?;
                Ok::<_, ApiError>((pool_id.to_owned(), answer.into_inner()))
            })
            .await?;
        Ok(answer.configuration)
    }

    /// Counts a failed sign-in from an address (kept for 15 minutes).
    pub(crate) async fn count_ip_failure(&self, key: Option<String>) {
        let Some(key) = key else {
            return;
        };
        if let Err(err) = self.sessions.incr(&key, IP_FAILURE_WINDOW).await {
            tracing::warn!(error = %err, "could not count a failed sign-in");
        }
    }

    /// Judges the sign-in of `user` (the effect `AssessRisk`), notes it on the
    /// request's attempt, notifies the user if the level's action says so, and answers
    /// the verdict. Pools without threat protection are not assessed.
    pub(crate) async fn assess_risk(
        &self,
        client: &ClientInfo,
        user: &dir::User,
        pool: &UserPoolSettings,
        custom: bool,
    ) -> Result<Verdict, ApiError> {
        let signals = self.signals(client);
        client.attempt.named(&user.sub, &user.username);
        client.attempt.set_context(signals.context());
        let Some(mode) = mode_for(pool, custom) else {
            return Ok(Verdict::Allow);
        };
        let configuration = self
            .risk_configuration(&user.pool_id, &client.client.client_id)
            .await?;
        let history = self
            .directory
            .clone()
            .list_user_auth_events(dir::ListUserAuthEventsRequest {
                pool_id: user.pool_id.clone(),
                sub: user.sub.clone(),
                max_results: 60,
                ..Default::default()
            })
            .await?
            .into_inner();
        let ip_failures = match signals.ip {
            Some(ip) => self
                .sessions
                .get(&ip_failures_key(&user.pool_id, ip))
                .await
                .ok()
                .flatten()
                .and_then(|raw| std::str::from_utf8(&raw).ok()?.trim().parse::<i64>().ok())
                .unwrap_or(0),
            None => 0,
        };
        let inputs = Inputs {
            history: History::of(&history.events),
            signals,
            user_failures: client.attempt.prior_failures(),
            ip_failures,
            now_ms: self.clock.now_ms(),
        };
        let compromised = client.attempt.breached().unwrap_or(false);
        let judgement = judge(
            configuration.as_ref(),
            mode == "ENFORCED",
            &inputs,
            compromised,
        );
        tracing::info!(
            pool = %user.pool_id,
            decision = %judgement.risk.decision,
            level = %judgement.risk.level,
            reasons = ?judgement.risk.reasons,
            action = %judgement.risk.action,
            "sign-in assessed"
        );
        let mut risk = judgement.risk;
        let mut token_hash = String::new();
        if judgement.notify
            && let Some(notify) = configuration
                .as_ref()
                .and_then(|c| c.account_takeover.as_ref())
                .and_then(|a| a.notify.as_ref())
        {
            match self
                .notify_risk(client, user, notify, judgement.verdict, &inputs.signals)
                .await
            {
                Ok(hash) => {
                    risk.notified = true;
                    token_hash = hash;
                }
                Err(err) => {
                    tracing::warn!(error = %err.message, "a risk notification could not be sent");
                }
            }
        }
        client.attempt.assessed(risk, token_hash);
        Ok(judgement.verdict)
    }

    /// Emails the user the template for the verdict, with one-click feedback links;
    /// answers the SHA-256 (hex) of the feedback token the links carry.
    async fn notify_risk(
        &self,
        client: &ClientInfo,
        user: &dir::User,
        notify: &portcullis_proto::events::v1::RiskNotifyConfiguration,
        verdict: Verdict,
        signals: &Signals,
    ) -> Result<String, ApiError> {
        let template = match verdict {
            Verdict::Block => notify.block_email.clone(),
            Verdict::Mfa { .. } => notify.mfa_email.clone(),
            Verdict::Allow => notify.no_action_email.clone(),
        };
        let email = user
            .attributes
            .iter()
            .find(|a| a.name == "email")
            .map(|a| a.value.clone())
            .filter(|e| !e.is_empty());
        let Some(email) = email else {
            return Err(ApiError::invalid_parameter(
                "The user has no email address.",
            ));
        };
        let mut token = [0u8; 32];
        aws_lc_rs::rand::fill(&mut token).map_err(|_| ApiError::internal())?;
        let token = hex::encode(token);
        let event_id = client.attempt.event_id();
        let link = |value: &str| {
            format!(
                "{}/risk/feedback?pool={}&username={}&event={}&token={token}&value={value}",
                self.public_base_url,
                escape(&user.pool_id),
                escape(&user.username),
                escape(&event_id),
            )
        };
        let (subject, body) = match template {
            Some(t) => {
                let body = if t.text_body.is_empty() { t.html_body } else { t.text_body };
                (t.subject, body)
            }
            None => (
                "Security alert".to_owned(),
                "We noticed a sign-in to {username} from {device-name} at {ip-address} ({login-time}). Was it you? Yes: {one-click-link-valid} No: {one-click-link-invalid}".to_owned(),
            ),
        };
        let login_time = time_text(self.clock.now_ms());
        let place = signals.place.as_ref();
        let fill = |text: &str| {
            text.replace("{username}", &user.username)
                .replace(
                    "{ip-address}",
                    &signals.ip.map(|i| i.to_string()).unwrap_or_default(),
                )
                .replace(
                    "{city}",
                    &place.and_then(|p| p.city.clone()).unwrap_or_default(),
                )
                .replace(
                    "{country}",
                    &place.and_then(|p| p.country.clone()).unwrap_or_default(),
                )
                .replace("{login-time}", &login_time)
                .replace("{device-name}", &signals.device_name)
                .replace("{one-click-link-valid}", &link("valid"))
                .replace("{one-click-link-invalid}", &link("invalid"))
                .replace("{event-id}", &event_id)
                .replace("{feedback-token}", &token)
        };
        let message = crate::sender::Message {
            channel: crate::sender::Medium::Email,
            destination: email,
            pool_id: user.pool_id.clone(),
            username: user.username.clone(),
            kind: "AccountTakeoverNotification",
            code: None,
            message: fill(&body),
            subject: Some(fill(&subject)),
        };
        self.sender.send(&message).await.map_err(|err| {
            tracing::warn!(error = %err, "risk notification delivery failed");
            ApiError::internal()
        })?;
        let hash = digest::digest(&digest::SHA256, token.as_bytes());
        Ok(hex::encode(hash.as_ref()))
    }
}

/// `2026-12-07 10:15:00 UTC`.
fn time_text(ms: i64) -> String {
    let format =
        time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second] UTC");
    time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .ok()
        .and_then(|t| t.format(format).ok())
        .unwrap_or_default()
}

/// A query value, percent-encoded (RFC 3986's unreserved characters kept).
fn escape(value: &str) -> String {
    value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use portcullis_proto::events::v1::{
        AccountTakeoverRisk, CompromisedCredentialsRisk, RiskExceptions,
    };

    fn signals(ip: &str, fingerprint: &str) -> Signals {
        Signals {
            ip: ip.parse().ok(),
            fingerprint: fingerprint.to_owned(),
            ..Default::default()
        }
    }

    fn known() -> History {
        History {
            known: true,
            devices: vec!["laptop".into()],
            networks: vec![network("198.51.100.7".parse().unwrap())],
            last_place: None,
        }
    }

    #[test]
    fn the_score_counts_new_devices_networks_and_failures() {
        let level = |history: History, ip: &str, device: &str, failures: u32, ip_failures: i64| {
            score(&Inputs {
                history,
                signals: signals(ip, device),
                user_failures: failures,
                ip_failures,
                now_ms: 0,
            })
            .0
        };
        assert_eq!(level(known(), "198.51.100.9", "laptop", 0, 0), None);
        // A user with no history has nothing to compare.
        assert_eq!(
            level(History::default(), "203.0.113.1", "phone", 0, 0),
            None
        );
        assert_eq!(
            level(known(), "198.51.100.9", "phone", 0, 0),
            Some(Level::Low)
        );
        assert_eq!(
            level(known(), "203.0.113.1", "phone", 0, 0),
            Some(Level::Medium)
        );
        assert_eq!(
            level(known(), "203.0.113.1", "phone", 4, 0),
            Some(Level::High)
        );
        assert_eq!(
            level(History::default(), "203.0.113.1", "phone", 12, 0),
            Some(Level::Medium)
        );
        assert_eq!(
            level(History::default(), "203.0.113.1", "phone", 0, 60),
            Some(Level::Medium)
        );
    }

    fn configuration(medium: &str, high: &str) -> RiskConfiguration {
        let action = |a: &str| {
            Some(AccountTakeoverAction {
                notify: false,
                event_action: a.to_owned(),
            })
        };
        RiskConfiguration {
            account_takeover: Some(AccountTakeoverRisk {
                notify: None,
                low: action("NO_ACTION"),
                medium: action(medium),
                high: action(high),
            }),
            compromised_credentials: Some(CompromisedCredentialsRisk {
                event_filter: vec!["SIGN_IN".into()],
                event_action: "BLOCK".into(),
            }),
            exceptions: Some(RiskExceptions {
                blocked_ip_ranges: vec!["192.0.2.0/24".into()],
                skipped_ip_ranges: vec!["10.0.0.0/8".into()],
            }),
        }
    }

    fn inputs(ip: &str, device: &str) -> Inputs {
        Inputs {
            history: known(),
            signals: signals(ip, device),
            ..Default::default()
        }
    }

    #[test]
    fn each_level_takes_its_action_when_enforced_and_none_in_audit() {
        let config = configuration("MFA_REQUIRED", "BLOCK");
        let medium = inputs("203.0.113.1", "phone");
        let j = judge(Some(&config), true, &medium, false);
        assert_eq!(j.verdict, Verdict::Mfa { required: true });
        assert_eq!(
            (j.risk.decision.as_str(), j.risk.level.as_str()),
            ("AccountTakeover", "Medium")
        );
        let audit = judge(Some(&config), false, &medium, false);
        assert_eq!(audit.verdict, Verdict::Allow);
        assert_eq!(audit.risk.level, "Medium");
        let fine = judge(
            Some(&config),
            true,
            &inputs("198.51.100.8", "laptop"),
            false,
        );
        assert_eq!(
            (fine.verdict, fine.risk.decision.as_str()),
            (Verdict::Allow, "NoRisk")
        );
    }

    #[test]
    fn a_sign_in_from_too_far_too_soon_is_impossible_travel() {
        let paris = (48.8566, 2.3522);
        let sydney = (-33.8688, 151.2093);
        let hour = 3_600_000;
        let travel = |from: (f64, f64), to: (f64, f64), hours: i64| {
            let mut inputs = inputs("198.51.100.8", "laptop");
            inputs.history.last_place = Some((from, 0));
            inputs.signals.place = Some(portcullis_geo::Place {
                location: Some(to),
                ..Default::default()
            });
            inputs.now_ms = hours * hour;
            score(&inputs)
        };
        assert_eq!(
            travel(paris, sydney, 2),
            (Some(Level::High), vec!["impossible-travel"])
        );
        // A day is enough to fly there.
        assert_eq!(travel(paris, sydney, 24), (None, vec![]));
        // Lyon is close enough to be the database's error.
        assert_eq!(travel(paris, (45.76, 4.84), 0), (None, vec![]));
    }

    #[test]
    fn custom_auth_sign_ins_follow_their_own_mode() {
        let settings = |mode: &str, custom: &str| UserPoolSettings {
            user_pool_add_ons: Some(portcullis_proto::events::v1::UserPoolAddOns {
                advanced_security_mode: mode.into(),
                custom_auth_mode: custom.into(),
            }),
            ..Default::default()
        };
        assert_eq!(mode_for(&settings("ENFORCED", ""), false), Some("ENFORCED"));
        assert_eq!(mode_for(&settings("ENFORCED", ""), true), None);
        assert_eq!(mode_for(&settings("OFF", "AUDIT"), true), Some("AUDIT"));
        assert_eq!(mode_for(&UserPoolSettings::default(), false), None);
    }

    #[test]
    fn ip_ranges_block_or_skip_whatever_the_score() {
        let config = configuration("NO_ACTION", "NO_ACTION");
        let blocked = judge(Some(&config), true, &inputs("192.0.2.5", "laptop"), false);
        assert_eq!(
            (blocked.verdict, blocked.risk.decision.as_str()),
            (Verdict::Block, "Block")
        );
        let skipped = judge(Some(&config), true, &inputs("10.1.2.3", "phone"), true);
        assert_eq!(
            (skipped.verdict, skipped.risk.level.as_str()),
            (Verdict::Allow, "")
        );
    }

    #[test]
    fn compromised_credentials_block_at_sign_in_when_configured() {
        let config = configuration("NO_ACTION", "NO_ACTION");
        let j = judge(Some(&config), true, &inputs("198.51.100.8", "laptop"), true);
        assert_eq!(j.verdict, Verdict::Block);
        assert!(j.risk.compromised_credentials_detected);
        let mut lenient = config.clone();
        lenient.compromised_credentials = Some(CompromisedCredentialsRisk {
            event_filter: vec!["SIGN_UP".into()],
            event_action: "BLOCK".into(),
        });
        let j = judge(
            Some(&lenient),
            true,
            &inputs("198.51.100.8", "laptop"),
            true,
        );
        assert_eq!(j.verdict, Verdict::Allow);
    }

    #[test]
    fn encoded_device_data_gives_the_device_and_time_zone() {
        let payload = serde_json::json!({
            "contextData": {"DeviceId": "dev-1", "ClientTimezone": "+01:00", "UserAgent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0"}
        });
        let outer = serde_json::json!({"payload": payload.to_string(), "signature": "x", "version": "JS20171115"});
        let encoded = base64::engine::general_purpose::STANDARD.encode(outer.to_string());
        let data = DeviceData::decode(&encoded);
        assert_eq!(data.device_id.as_deref(), Some("dev-1"));
        assert_eq!(data.timezone.as_deref(), Some("+01:00"));
        assert_eq!(
            device_name(data.user_agent.as_deref().unwrap()),
            "Firefox, Linux"
        );
        assert!(DeviceData::decode("not base64!").device_id.is_none());
    }
}
