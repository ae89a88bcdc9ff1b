//! A pre token generation function served as the Lambda Invoke API, to measure what a
//! trigger adds to the token paths: it answers at once (a claim added to both tokens,
//! V2), so what the run shows beside the same scenario without it is the server's own
//! cost of calling a function — the event built, the HTTP call, the answer read and
//! applied — plus this process's.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Context as _;
use axum::Json;
use axum::extract::State;
use axum::routing::post;
use serde_json::{Value, json};

/// The function's ARN as the pool names it.
pub const ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:loadtest-pre-token";

/// The pool's `LambdaConfig` that calls the function for every token.
#[must_use]
pub fn lambda_config() -> Value {
    json!({"PreTokenGenerationConfig": {"LambdaVersion": "V2_0", "LambdaArn": ARN}})
}

/// Serves the function on `addr` until the process ends; counts its calls.
pub async fn serve(addr: SocketAddr) -> anyhow::Result<Arc<AtomicU64>> {
    let calls = Arc::new(AtomicU64::new(0));
    let app = axum::Router::new()
        .route("/2015-03-31/functions/{name}/invocations", post(invoke))
        .with_state(Arc::clone(&calls));
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding the function's address {addr}"))?;
    tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, app).await {
            eprintln!("the pre token generation function stopped: {error}");
        }
    });
    Ok(calls)
}

async fn invoke(State(calls): State<Arc<AtomicU64>>, Json(mut event): Json<Value>) -> Json<Value> {
    calls.fetch_add(1, Ordering::Relaxed);
    let claims = json!({"claimsToAddOrOverride": {"tier": "gold"}});
    event["response"] = json!({
        "claimsAndScopeOverrideDetails": {
            "idTokenGeneration": claims,
            "accessTokenGeneration": claims,
        }
    });
    Json(event)
}
