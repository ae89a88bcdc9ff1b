//! The gateway: the HTTP edge, which keeps nothing of its own (only a cache that follows
//! the log, `config`). It speaks Cognito's JSON API (`POST /`), serves each pool's OIDC
//! documents, and answers `/health`; all work is done by the services it calls over
//! gRPC.

/// Every implemented operation of a JSON API and its handler, as `IMPLEMENTED` and
/// `run`; the model's other operations answer `UnsupportedOperationException`.
macro_rules! operations {
    ($state:ident, $call:ident; $($name:literal => $handler:expr),* $(,)?) => {
        pub const IMPLEMENTED: &[&str] = &[$($name),*];

        pub async fn run($state: &AppState, operation: &str, $call: Call) -> Result<Value, ApiError> {
            match operation {
                $($name => $handler.await,)*
                other => Err(ApiError::new(
                    ErrorCode::UnsupportedOperationException,
                    format!("{other} is not implemented by this version of Portcullis."),
                )),
            }
        }
    };
}

pub mod authorize;
mod body_limit;
pub mod client_ip;
pub mod cognito;
pub mod config;
pub mod domains;
pub mod forwarded;
pub mod hosted;
pub mod identity;
pub mod query;
pub mod waf;

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use portcullis_errors::{ApiError, ErrorCode};
use portcullis_proto::authn::v1::AuthnLink;
use portcullis_proto::credentials::v1 as cred;
use portcullis_proto::credentials::v1::CredentialsLink;
use portcullis_proto::credentials::v1::IamLink;
use portcullis_proto::directory::v1 as dir;
use portcullis_proto::directory::v1::DirectoryLink;
use portcullis_proto::federation::v1::FederationLink;
use portcullis_proto::token::v1 as tok;
use portcullis_proto::token::v1::TokenLink;
use portcullis_runtime::GrpcChannel as Channel;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tracing::Instrument;

/// The largest user import file (Cognito's limit is 100 MB).
const MAX_IMPORT_FILE: usize = body_limit::IMPORT_FILE;
/// Pieces an import file is passed to the directory in: under gRPC's message limit and
/// the key/value stores' value limit.
const IMPORT_PIECE: usize = 512 * 1024;

pub struct Deps {
    /// The event log, which the cache of pools' configuration follows.
    pub log: std::sync::Arc<dyn portcullis_eventlog::EventLog>,
    pub directory: String,
    pub authn: String,
    pub token: String,
    pub credentials: String,
    pub federation: String,
    /// Admin credentials: access key id -> secret access key.
    pub admin_credentials: HashMap<String, String>,
    pub default_region: String,
    /// Base of every issuer URL and of the OIDC documents' links.
    pub public_base_url: String,
    /// The deployment's peer key, which every call to a service carries.
    pub peer: portcullis_runtime::PeerKey,
    /// Proxies whose `X-Forwarded-For` names the client (see `client_ip`).
    pub trusted_proxies: Vec<portcullis_types::cidr::Cidr>,
}

