use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::{get, post};

use super::*;

/// A server on 127.0.0.1 (a port of its own): `/doc`, `/big`, `/slow`, `/hop` (to
/// `/doc`), `/away` (to 127.0.0.2, the same port), `/form` (echoes the body).
async fn server() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let port = addr.port();
    let app = Router::new()
        .route(
            "/doc",
            get(|| async { ([(header::CONTENT_TYPE, "application/json")], "{}") }),
        )
        .route("/big", get(|| async { vec![b'x'; 4096] }))
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(2)).await;
                "late"
            }),
        )
        .route(
            "/hop",
            get(|| async { (StatusCode::FOUND, [(header::LOCATION, "/doc")]) }),
        )
        .route(
            "/away",
            get(move || async move {
                let location = format!("http://127.0.0.2:{port}/doc");
                let mut headers = HeaderMap::new();
                headers.insert(header::LOCATION, location.parse().unwrap());
                (StatusCode::FOUND, headers)
            }),
        )
        .route("/form", post(|body: String| async move { body }));
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

#[tokio::test]
async fn loopback_is_refused_unless_allowed() {
    let addr = server().await;
    let url = format!("http://127.0.0.1:{}/doc", addr.port());
    let refused = Fetcher::new(Policy::public_only())
        .fetch(&url, Body::Get, &[])
        .await;
    assert_eq!(refused, Err(FetchError::Forbidden("127.0.0.1".into())));
    let named = format!("http://localhost:{}/doc", addr.port());
    let refused = Fetcher::new(Policy::public_only())
        .fetch(&named, Body::Get, &[])
        .await;
    assert_eq!(refused, Err(FetchError::Forbidden("localhost".into())));

    let allowed = Fetcher::new(Policy::allowing("127.0.0.1/32").unwrap());
    let answer = allowed.fetch(&url, Body::Get, &[]).await.unwrap();
    assert_eq!(answer.status, 200);
    assert_eq!(answer.content_type.as_deref(), Some("application/json"));
    assert_eq!(answer.body, b"{}");
    let form = format!("http://127.0.0.1:{}/form", addr.port());
    let echoed = allowed
        .fetch(
            &form,
            Body::Form(&[("grant_type", "authorization_code")]),
            &[],
        )
        .await
        .unwrap();
    assert_eq!(echoed.body, b"grant_type=authorization_code");
}

#[tokio::test]
async fn every_redirect_is_checked_again() {
    let addr = server().await;
    let fetcher = Fetcher::new(Policy::allowing("127.0.0.1/32").unwrap());
    let hop = format!("http://127.0.0.1:{}/hop", addr.port());
    assert_eq!(
        fetcher.fetch(&hop, Body::Get, &[]).await.unwrap().body,
        b"{}"
    );
    let away = format!("http://127.0.0.1:{}/away", addr.port());
    assert_eq!(
        fetcher.fetch(&away, Body::Get, &[]).await,
        Err(FetchError::Forbidden("127.0.0.2".into()))
    );
}

#[tokio::test]
async fn answers_are_bounded_in_size_and_time() {
    let addr = server().await;
    let fetcher = Fetcher::new(Policy::allowing("127.0.0.0/8").unwrap())
        .with_bounds(Duration::from_millis(500), 1024);
    let big = format!("http://127.0.0.1:{}/big", addr.port());
    assert_eq!(
        fetcher.fetch(&big, Body::Get, &[]).await,
        Err(FetchError::TooLarge)
    );
    let slow = format!("http://127.0.0.1:{}/slow", addr.port());
    assert_eq!(
        fetcher.fetch(&slow, Body::Get, &[]).await,
        Err(FetchError::Timeout)
    );
    for bad in ["ftp://127.0.0.1/x", "not a url", "file:///etc/passwd"] {
        assert_eq!(
            fetcher.fetch(bad, Body::Get, &[]).await,
            Err(FetchError::InvalidUrl)
        );
    }
}
