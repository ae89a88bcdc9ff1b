//! Calling a user pool's triggers: the functions named by the ARNs of its `LambdaConfig`,
//! with the event payloads Cognito sends, so that trigger code written for Cognito runs
//! unchanged.
//!
//! A function is reached through one of three transports ([`Route`]), all carrying the
//! same JSON event and expecting it back with its `response` filled in:
//! - [`Route::Lambda`]: the AWS Lambda Invoke API (`RequestResponse`), SigV4-signed when
//!   credentials are configured — AWS itself, LocalStack, the runtime interface
//!   emulator, `cargo lambda watch`;
//! - [`Route::Webhook`]: an HTTPS `POST` signed as Standard Webhooks signs;
//! - [`Route::Nats`]: a NATS request on a subject per function.
//!
//! Every call is bounded by [`TIMEOUT`] (Cognito's 5 seconds). What can go wrong is a
//! [`Failure`], which [`Failure::api_error`] turns into the error Cognito answers for
//! that trigger.

pub mod encryption;
pub mod event;
mod kms;
mod lambda;
mod nats;
mod webhook;

use std::collections::HashMap;
use std::time::Duration;

use portcullis_errors::{ApiError, ErrorCode};
use portcullis_proto::events::v1::LambdaConfig;
use serde_json::Value;

pub use event::Event;

/// How long Cognito waits for a trigger.
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// The largest answer read from a function (Lambda's synchronous payload limit).
const MAX_ANSWER: usize = 6 * 1024 * 1024;

/// The triggers of a user pool, as Cognito names them in its error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Trigger {
    PreSignUp,
    PostConfirmation,
    PreAuthentication,
    PostAuthentication,
    PreTokenGeneration,
    UserMigration,
    CustomMessage,
    DefineAuthChallenge,
    CreateAuthChallenge,
    VerifyAuthChallengeResponse,
    CustomEmailSender,
    CustomSmsSender,
    InboundFederation,
}

impl Trigger {
    pub fn name(self) -> &'static str {
        match self {
            Self::PreSignUp => "PreSignUp",
            Self::PostConfirmation => "PostConfirmation",
            Self::PreAuthentication => "PreAuthentication",
            Self::PostAuthentication => "PostAuthentication",
            Self::PreTokenGeneration => "PreTokenGeneration",
            Self::UserMigration => "UserMigration",
            Self::CustomMessage => "CustomMessage",
            Self::DefineAuthChallenge => "DefineAuthChallenge",
            Self::CreateAuthChallenge => "CreateAuthChallenge",
            Self::VerifyAuthChallengeResponse => "VerifyAuthChallengeResponse",
            Self::CustomEmailSender => "CustomEmailSender",
            Self::CustomSmsSender => "CustomSMSSender",
            Self::InboundFederation => "InboundFederation",
        }
    }

    /// The pool's function for this trigger and the version of its event (`V1_0`, ...),
    /// if one is set. `PreTokenGenerationConfig` wins over the older
    /// `PreTokenGeneration` member, as in Cognito.
    pub fn function(self, config: &LambdaConfig) -> Option<(&str, Version)> {
        fn v1(arn: &str) -> Option<(&str, Version)> {
            Some((arn, Version::V1)).filter(|(arn, _)| !arn.is_empty())
        }
        fn versioned(
            config: &Option<portcullis_proto::events::v1::LambdaVersionConfig>,
        ) -> Option<(&str, Version)> {
            config
                .as_ref()
                .filter(|c| !c.lambda_arn.is_empty())
                .map(|c| (c.lambda_arn.as_str(), Version::parse(&c.lambda_version)))
        }
        match self {
            Self::PreSignUp => v1(&config.pre_sign_up),
            Self::PostConfirmation => v1(&config.post_confirmation),
            Self::PreAuthentication => v1(&config.pre_authentication),
            Self::PostAuthentication => v1(&config.post_authentication),
            Self::PreTokenGeneration => versioned(&config.pre_token_generation_config)
                .or_else(|| v1(&config.pre_token_generation)),
            Self::UserMigration => v1(&config.user_migration),
            Self::CustomMessage => v1(&config.custom_message),
            Self::DefineAuthChallenge => v1(&config.define_auth_challenge),
            Self::CreateAuthChallenge => v1(&config.create_auth_challenge),
            Self::VerifyAuthChallengeResponse => v1(&config.verify_auth_challenge_response),
            Self::CustomEmailSender => versioned(&config.custom_email_sender),
            Self::CustomSmsSender => versioned(&config.custom_sms_sender),
            Self::InboundFederation => versioned(&config.inbound_federation),
        }
    }
}