pub struct AppState {
    pub directory: DirectoryLink<Channel>,
    pub authn: AuthnLink<Channel>,
    pub token: TokenLink<Channel>,
    pub credentials: CredentialsLink<Channel>,
    pub iam: IamLink<Channel>,
    pub federation: FederationLink<Channel>,
    peers: Vec<(&'static str, Channel)>,
    admin_credentials: HashMap<String, String>,
    pub default_region: String,
    pub public_base_url: String,
    /// Pools' settings, app clients, domains, page customizations and the users that
    /// access tokens name (`config`), as the directory last answered.
    pub cache: portcullis_eventlog::cache::LogCache,
    /// Proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<portcullis_types::cidr::Cidr>,
}

impl AppState {
    pub fn admin_secret(&self, access_key_id: &str) -> Option<String> {
        self.admin_credentials.get(access_key_id).cloned()
    }
}

pub struct Application {
    listener: TcpListener,
    state: Arc<AppState>,
}

impl Application {
    pub async fn build(listener: TcpListener, deps: Deps) -> anyhow::Result<Self> {
        let directory = portcullis_runtime::channel(&deps.directory, &deps.peer)?;
        let authn = portcullis_runtime::channel(&deps.authn, &deps.peer)?;
        let token = portcullis_runtime::channel(&deps.token, &deps.peer)?;
        let credentials = portcullis_runtime::channel(&deps.credentials, &deps.peer)?;
        let federation = portcullis_runtime::channel(&deps.federation, &deps.peer)?;
        let state = AppState {
            directory: DirectoryLink::connect(directory.clone(), &deps.directory),
            authn: AuthnLink::connect(authn.clone(), &deps.authn),
            token: TokenLink::connect(token.clone(), &deps.token),
            credentials: CredentialsLink::connect(credentials.clone(), &deps.credentials),
            iam: IamLink::connect(credentials.clone(), &deps.credentials),
            federation: FederationLink::connect(federation.clone(), &deps.federation),
            peers: vec![
                ("directory", directory),
                ("authn-flow", authn),
                ("token", token),
                ("credentials-broker", credentials),
                ("federation", federation),
            ],
            admin_credentials: deps.admin_credentials,
            default_region: deps.default_region,
            public_base_url: deps.public_base_url.trim_end_matches('/').to_owned(),
            trusted_proxies: deps.trusted_proxies,
            cache: portcullis_eventlog::cache::LogCache::start(
                deps.log,
                portcullis_eventlog::cache::Watch {
                    scope_kinds: portcullis_types::POOL_CONFIGURATION_KINDS,
                    stream_kinds: portcullis_types::USER_KINDS,
                },
            )
            .await?,
        };
        Ok(Self {
            listener,
            state: Arc::new(state),
        })
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let app = router(self.state);
        tracing::info!(addr = %self.listener.local_addr()?, "http serving");
        axum::serve(
            self.listener,
            app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .await?;
        Ok(())
    }
}

pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/", post(api))
        .route("/health", get(health))
        .route("/authorize", post(authorize::authorize))
        .route("/risk/feedback", get(cognito::risk_ops::feedback_link))
        .route("/authorize/forward", axum::routing::any(authorize::forward))
        .route("/import/{pool_id}/{job_id}", put(upload_import_file))
        .route(
            "/uicustomization/{pool_id}/{client_id}/logo",
            get(cognito::ui_ops::logo),
        )
        .route("/identity/.well-known/jwks.json", get(identity_jwks))
        .route(
            "/identity/.well-known/openid-configuration",
            get(identity_openid_configuration),
        )
        .route("/{pool_id}/.well-known/jwks.json", get(jwks))
        .route(
            "/{pool_id}/.well-known/openid-configuration",
            get(openid_configuration),
        )
        .nest("/domain/{domain}", hosted::router())
        .merge(hosted::router())
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            waf::guard,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            body_limit::limit_body,
        ))
        .layer(axum::middleware::from_fn(cors))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            client_ip::attach,
        ))
        .with_state(state)
}

/// Whether a path is one a single-page app calls across origins: the token, userInfo
/// and revocation endpoints and the OIDC documents (never the pages or the admin API).
fn cross_origin_path(path: &str) -> bool {
    ["/oauth2/token", "/oauth2/userInfo", "/oauth2/revoke"]
        .iter()
        .any(|end| path.ends_with(end))
        || path.contains("/.well-known/")
}

/// CORS for [`cross_origin_path`]s: any origin, without credentials (these endpoints take
/// tokens and client credentials explicitly, never cookies), and their preflights.
async fn cors(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    if !cross_origin_path(request.uri().path()) {
        return next.run(request).await;
    }
    let any = HeaderValue::from_static("*");
    if request.method() == Method::OPTIONS {
        let mut response = StatusCode::NO_CONTENT.into_response();
        let headers = response.headers_mut();
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, any);
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, POST"),
        );
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("authorization, content-type"),
        );
        headers.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("600"),
        );
        return response;
    }
    let mut response = next.run(request).await;
    response
        .headers_mut()
        .insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, any);
    response
}

