#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

use super::*;

const ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:pre-sign-up";

/// What the stand-in function does with each call.
#[derive(Clone, Copy)]
enum Behaviour {
    /// Answers the event with `response.autoConfirmUser` set.
    Answer,
    /// Fails as a Lambda function that threw.
    Throw,
    /// Answers after longer than the invoker waits.
    Hang,
    /// Answers something that is not an event.
    Garbage,
    /// The Lambda API does not know the function.
    Missing,
}

#[derive(Clone)]
struct Function {
    behaviour: Behaviour,
    /// The last call's path and headers.
    seen: Arc<Mutex<Option<(String, HeaderMap)>>>,
}

async fn serve_function(
    State(function): State<Function>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    *function.seen.lock().unwrap() = Some((uri.path().to_owned(), headers));
    let mut event: Value = serde_json::from_slice(&body).unwrap();
    match function.behaviour {
        Behaviour::Answer => {
            event["response"]["autoConfirmUser"] = json!(true);
            axum::Json(event).into_response()
        }
        Behaviour::Throw => (
            [("x-amz-function-error", "Unhandled")],
            axum::Json(json!({"errorType": "Error", "errorMessage": "no sign-ups today"})),
        )
            .into_response(),
        Behaviour::Hang => {
            tokio::time::sleep(Duration::from_secs(5)).await;
            axum::Json(event).into_response()
        }
        Behaviour::Garbage => "[1, 2]".into_response(),
        Behaviour::Missing => (
            StatusCode::NOT_FOUND,
            [(
                "x-amzn-errortype",
                "ResourceNotFoundException:http://internal",
            )],
            "{}",
        )
            .into_response(),
    }
}

/// Serves `router` on a free loopback port; answers its base URL.
async fn spawn_server(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://{address}")
}

async fn stand_in(behaviour: Behaviour) -> (String, Function) {
    let function = Function {
        behaviour,
        seen: Arc::default(),
    };
    let router = Router::new()
        .route("/{*path}", post(serve_function))
        .with_state(function.clone());
    (spawn_server(router).await, function)
}

fn invoker(default: DefaultRoute, credentials: bool) -> Invoker {
    Invoker::new(Settings {
        default,
        credentials: credentials.then(|| Credentials {
            access_key_id: "AKIDTRIGGERS".into(),
            secret_access_key: "secret".into(),
            session_token: None,
        }),
        timeout: Duration::from_millis(500),
        ..Settings::default()
    })
    .unwrap()
}

fn sample_event() -> Value {
    Event {
        version: Version::V1,
        trigger_source: "PreSignUp_SignUp",
        pool_id: "us-east-1_abc",
        user_name: "kim",
        client_id: "client",
        sdk_version: "aws-sdk-unknown-unknown",
        request: json!({"userAttributes": {"email": "kim@example.com"}}),
        response: json!({"autoConfirmUser": false}),
    }
    .to_json()
}

#[tokio::test]
async fn the_invoke_api_is_called_signed_for_the_functions_region() {
    let (url, function) = stand_in(Behaviour::Answer).await;
    let invoker = invoker(
        DefaultRoute::Lambda {
            endpoint: Some(url),
        },
        true,
    );
    let answer = invoker.invoke(ARN, &sample_event()).await.unwrap();
    assert_eq!(answer["response"]["autoConfirmUser"], true);
    assert_eq!(answer["userName"], "kim");
    let (path, headers) = function.seen.lock().unwrap().clone().unwrap();
    assert_eq!(
        path,
        "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Apre-sign-up/invocations"
    );
    assert_eq!(headers["x-amz-invocation-type"], "RequestResponse");
    let authorization = headers["authorization"].to_str().unwrap();
    assert!(authorization.starts_with("AWS4-HMAC-SHA256 Credential=AKIDTRIGGERS/"));
    assert!(authorization.contains("/us-east-1/lambda/aws4_request"));
}

#[tokio::test]
async fn each_failure_becomes_the_error_cognito_answers() {
    let call = |behaviour| async move {
        let (url, _) = stand_in(behaviour).await;
        let invoker = invoker(
            DefaultRoute::Lambda {
                endpoint: Some(url),
            },
            false,
        );
        invoker.invoke(ARN, &sample_event()).await.unwrap_err()
    };
    let thrown = call(Behaviour::Throw).await;
    assert_eq!(thrown, Failure::Function("no sign-ups today".into()));
    let error = thrown.api_error(Trigger::PreSignUp);
    assert_eq!(error.code, ErrorCode::UserLambdaValidationException);
    assert_eq!(
        error.message,
        "PreSignUp failed with error no sign-ups today."
    );

    let hung = call(Behaviour::Hang).await;
    assert_eq!(hung, Failure::Timeout);
    let error = hung.api_error(Trigger::PostAuthentication);
    assert_eq!(error.code, ErrorCode::UnexpectedLambdaException);
    assert_eq!(
        error.message,
        "PostAuthentication invocation failed due to error Socket timeout while invoking Lambda function."
    );

    let garbage = call(Behaviour::Garbage).await;
    assert_eq!(garbage, Failure::Malformed);
    assert_eq!(
        garbage.api_error(Trigger::PreSignUp).code,
        ErrorCode::InvalidLambdaResponseException
    );

    let missing = call(Behaviour::Missing).await;
    assert_eq!(
        missing,
        Failure::Invocation("ResourceNotFoundException".into())
    );

    // Nothing listens: the connection is refused.
    let port = portcullis_testkit::free_port();
    let invoker = invoker(
        DefaultRoute::Lambda {
            endpoint: Some(format!("http://127.0.0.1:{port}")),
        },
        false,
    );
    let refused = invoker.invoke(ARN, &sample_event()).await.unwrap_err();
    assert_eq!(refused, Failure::Invocation("ConnectionRefused".into()));
    assert_eq!(
        refused.api_error(Trigger::PreSignUp).message,
        "PreSignUp invocation failed due to error ConnectionRefused."
    );

    let not_an_arn = invoker.invoke("pre-sign-up", &sample_event()).await;
    assert!(matches!(not_an_arn, Err(Failure::Invocation(_))));
}