/// A trigger's event version (`LambdaVersion`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Version {
    V1,
    V2,
    V3,
}

impl Version {
    pub fn parse(version: &str) -> Self {
        match version {
            "V2_0" => Self::V2,
            "V3_0" => Self::V3,
            _ => Self::V1,
        }
    }

    /// The event's `version` member.
    pub fn event_version(self) -> &'static str {
        match self {
            Self::V1 => "1",
            Self::V2 => "2",
            Self::V3 => "3",
        }
    }
}

/// How one function is reached.
#[derive(Clone)]
pub enum Route {
    /// The Lambda Invoke API at `endpoint` (by default the region's AWS endpoint), with
    /// `function_name` in the path (by default the ARN).
    Lambda {
        endpoint: Option<String>,
        function_name: Option<String>,
    },
    /// A signed `POST` to `url`; `secret` is `whsec_<base64>`.
    Webhook { url: String, secret: String },
    /// A NATS request on `subject`.
    Nats { subject: String },
}

impl std::fmt::Debug for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Lambda {
                endpoint,
                function_name,
            } => f
                .debug_struct("Lambda")
                .field("endpoint", endpoint)
                .field("function_name", function_name)
                .finish(),
            Self::Webhook { url, .. } => f
                .debug_struct("Webhook")
                .field("url", url)
                .finish_non_exhaustive(),
            Self::Nats { subject } => f.debug_struct("Nats").field("subject", subject).finish(),
        }
    }
}

/// Credentials Lambda Invoke calls are signed with.
#[derive(Clone)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

/// Which transport the functions not listed on their own take.
#[derive(Debug, Clone)]
pub enum DefaultRoute {
    Lambda {
        endpoint: Option<String>,
    },
    Webhook {
        url: String,
        secret: String,
    },
    /// `<prefix>.<function name>[.<qualifier>]`.
    Nats {
        subject_prefix: String,
    },
}

pub struct Settings {
    pub default: DefaultRoute,
    /// Routes of single functions, by ARN.
    pub functions: HashMap<String, Route>,
    pub credentials: Option<Credentials>,
    /// The connection of the NATS transport, when a route uses it.
    pub nats: Option<async_nats::Client>,
    /// Bounds each call; [`TIMEOUT`] but in tests.
    pub timeout: Duration,
    /// What wraps the data keys of the codes handed to custom sender functions.
    pub code_keyring: Option<CodeKeyring>,
}

/// What wraps the data key of a code given to a custom sender function.
#[derive(Clone)]
pub enum CodeKeyring {
    /// A raw AES keyring: AES-256-GCM under `key`, provider ID `namespace`, key name the
    /// pool's `KMSKeyID`.
    RawAes { namespace: String, key: [u8; 32] },
    /// `GenerateDataKey` of a KMS-compatible service at `endpoint` (AWS's own regional
    /// endpoint included) for the pool's `KMSKeyID`, signed with the Lambda credentials.
    Kms { endpoint: String },
}

impl std::fmt::Debug for CodeKeyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::RawAes { namespace, .. } => f
                .debug_struct("RawAes")
                .field("namespace", namespace)
                .finish_non_exhaustive(),
            Self::Kms { endpoint } => f.debug_struct("Kms").field("endpoint", endpoint).finish(),
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            default: DefaultRoute::Lambda { endpoint: None },
            functions: HashMap::new(),
            credentials: None,
            nats: None,
            timeout: TIMEOUT,
            code_keyring: None,
        }
    }
}

/// Why a trigger gave no usable answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    /// The function ran and failed (threw, returned an error): its message.
    #[error("the function failed: {0}")]
    Function(String),
    /// No answer within the time allowed.
    #[error("the function did not answer in time")]
    Timeout,
    /// The call did not reach the function, or its service refused it: the error type
    /// (`ResourceNotFoundException`, `ConnectionRefused`, ...).
    #[error("the function could not be invoked: {0}")]
    Invocation(String),
    /// The answer is not an event.
    #[error("the function's answer is not an event")]
    Malformed,
}