/// Whether a request's body is `application/x-www-form-urlencoded`.
pub(crate) fn is_form_request(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';').next().is_some_and(|t| {
                t.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            })
        })
}

fn new_request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A successful awsJson response.
pub fn json_response(value: &Value, request_id: &str) -> Response {
    let mut response = (StatusCode::OK, value.to_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-amz-json-1.1"),
    );
    insert_request_id(headers, request_id);
    response
}

/// Cognito's error shape: `{"__type", "message"}` with `x-amzn-ErrorType`.
pub fn error_response(err: &ApiError, request_id: &str) -> Response {
    let status = StatusCode::from_u16(err.code.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
    let body = json!({ "__type": err.code.type_name(), "message": err.message });
    let mut response = (status, body.to_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-amz-json-1.1"),
    );
    if let Ok(value) = HeaderValue::from_str(err.code.type_name()) {
        headers.insert("x-amzn-ErrorType", value);
    }
    insert_request_id(headers, request_id);
    response
}

fn insert_request_id(headers: &mut HeaderMap, request_id: &str) {
    if let Ok(value) = HeaderValue::from_str(request_id) {
        headers.insert("x-amzn-RequestId", value);
    }
}

async fn api(
    State(state): State<Arc<AppState>>,
    axum::Extension(client): axum::Extension<client_ip::ClientIp>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request_id = new_request_id();
    let request = cognito::HttpRequest {
        method: &method,
        uri: &uri,
        headers: &headers,
        body: &body,
        request_id: &request_id,
        client,
    };
    if !headers.contains_key("x-amz-target") && is_form_request(&headers) {
        return query::handle(state, &request).await;
    }
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let Some((prefix, operation)) = target.split_once('.') else {
        return error_response(
            &ApiError::new(ErrorCode::UnknownOperationException, ""),
            &request_id,
        );
    };
    let span = tracing::info_span!("api", operation, request_id = %request_id);
    match prefix {
        identity::TARGET_PREFIX => {
            identity::handle(state, operation, &request)
                .instrument(span)
                .await
        }
        cognito::TARGET_PREFIX => {
            cognito::handle(state, operation, &request)
                .instrument(span)
                .await
        }
        waf::TARGET_PREFIX => {
            waf::handle(state, operation, &request)
                .instrument(span)
                .await
        }
        _ => error_response(
            &ApiError::new(ErrorCode::UnknownOperationException, ""),
            &request_id,
        ),
    }
}

/// 200 once every service this gateway calls reports serving.
async fn health(State(state): State<Arc<AppState>>) -> Response {
    let mut down = Vec::new();
    for (name, channel) in &state.peers {
        let check = HealthClient::new(channel.clone())
            .check(HealthCheckRequest {
                service: String::new(),
            })
            .await;
        let serving = check.is_ok_and(|r| r.into_inner().status == ServingStatus::Serving as i32);
        if !serving {
            down.push(*name);
        }
    }
    if down.is_empty() {
        (StatusCode::OK, Json(json!({"status": "ok"}))).into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "unavailable", "down": down})),
        )
            .into_response()
    }
}

use axum::Json;

async fn existing_pool(state: &AppState, pool_id: String) -> Result<String, Response> {
    match config::pool(state, &pool_id).await {
        Ok(_) => Ok(pool_id),
        Err(err) => {
            let code = if matches!(
                err.code,
                ErrorCode::ResourceNotFoundException | ErrorCode::InvalidParameterException
            ) {
                StatusCode::NOT_FOUND
            } else {
                StatusCode::SERVICE_UNAVAILABLE
            };
            Err((code, Json(json!({"message": err.message}))).into_response())
        }
    }
}