#[tokio::test]
async fn a_webhook_gets_the_event_signed_and_its_error_is_the_functions() {
    let secret = "whsec_c2VjcmV0LWtleS1mb3ItdGVzdHM=";
    let (url, function) = stand_in(Behaviour::Answer).await;
    let invoker = invoker(
        DefaultRoute::Webhook {
            url: format!("{url}/hook"),
            secret: secret.into(),
        },
        false,
    );
    let event = sample_event();
    let answer = invoker.invoke(ARN, &event).await.unwrap();
    assert_eq!(answer["response"]["autoConfirmUser"], true);
    let (path, headers) = function.seen.lock().unwrap().clone().unwrap();
    assert_eq!(path, "/hook");
    assert_eq!(headers["portcullis-function-arn"], ARN);
    let header = |name: &str| headers[name].to_str().unwrap().to_owned();
    let expected = webhook::sign(
        secret,
        &header("webhook-id"),
        &header("webhook-timestamp"),
        &serde_json::to_vec(&event).unwrap(),
    );
    assert_eq!(Some(header("webhook-signature")), expected);

    let (url, _) = stand_in(Behaviour::Missing).await;
    let invoker = self::invoker(
        DefaultRoute::Webhook {
            url,
            secret: secret.into(),
        },
        false,
    );
    assert_eq!(
        invoker.invoke(ARN, &event).await.unwrap_err(),
        Failure::Invocation("HTTP404".into())
    );
}

#[tokio::test]
async fn a_function_behind_nats_answers_on_its_subject() {
    use futures::StreamExt;
    let server = portcullis_testkit::nats::NatsServer::start().await.unwrap();
    let client = async_nats::connect(&server.url).await.unwrap();
    let mut requests = client
        .subscribe("portcullis.triggers.pre-sign-up")
        .await
        .unwrap();
    let responder = client.clone();
    tokio::spawn(async move {
        while let Some(request) = requests.next().await {
            let mut event: Value = serde_json::from_slice(&request.payload).unwrap();
            let reply = request.reply.unwrap();
            let answer = if event["userName"] == "kim" {
                event["response"]["autoConfirmUser"] = json!(true);
                event
            } else {
                json!({"errorMessage": "unknown user", "errorType": "Error"})
            };
            let body = serde_json::to_vec(&answer).unwrap();
            responder.publish(reply, body.into()).await.unwrap();
        }
    });
    let invoker = Invoker::new(Settings {
        default: DefaultRoute::Nats {
            subject_prefix: "portcullis.triggers".into(),
        },
        nats: Some(client),
        timeout: Duration::from_secs(2),
        ..Settings::default()
    })
    .unwrap();
    let answer = invoker.invoke(ARN, &sample_event()).await.unwrap();
    assert_eq!(answer["response"]["autoConfirmUser"], true);
    let mut other = sample_event();
    other["userName"] = json!("lee");
    assert_eq!(
        invoker.invoke(ARN, &other).await.unwrap_err(),
        Failure::Function("unknown user".into())
    );
    let nobody = "arn:aws:lambda:us-east-1:123456789012:function:nobody";
    assert_eq!(
        invoker.invoke(nobody, &sample_event()).await.unwrap_err(),
        Failure::Invocation("NoResponders".into())
    );
}

#[test]
fn function_arns_are_parsed_with_their_qualifier() {
    let arn = FunctionArn::parse("arn:aws:lambda:eu-west-1:1:function:f:live").unwrap();
    assert_eq!(
        (arn.region, arn.name, arn.qualifier),
        ("eu-west-1", "f", Some("live"))
    );
    assert!(FunctionArn::parse("arn:aws:lambda:eu-west-1:1:function:f:$LATEST").is_some());
    for bad in [
        "arn:aws:sns:eu-west-1:1:function:f",
        "arn:aws:lambda:eu-west-1:1:function:",
        "arn:aws:lambda:eu-west-1:1:function:f.g",
        "arn:aws:lambda:eu-west-1:1:function:f:a:b",
    ] {
        assert_eq!(FunctionArn::parse(bad), None, "{bad}");
    }
}

#[test]
fn the_pools_function_and_version_are_found_per_trigger() {
    use portcullis_proto::events::v1::LambdaVersionConfig;
    let config = LambdaConfig {
        pre_token_generation: "arn:old".into(),
        pre_token_generation_config: Some(LambdaVersionConfig {
            lambda_version: "V2_0".into(),
            lambda_arn: "arn:new".into(),
        }),
        pre_sign_up: "arn:signup".into(),
        ..LambdaConfig::default()
    };
    assert_eq!(
        Trigger::PreTokenGeneration.function(&config),
        Some(("arn:new", Version::V2))
    );
    assert_eq!(
        Trigger::PreSignUp.function(&config),
        Some(("arn:signup", Version::V1))
    );
    assert_eq!(Trigger::PostConfirmation.function(&config), None);
    let legacy = LambdaConfig {
        pre_token_generation: "arn:old".into(),
        ..LambdaConfig::default()
    };
    assert_eq!(
        Trigger::PreTokenGeneration.function(&legacy),
        Some(("arn:old", Version::V1))
    );
}