impl Failure {
    /// The error Cognito answers when `trigger` fails so.
    pub fn api_error(&self, trigger: Trigger) -> ApiError {
        let name = trigger.name();
        match self {
            Self::Function(message) => ApiError::new(
                ErrorCode::UserLambdaValidationException,
                format!("{name} failed with error {message}."),
            ),
            Self::Timeout => ApiError::new(
                ErrorCode::UnexpectedLambdaException,
                format!(
                    "{name} invocation failed due to error Socket timeout while invoking Lambda function."
                ),
            ),
            Self::Invocation(kind) => ApiError::new(
                ErrorCode::UnexpectedLambdaException,
                format!("{name} invocation failed due to error {kind}."),
            ),
            Self::Malformed => invalid_response(),
        }
    }
}

/// `InvalidLambdaResponseException`, for an answer that is an event but not one the
/// trigger accepts.
pub fn invalid_response() -> ApiError {
    ApiError::new(
        ErrorCode::InvalidLambdaResponseException,
        "Unrecognizable lambda output",
    )
}

/// Calls functions by ARN.
pub struct Invoker {
    http: reqwest::Client,
    settings: Settings,
}

impl Invoker {
    pub fn new(settings: Settings) -> Result<Self, reqwest::Error> {
        // reqwest is built without a bundled crypto provider; use the ring provider
        // async-nats already brings. Failing means one is installed already: keep it.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self { http, settings })
    }

    /// Sends `event` to the function `arn` and answers the event it returns.
    pub async fn invoke(&self, arn: &str, event: &Value) -> Result<Value, Failure> {
        let function = FunctionArn::parse(arn).ok_or_else(|| {
            tracing::warn!(arn, "a trigger's ARN is not a Lambda function ARN");
            Failure::Invocation("ResourceNotFoundException".into())
        })?;
        let body = serde_json::to_vec(event).map_err(|_| Failure::Malformed)?;
        let route = self.route(&function);
        let call = async {
            match &route {
                Route::Lambda {
                    endpoint,
                    function_name,
                } => {
                    let endpoint = endpoint.clone().unwrap_or_else(|| {
                        format!("https://lambda.{}.amazonaws.com", function.region)
                    });
                    let name = function_name.as_deref().unwrap_or(arn);
                    let call = lambda::Call {
                        endpoint: &endpoint,
                        function_name: name,
                        region: function.region,
                        credentials: self.settings.credentials.as_ref(),
                    };
                    lambda::invoke(&self.http, &call, body).await
                }
                Route::Webhook { url, secret } => {
                    webhook::invoke(&self.http, url, secret, arn, body).await
                }
                Route::Nats { subject } => match &self.settings.nats {
                    Some(client) => nats::invoke(client, subject, arn, body).await,
                    None => Err(Failure::Invocation("NatsNotConfigured".into())),
                },
            }
        };
        let answer = tokio::time::timeout(self.settings.timeout, call)
            .await
            .map_err(|_| Failure::Timeout)??;
        match serde_json::from_slice::<Value>(&answer) {
            Ok(value @ Value::Object(_)) => Ok(value),
            _ => Err(Failure::Malformed),
        }
    }

    /// `code` encrypted for a custom sender function as an AWS Encryption SDK message,
    /// its data key wrapped for the pool's `KMSKeyID` `key_id`, bound to `context`.
    pub async fn encrypt_code(
        &self,
        key_id: &str,
        context: &encryption::Context,
        code: &str,
    ) -> Result<Vec<u8>, Failure> {
        let crypto = |_| Failure::Invocation("KMSInternalException".into());
        let data_key = match &self.settings.code_keyring {
            Some(CodeKeyring::RawAes { namespace, key }) => {
                encryption::raw_aes_data_key(key, namespace, key_id, context).map_err(crypto)?
            }
            Some(CodeKeyring::Kms { endpoint }) => {
                let call = kms::generate_data_key(
                    &self.http,
                    endpoint,
                    self.settings.credentials.as_ref(),
                    key_id,
                    context,
                );
                tokio::time::timeout(self.settings.timeout, call)
                    .await
                    .map_err(|_| Failure::Timeout)??
            }
            None => {
                tracing::warn!(
                    "a custom sender needs a code key: set lambda.code_key or lambda.kms_endpoint"
                );
                return Err(Failure::Invocation("KMSKeyNotConfigured".into()));
            }
        };
        encryption::encrypt(&data_key, context, code.as_bytes()).map_err(crypto)
    }