async fn jwks(State(state): State<Arc<AppState>>, Path(pool_id): Path<String>) -> Response {
    let pool_id = match existing_pool(&state, pool_id).await {
        Ok(id) => id,
        Err(response) => return response,
    };
    match state
        .token
        .clone()
        .get_jwks(tok::GetJwksRequest { pool_id })
        .await
    {
        Ok(jwks) => {
            let mut response = jwks.into_inner().json.into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            response
        }
        Err(status) => {
            let err = ApiError::from(status);
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"message": err.message})),
            )
                .into_response()
        }
    }
}

fn json_document(text: String) -> Response {
    let mut response = text.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// The identity pools' signing keys, for relying parties of their OpenID tokens.
async fn identity_jwks(State(state): State<Arc<AppState>>) -> Response {
    match state
        .credentials
        .clone()
        .get_open_id_keys(cred::GetOpenIdKeysRequest {})
        .await
    {
        Ok(keys) => json_document(keys.into_inner().jwks),
        Err(status) => {
            let err = ApiError::from(status);
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"message": err.message})),
            )
                .into_response()
        }
    }
}

/// The discovery document of the identity pools' OpenID tokens (`aud` is the identity
/// pool id, `sub` the identity id).
async fn identity_openid_configuration(State(state): State<Arc<AppState>>) -> Response {
    let issuer = format!("{}/identity", state.public_base_url);
    let document = json!({
        "issuer": issuer,
        "jwks_uri": format!("{issuer}/.well-known/jwks.json"),
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["id_token"],
        "claims_supported": ["sub", "aud", "iss", "exp", "iat", "amr"],
    });
    json_document(document.to_string())
}

/// The discovery document: the pool's issuer and keys, and, when the pool has a domain,
/// the OAuth 2.0 endpoints served there.
async fn openid_configuration(
    State(state): State<Arc<AppState>>,
    Path(pool_id): Path<String>,
) -> Response {
    let pool_id = match existing_pool(&state, pool_id).await {
        Ok(id) => id,
        Err(response) => return response,
    };
    let issuer = format!("{}/{pool_id}", state.public_base_url);
    let mut document = json!({
        "issuer": issuer,
        "jwks_uri": format!("{issuer}/.well-known/jwks.json"),
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "token"],
        "scopes_supported": ["openid", "email", "phone", "profile"],
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "token_use", "cognito:username", "cognito:groups", "email", "email_verified", "phone_number", "phone_number_verified", "name", "given_name", "family_name", "preferred_username"],
    });
    match domains::base_of_pool(&state, &pool_id).await {
        Ok(Some(base)) => {
            let endpoints = json!({
                "authorization_endpoint": format!("{base}/oauth2/authorize"),
                "token_endpoint": format!("{base}/oauth2/token"),
                "userinfo_endpoint": format!("{base}/oauth2/userInfo"),
                "revocation_endpoint": format!("{base}/oauth2/revoke"),
                "introspection_endpoint": format!("{base}/oauth2/introspect"),
                "end_session_endpoint": format!("{base}/logout"),
                "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials", "implicit"],
                "response_modes_supported": ["query", "fragment"],
                "code_challenge_methods_supported": ["S256"],
                "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
                "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
                "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
                "authorization_response_iss_parameter_supported": true,
                "claims_parameter_supported": false,
                "request_parameter_supported": false,
                "request_uri_parameter_supported": false,
            });
            if let (Some(doc), Value::Object(more)) = (document.as_object_mut(), endpoints) {
                doc.extend(more);
            }
        }
        Ok(None) => {
            document["response_types_supported"] = json!([]);
        }
        Err(err) => {
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"message": err.message})),
            )
                .into_response();
        }
    }
    Json(document).into_response()
}

/// The pre-signed URL of a user import job, like S3's: no signature, but only with the
/// job's unguessable token and only while the job is Created. Answers 200 when stored.
///
/// The pool, job and token are checked before a byte of the body is read, and the body
/// is passed on in pieces as it arrives: no caller can make the gateway hold a file, and
/// only the job's holder can make it read one.
async fn upload_import_file(
    State(state): State<Arc<AppState>>,
    Path((pool_id, job_id)): Path<(String, String)>,
    axum::extract::Query(query): axum::extract::Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Response {
    let token = query.get("token").cloned().unwrap_or_default();
    if declared_length(&headers).is_some_and(|n| n > MAX_IMPORT_FILE as u64) {
        return too_large_upload();
    }
    let piece = |index: usize, data: Bytes, last: Option<u64>| dir::UploadUserImportChunkRequest {
        caller: None,
        pool_id: pool_id.clone(),
        job_id: job_id.clone(),
        token: token.clone(),
        upload_id: String::new(),
        index: u32::try_from(index).unwrap_or(u32::MAX),
        data: data.to_vec(),
        last: last.is_some(),
        size_bytes: last.unwrap_or(0),
        check: false,
    };
    let mut directory = state.directory.clone();
    let check = dir::UploadUserImportChunkRequest {
        check: true,
        ..piece(0, Bytes::new(), None)
    };
    if let Err(status) = directory.upload_user_import_chunk(check).await {
        return upload_error(&ApiError::from(status));
    }
    let upload_id = uuid::Uuid::new_v4().simple().to_string();
    let mut stream = body.into_data_stream();
    let mut pending = bytes::BytesMut::new();
    let mut total = 0u64;
    let mut index = 0usize;
    loop {
        let data = match futures::StreamExt::next(&mut stream).await {
            Some(Ok(data)) => data,
            Some(Err(_)) => return incomplete_upload(),
            None => break,
        };
        total += data.len() as u64;
        if total > MAX_IMPORT_FILE as u64 {
            return too_large_upload();
        }
        pending.extend_from_slice(&data);
        // A full piece is held back until more arrives, so the last piece is never empty.
        while pending.len() > IMPORT_PIECE {
            let data = pending.split_to(IMPORT_PIECE).freeze();
            let request = dir::UploadUserImportChunkRequest {
                upload_id: upload_id.clone(),
                ..piece(index, data, None)
            };
            if let Err(status) = directory.upload_user_import_chunk(request).await {
                return upload_error(&ApiError::from(status));
            }
            index += 1;
        }
    }
    let request = dir::UploadUserImportChunkRequest {
        upload_id,
        ..piece(index, pending.freeze(), Some(total))
    };
    match directory.upload_user_import_chunk(request).await {
        Ok(_) => StatusCode::OK.into_response(),
        Err(status) => upload_error(&ApiError::from(status)),
    }
}

/// The `Content-Length` a request declares, if any.
pub(crate) fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
}

/// An S3-style error document, as a pre-signed URL answers.
/// The message is escaped: it may repeat the job id from the URL, and a browser runs
/// script elements of an XML document.
fn s3_error(code: StatusCode, name: &str, message: &str) -> Response {
    let mut xml = query::xml::Xml::new();
    xml.open("Error")
        .text("Code", name)
        .text("Message", message)
        .close("Error");
    let xml = format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>{}", xml.finish());
    (code, [(header::CONTENT_TYPE, "application/xml")], xml).into_response()
}

fn too_large_upload() -> Response {
    s3_error(
        StatusCode::BAD_REQUEST,
        "EntityTooLarge",
        "Your proposed upload exceeds the maximum allowed size.",
    )
}

fn incomplete_upload() -> Response {
    s3_error(
        StatusCode::BAD_REQUEST,
        "IncompleteBody",
        "You did not provide the number of bytes specified by the Content-Length HTTP header.",
    )
}

fn upload_error(err: &ApiError) -> Response {
    let (code, name) = match err.code {
        ErrorCode::ResourceNotFoundException => (StatusCode::NOT_FOUND, "NoSuchKey"),
        ErrorCode::NotAuthorizedException | ErrorCode::InvalidParameterException => {
            (StatusCode::FORBIDDEN, "AccessDenied")
        }
        ErrorCode::ServiceUnavailableException => {
            (StatusCode::SERVICE_UNAVAILABLE, "ServiceUnavailable")
        }
        _ => (StatusCode::INTERNAL_SERVER_ERROR, "InternalError"),
    };
    s3_error(code, name, &err.message)
}