    fn route(&self, function: &FunctionArn<'_>) -> Route {
        if let Some(route) = self.settings.functions.get(function.arn) {
            return route.clone();
        }
        match &self.settings.default {
            DefaultRoute::Lambda { endpoint } => Route::Lambda {
                endpoint: endpoint.clone(),
                function_name: None,
            },
            DefaultRoute::Webhook { url, secret } => Route::Webhook {
                url: url.clone(),
                secret: secret.clone(),
            },
            DefaultRoute::Nats { subject_prefix } => {
                let mut subject = format!("{subject_prefix}.{}", function.name);
                if let Some(qualifier) = function.qualifier {
                    subject.push('.');
                    subject.push_str(qualifier);
                }
                Route::Nats { subject }
            }
        }
    }
}

/// `arn:<partition>:lambda:<region>:<account>:function:<name>[:<qualifier>]`.
#[derive(Debug, PartialEq, Eq)]
struct FunctionArn<'a> {
    arn: &'a str,
    region: &'a str,
    name: &'a str,
    qualifier: Option<&'a str>,
}

impl<'a> FunctionArn<'a> {
    fn parse(arn: &'a str) -> Option<Self> {
        let parts: Vec<&str> = arn.split(':').collect();
        let name_ok = |s: &str| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        };
        match parts.as_slice() {
            ["arn", _, "lambda", region, _, "function", name, rest @ ..]
                if !region.is_empty() && name_ok(name) && rest.len() <= 1 =>
            {
                let qualifier = rest.first().copied();
                if qualifier.is_some_and(|q| !(q == "$LATEST" || name_ok(q))) {
                    return None;
                }
                Some(Self {
                    arn,
                    region,
                    name,
                    qualifier,
                })
            }
            _ => None,
        }
    }
}

/// A JSON `POST` to an AWS API at `url` (`path` as sent), SigV4-signed for `service`
/// in `region` when `credentials` are set; `target` is its `X-Amz-Target`, if any.
struct AwsPost<'a> {
    url: &'a str,
    region: &'a str,
    service: &'a str,
    content_type: &'a str,
    target: &'a str,
    credentials: Option<&'a Credentials>,
}

impl AwsPost<'_> {
    fn request(
        &self,
        http: &reqwest::Client,
        body: &[u8],
    ) -> Result<reqwest::RequestBuilder, Failure> {
        let invalid = || Failure::Invocation("InvalidEndpoint".into());
        let url = reqwest::Url::parse(self.url).map_err(|_| invalid())?;
        let host = match (url.host_str(), url.port()) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            (Some(host), None) => host.to_owned(),
            (None, _) => return Err(invalid()),
        };
        let path = url.path().to_owned();
        let mut request = http.post(url).header("content-type", self.content_type);
        if !self.target.is_empty() {
            request = request.header("x-amz-target", self.target);
        }
        if let Some(credentials) = self.credentials {
            let signer = portcullis_sigv4::sign::Signer::new(
                &credentials.access_key_id,
                &credentials.secret_access_key,
                self.region,
                self.service,
            );
            let token = credentials.session_token.as_deref();
            let signature = signer.sign(
                &portcullis_sigv4::sign::Request {
                    host: &host,
                    content_type: self.content_type,
                    target: self.target,
                    body,
                    path: &path,
                    security_token: token,
                },
                time::OffsetDateTime::now_utc(),
            );
            request = request
                .header("x-amz-date", signature.amz_date)
                .header("authorization", signature.authorization);
            if let Some(token) = token {
                request = request.header("x-amz-security-token", token);
            }
        }
        Ok(request)
    }
}

/// Reads an answer body, refusing one larger than Lambda allows.
async fn read_capped(mut response: reqwest::Response) -> Result<Vec<u8>, Failure> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| transport_failure(&e))? {
        if body.len() + chunk.len() > MAX_ANSWER {
            return Err(Failure::Malformed);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// An HTTP failure, named without the URL (which may hold a secret).
fn transport_failure(err: &reqwest::Error) -> Failure {
    if err.is_timeout() {
        Failure::Timeout
    } else if err.is_connect() {
        Failure::Invocation("ConnectionRefused".into())
    } else {
        Failure::Invocation("TransportError".into())
    }
}

/// The message of a Lambda-style error object (`{"errorMessage": ..., "errorType": ...}`).
fn error_message(body: &[u8]) -> Option<String> {
    let value: Value = serde_json::from_slice(body).ok()?;
    let object = value.as_object()?;
    if object.contains_key("triggerSource") {
        return None;
    }
    object
        .get("errorMessage")
        .and_then(Value::as_str)
        .map(str::to_owned)
}

#[cfg(test)]
mod tests;
