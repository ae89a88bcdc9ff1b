//! The authorization endpoint and the sign-in pages: `/oauth2/authorize`, `/login`,
//! `/mfa` (every challenge a sign-in can meet on the way) and `/logout`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use portcullis_errors::{ApiError, ErrorCode};
use portcullis_proto::authn::v1 as authn;
use serde::{Deserialize, Serialize};

use super::pages::{self, Customization};
use super::{
    AuthParams, CHALLENGE_COOKIE, CSRF_COOKIE, Hosted, SESSION_COOKIE, cookie, csrf_ok,
    page_response, random_token, redirect,
};
use crate::AppState;

/// Seconds a pending challenge's cookie lives (the session itself expires sooner or
/// later, as the client's AuthSessionValidity says).
const CHALLENGE_COOKIE_TTL: u64 = 15 * 60;
/// The browser session cookie lives as long as the session (authn-flow's
/// `BROWSER_SESSION_TTL`).
pub(super) const BROWSER_SESSION_SECONDS: u64 = 3_600;

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct AuthorizeQuery {
    #[serde(flatten)]
    params: AuthParams,
    prompt: String,
    max_age: Option<String>,
    idp_identifier: String,
    request: Option<String>,
    request_uri: Option<String>,
}

pub(super) fn authorize_request(
    hosted: &Hosted,
    params: &AuthParams,
    browser_session: String,
    prompt: String,
    max_age: i64,
) -> authn::AuthorizeRequest {
    authn::AuthorizeRequest {
        region: String::new(),
        correlation_id: uuid::Uuid::new_v4().to_string(),
        pool_id: hosted.pool_id.clone(),
        client_id: params.client_id.clone(),
        redirect_uri: params.redirect_uri.clone(),
        response_type: params.response_type.clone(),
        scope: params.scope.clone(),
        nonce: params.nonce.clone(),
        code_challenge: params.code_challenge.clone(),
        code_challenge_method: params.code_challenge_method.clone(),
        browser_session,
        prompt,
        max_age,
        identity_provider: params.identity_provider.clone(),
        response_mode: params.response_mode.clone(),
        request_object: false,
        request_uri: false,
        idp_response_url: format!("{}/oauth2/idpresponse", hosted.base),
        carried: params.query(),
    }
}

/// Appends `pairs` to a redirect URI, in its query or (implicit grant) its fragment.
pub(super) fn callback_url(redirect_uri: &str, fragment: bool, pairs: &[(&str, &str)]) -> String {
    let pairs: Vec<(&str, &str)> = pairs
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .copied()
        .collect();
    let encoded = serde_urlencoded::to_string(pairs).unwrap_or_default();
    if fragment {
        let base = redirect_uri.split('#').next().unwrap_or_default();
        format!("{base}#{encoded}")
    } else {
        let separator = if redirect_uri.contains('?') { '&' } else { '?' };
        format!("{redirect_uri}{separator}{encoded}")
    }
}

/// Whether errors go back in the redirect URI's fragment: for the implicit grant and
/// where the client asked for it.
pub(super) fn answers_in_fragment(params: &AuthParams) -> bool {
    params.response_type == "token" || params.response_mode == "fragment"
}

/// What authn-flow decided, as a response: an error page, a redirect back to the client
/// (an error or the grant), or the sign-in page.
pub(super) fn decision(
    hosted: &Hosted,
    params: &AuthParams,
    answer: authn::AuthorizeResponse,
    status: StatusCode,
) -> Option<Response> {
    if !answer.fatal.is_empty() {
        return Some(page_response(
            StatusCode::BAD_REQUEST,
            &pages::error_page(&Customization::default(), &answer.fatal),
        ));
    }
    let fragment = answers_in_fragment(params);
    if !answer.error.is_empty() {
        let url = callback_url(
            &params.redirect_uri,
            fragment,
            &[
                ("error", &answer.error),
                ("error_description", &answer.error_description),
                ("state", &params.state),
                ("iss", &hosted.issuer),
            ],
        );
        return Some(redirect(status, &url));
    }
    if !answer.federated_redirect.is_empty() {
        return Some(super::federated::to_provider(
            hosted,
            &answer.federated_redirect,
            status,
        ));
    }
    if answer.login_required {
        return None;
    }
    let url = if !answer.access_token.is_empty() {
        let expires_in = answer.expires_in.to_string();
        callback_url(
            &params.redirect_uri,
            true,
            &[
                ("id_token", &answer.id_token),
                ("access_token", &answer.access_token),
                ("expires_in", &expires_in),
                ("token_type", "Bearer"),
                ("state", &params.state),
                ("iss", &hosted.issuer),
            ],
        )
    } else {
        callback_url(
            &params.redirect_uri,
            answer.response_mode == "fragment",
            &[
                ("code", &answer.code),
                ("state", &params.state),
                ("iss", &hosted.issuer),
            ],
        )
    };
    Some(redirect(status, &url))
}

pub(super) fn unavailable(err: &ApiError) -> Response {
    tracing::warn!(code = err.code.type_name(), message = %err.message, "hosted UI call failed");
    page_response(
        StatusCode::SERVICE_UNAVAILABLE,
        &pages::error_page(
            &Customization::default(),
            "The service is unavailable. Please try again.",
        ),
    )
}

/// `GET /oauth2/authorize`: a silent grant when the browser has a session (unless
/// `prompt=login`, or it is older than `max_age`), else the sign-in page.
pub async fn authorize(
    State(state): State<Arc<AppState>>,
    hosted: Hosted,
    headers: HeaderMap,
    Query(query): Query<AuthorizeQuery>,
) -> Response {
    let max_age = match query.max_age.as_deref() {
        None | Some("") => -1,
        Some(text) => match text.parse::<i64>() {
            Ok(seconds) if seconds >= 0 => seconds,
            _ => -2,
        },
    };
    let mut params = query.params;
    if params.identity_provider.is_empty() && !query.idp_identifier.is_empty() {
        match super::federated::provider_of_identifier(&state, &hosted, &query.idp_identifier).await
        {
            Ok(name) => params.identity_provider = name,
            Err(response) => return response,
        }
    }
    let forced = query.prompt.split_whitespace().any(|p| p == "login");
    let session = if forced {
        String::new()
    } else {
        cookie(&headers, SESSION_COOKIE).unwrap_or_default()
    };
    let mut request = authorize_request(&hosted, &params, session, query.prompt, max_age);
    request.request_object = query.request.is_some();
    request.request_uri = query.request_uri.is_some();
    let answer = match state.authn.clone().authorize(request).await {
        Ok(answer) => answer.into_inner(),
        Err(status) => return unavailable(&status.into()),
    };
    if let Some(response) = decision(&hosted, &params, answer, StatusCode::FOUND) {
        return response;
    }
    redirect(StatusCode::FOUND, &hosted.url("/login", &params))
}

/// The CSRF token of a form page: the browser's, or a new one set with the page.
fn csrf_token(headers: &HeaderMap) -> (String, bool) {
    match cookie(headers, CSRF_COOKIE).filter(|t| t.len() >= 32) {
        Some(token) => (token, false),
        None => (random_token(), true),
    }
}

pub(super) fn form_page(
    hosted: &Hosted,
    headers: &HeaderMap,
    status: StatusCode,
    title: &str,
    custom: &Customization,
    build: impl FnOnce(&str) -> String,
) -> Response {
    let (csrf, new) = csrf_token(headers);
    let mut response = page_response(status, &pages::layout(title, custom, &build(&csrf)));
    if new {
        response.headers_mut().append(
            header::SET_COOKIE,
            hosted.set_cookie(CSRF_COOKIE, &csrf, 3_600),
        );
    }
    response
}

pub(super) async fn check_request(
    state: &AppState,
    hosted: &Hosted,
    params: &AuthParams,
    status: StatusCode,
) -> Result<Customization, Response> {
    let request = authorize_request(hosted, params, String::new(), String::new(), -1);
    let answer = match state.authn.clone().authorize(request).await {
        Ok(answer) => answer.into_inner(),
        Err(status) => return Err(unavailable(&status.into())),
    };
    if let Some(response) = decision(hosted, params, answer, status) {
        return Err(response);
    }
    Ok(crate::domains::customization(state, &hosted.pool_id, &params.client_id).await)
}

pub(super) fn login_form(
    hosted: &Hosted,
    custom: &Customization,
    params: &AuthParams,
    csrf: &str,
    username: &str,
    error: &str,
) -> String {
    login_form_with(hosted, custom, params, csrf, username, error, "")
}

fn login_form_with(
    hosted: &Hosted,
    custom: &Customization,
    params: &AuthParams,
    csrf: &str,
    username: &str,
    error: &str,
    notice: &str,
) -> String {
    let fields = format!(
        "{}\n{}",
        pages::input("username", "Username", "text", username, "username"),
        pages::input("password", "Password", "password", "", "current-password")
    );
    let mut footer = format!(
        r#"<p class="redirect-customizable"><a href="{}">Forgot your password?</a></p>"#,
        pages::escape(&hosted.url("/forgotPassword", params)),
    );
    if custom.self_sign_up {
        footer.push_str(&format!(
            r#"<p class="redirect-customizable">Need an account? <a href="{}">Sign up</a></p>"#,
            pages::escape(&hosted.url("/signup", params)),
        ));
    }
    let mut page = if custom.pool_sign_in {
        pages::Form {
            heading: "Sign in",
            intro: if notice.is_empty() {
                "Sign in with your username and password."
            } else {
                notice
            },
            action: &hosted.url("/login", params),
            error,
            hidden: pages::hidden_fields(&params.pairs(), csrf),
            fields,
            submit: "Sign in",
            footer,
        }
        .render()
    } else {
        format!("<h1>Sign in</h1>\n{}", pages::error_box(error))
    };
    page.push_str(&super::federated::provider_choices(hosted, custom, params));
    page
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct LoginQuery {
    #[serde(flatten)]
    params: AuthParams,
    /// What the previous page finished: `confirmed` or `reset` (fixed texts only).
    notice: String,
    /// The user the previous page was about, to fill in.
    username: String,
}

/// `GET /login`: the sign-in form, after checking the authorization request.
pub async fn login_page(
    State(state): State<Arc<AppState>>,
    hosted: Hosted,
    headers: HeaderMap,
    Query(query): Query<LoginQuery>,
) -> Response {
    let params = query.params;
    let custom = match check_request(&state, &hosted, &params, StatusCode::FOUND).await {
        Ok(custom) => custom,
        Err(response) => return response,
    };
    let notice = match query.notice.as_str() {
        "confirmed" => "Your account is confirmed. Sign in to continue.",
        "reset" => "Your password was changed. Sign in with the new one.",
        _ => "",
    };
    let hint = if query.username.is_empty() {
        params.login_hint.clone()
    } else {
        query.username.clone()
    };
    form_page(
        &hosted,
        &headers,
        StatusCode::OK,
        "Sign in",
        &custom,
        |csrf| login_form_with(&hosted, &custom, &params, csrf, &hint, "", notice),
    )
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct LoginForm {
    #[serde(flatten)]
    params: AuthParams,
    username: String,
    password: String,
    _csrf: String,
}

fn expired_form(hosted: &Hosted, params: &AuthParams) -> Response {
    // A missing or wrong CSRF token: nothing is done; the page is shown afresh.
    redirect(StatusCode::SEE_OTHER, &hosted.url("/login", params))
}

/// Words for the person at the page, for the errors a sign-in can meet.
pub(super) fn plain_words(err: &ApiError) -> String {
    match err.code {
        ErrorCode::UsernameExistsException => {
            "An account with this username already exists.".into()
        }
        ErrorCode::NotAuthorizedException if err.message.starts_with("SignUp is not permitted") => {
            "Sign-up is not available here.".into()
        }
        ErrorCode::NotAuthorizedException if err.message == "Password attempts exceeded" => {
            "Too many failed attempts. Wait a while, then try again.".into()
        }
        ErrorCode::NotAuthorizedException | ErrorCode::UserNotFoundException => {
            if err.message.contains("session") {
                "This sign-in took too long. Please start again.".into()
            } else if err.message == "User is disabled." {
                "This account is disabled.".into()
            } else {
                "Incorrect username or password.".into()
            }
        }
        ErrorCode::UserNotConfirmedException => {
            "This account is not confirmed yet. Confirm it with the code you were sent.".into()
        }
        ErrorCode::PasswordResetRequiredException => {
            "A password reset is required for this account.".into()
        }
        ErrorCode::CodeMismatchException => "That code is not correct. Try again.".into(),
        ErrorCode::ExpiredCodeException => "That code has expired.".into(),
        ErrorCode::InvalidPasswordException => err.message.clone(),
        ErrorCode::InvalidParameterException => err.message.clone(),
        _ => "Something went wrong. Please try again.".into(),
    }
}

/// The challenge a sign-in is waiting on, kept in a cookie between its pages.
#[derive(Serialize, Deserialize, Default)]
#[serde(default)]
struct Pending {
    name: String,
    user: String,
    session: String,
    /// MFA_SETUP: the authenticator key being set up, shown until it is verified.
    secret: String,
}

/// After a sign-in step: on to the client with a new browser session, to the next
/// challenge's page, or back to the form with the error.
async fn after_step(
    state: &AppState,
    hosted: &Hosted,
    params: &AuthParams,
    username: &str,
    result: Result<authn::InitiateAuthResponse, ApiError>,
) -> Result<Response, ApiError> {
    let answer = result?;
    if !answer.browser_session.is_empty() {
        let request = authorize_request(
            hosted,
            params,
            answer.browser_session.clone(),
            String::new(),
            -1,
        );
        let decided = state
            .authn
            .clone()
            .authorize(request)
            .await
            .map_err(ApiError::from)?
            .into_inner();
        let mut response = decision(hosted, params, decided, StatusCode::SEE_OTHER)
            .unwrap_or_else(|| redirect(StatusCode::SEE_OTHER, &hosted.url("/login", params)));
        let headers = response.headers_mut();
        headers.append(
            header::SET_COOKIE,
            hosted.set_cookie(
                SESSION_COOKIE,
                &answer.browser_session,
                BROWSER_SESSION_SECONDS,
            ),
        );
        headers.append(
            header::SET_COOKIE,
            hosted.set_cookie(CHALLENGE_COOKIE, "", 0),
        );
        return Ok(response);
    }
    let pending = Pending {
        name: answer.challenge_name,
        user: answer
            .challenge_parameters
            .get("USERNAME")
            .cloned()
            .unwrap_or_else(|| username.to_owned()),
        session: answer.session,
        secret: String::new(),
    };
    let mut response = redirect(StatusCode::SEE_OTHER, &hosted.url("/mfa", params));
    remember(hosted, &mut response, &pending);
    Ok(response)
}

/// Keeps the pending challenge in its cookie.
fn remember(hosted: &Hosted, response: &mut Response, pending: &Pending) {
    let value = serde_urlencoded::to_string(pending).unwrap_or_default();
    response.headers_mut().append(
        header::SET_COOKIE,
        hosted.set_cookie(CHALLENGE_COOKIE, &value, CHALLENGE_COOKIE_TTL),
    );
}

/// `POST /login`: checks the password (with the same lockout and user-existence
/// protection as the API), then continues as `after_step` says.
/// What a hosted sign-in tells threat protection: the browser and where it is.
fn hosted_context(headers: &HeaderMap, client: crate::client_ip::ClientIp) -> authn::CallerContext {
    authn::CallerContext {
        user_agent: headers
            .get(axum::http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned(),
        source_ip: client.text(),
        ..Default::default()
    }
}

pub async fn login(
    State(state): State<Arc<AppState>>,
    axum::Extension(client): axum::Extension<crate::client_ip::ClientIp>,
    hosted: Hosted,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let params = form.params;
    if !csrf_ok(&headers, &form._csrf) {
        return expired_form(&hosted, &params);
    }
    let custom = match check_request(&state, &hosted, &params, StatusCode::SEE_OTHER).await {
        Ok(custom) => custom,
        Err(response) => return response,
    };
    let request = authn::InitiateAuthRequest {
        caller_context: Some(hosted_context(&headers, client)),
        region: String::new(),
        auth_flow: "USER_PASSWORD_AUTH".into(),
        auth_parameters: HashMap::from([
            ("USERNAME".to_owned(), form.username.clone()),
            ("PASSWORD".to_owned(), form.password),
        ]),
        client_id: params.client_id.clone(),
        admin_pool_id: String::new(),
        correlation_id: uuid::Uuid::new_v4().to_string(),
        hosted: true,
    };
    let result = state
        .authn
        .clone()
        .initiate_auth(request)
        .await
        .map(tonic::Response::into_inner)
        .map_err(ApiError::from);
    match after_step(&state, &hosted, &params, &form.username, result).await {
        Ok(response) => response,
        Err(err) if err.code.http_status() >= 500 => unavailable(&err),
        Err(err) => form_page(
            &hosted,
            &headers,
            StatusCode::BAD_REQUEST,
            "Sign in",
            &custom,
            |csrf| {
                login_form(
                    &hosted,
                    &custom,
                    &params,
                    csrf,
                    &form.username,
                    &plain_words(&err),
                )
            },
        ),
    }
}

/// What a challenge's page asks for, and the answer's name in ChallengeResponses.
fn challenge_fields(pending: &Pending) -> Option<(&'static str, &'static str, String)> {
    let code = |label: &str, autocomplete: &str| {
        pages::input("code", label, "text", "", autocomplete)
            .replace("type=\"text\"", "type=\"text\" inputmode=\"numeric\"")
    };
    match pending.name.as_str() {
        "SMS_MFA" => Some((
            "Enter the code we texted you",
            "SMS_MFA_CODE",
            code("Code", "one-time-code"),
        )),
        "EMAIL_OTP" => Some((
            "Enter the code we emailed you",
            "EMAIL_OTP_CODE",
            code("Code", "one-time-code"),
        )),
        "SOFTWARE_TOKEN_MFA" => Some((
            "Enter the code from your authenticator app",
            "SOFTWARE_TOKEN_MFA_CODE",
            code("Code", "one-time-code"),
        )),
        "NEW_PASSWORD_REQUIRED" => Some((
            "Choose a new password",
            "NEW_PASSWORD",
            pages::input("code", "New password", "password", "", "new-password"),
        )),
        "MFA_SETUP" => Some((
            "Set up an authenticator app",
            "",
            code("Code from the app", "one-time-code"),
        )),
        "SELECT_MFA_TYPE" => Some((
            "Choose how to verify it's you",
            "ANSWER",
            r#"<fieldset><legend class="label-customizable">Verification method</legend>
<label class="choice"><input type="radio" name="code" value="SOFTWARE_TOKEN_MFA" checked> Authenticator app</label>
<label class="choice"><input type="radio" name="code" value="SMS_MFA"> Text message</label>
<label class="choice"><input type="radio" name="code" value="EMAIL_OTP"> Email</label>
</fieldset>"#
                .to_owned(),
        )),
        _ => None,
    }
}

fn pending_challenge(headers: &HeaderMap) -> Option<Pending> {
    cookie(headers, CHALLENGE_COOKIE)
        .and_then(|raw| serde_urlencoded::from_str::<Pending>(&raw).ok())
        .filter(|p| !p.session.is_empty())
}

fn challenge_form(
    hosted: &Hosted,
    params: &AuthParams,
    pending: &Pending,
    csrf: &str,
    error: &str,
) -> String {
    let Some((heading, _, mut fields)) = challenge_fields(pending) else {
        return String::new();
    };
    let mut intro = "";
    if pending.name == "MFA_SETUP" {
        intro = "Multi-factor authentication is required. Add this key to an authenticator app, then enter the code the app shows.";
        let grouped: Vec<String> = pending
            .secret
            .as_bytes()
            .chunks(4)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect();
        let uri = format!(
            "otpauth://totp/{}?secret={}&issuer=Portcullis",
            urlencode_component(&pending.user),
            pending.secret
        );
        fields = format!(
            r#"<p class="label-customizable">Key</p><p class="secret" id="secret"><code>{}</code></p><p class="redirect-customizable"><a href="{}">Open in an authenticator app</a></p>{fields}"#,
            pages::escape(&grouped.join(" ")),
            pages::escape(&uri),
        );
    }
    pages::Form {
        heading,
        intro,
        action: &hosted.url("/mfa", params),
        error,
        hidden: pages::hidden_fields(&params.pairs(), csrf),
        fields,
        submit: "Continue",
        footer: format!(
            r#"<p class="redirect-customizable"><a href="{}">Start again</a></p>"#,
            pages::escape(&hosted.url("/login", params))
        ),
    }
    .render()
}

/// `GET /mfa`: the page of the challenge the sign-in is waiting on.
pub async fn challenge_page(
    State(state): State<Arc<AppState>>,
    hosted: Hosted,
    headers: HeaderMap,
    Query(params): Query<AuthParams>,
) -> Response {
    let custom = match check_request(&state, &hosted, &params, StatusCode::FOUND).await {
        Ok(custom) => custom,
        Err(response) => return response,
    };
    let Some(pending) = pending_challenge(&headers) else {
        return redirect(StatusCode::FOUND, &hosted.url("/login", &params));
    };
    if challenge_fields(&pending).is_none() {
        return unsupported_challenge(&custom, &pending);
    }
    let mut pending = pending;
    let mut fresh = false;
    if pending.name == "MFA_SETUP" && pending.secret.is_empty() {
        // A new authenticator key for this setup; the session moves on with it.
        let request = authn::AssociateSoftwareTokenRequest {
            session: pending.session.clone(),
            correlation_id: uuid::Uuid::new_v4().to_string(),
            ..Default::default()
        };
        match state.authn.clone().associate_software_token(request).await {
            Ok(answer) => {
                let answer = answer.into_inner();
                pending.session = answer.session;
                pending.secret = answer.secret_code;
                fresh = true;
            }
            Err(status) => {
                let err = ApiError::from(status);
                if err.code.http_status() >= 500 {
                    return unavailable(&err);
                }
                return restart(&hosted, &headers, &custom, &params, &pending.user, &err);
            }
        }
    }
    let mut response = form_page(
        &hosted,
        &headers,
        StatusCode::OK,
        "Verify",
        &custom,
        |csrf| challenge_form(&hosted, &params, &pending, csrf, ""),
    );
    if fresh {
        remember(&hosted, &mut response, &pending);
    }
    response
}

/// The sign-in form again, with the error, when a challenge's session is gone.
fn restart(
    hosted: &Hosted,
    headers: &HeaderMap,
    custom: &Customization,
    params: &AuthParams,
    username: &str,
    err: &ApiError,
) -> Response {
    let mut response = form_page(
        hosted,
        headers,
        StatusCode::BAD_REQUEST,
        "Sign in",
        custom,
        |csrf| login_form(hosted, custom, params, csrf, username, &plain_words(err)),
    );
    response.headers_mut().append(
        header::SET_COOKIE,
        hosted.set_cookie(CHALLENGE_COOKIE, "", 0),
    );
    response
}

fn urlencode_component(text: &str) -> String {
    serde_urlencoded::to_string([("v", text)])
        .unwrap_or_default()
        .trim_start_matches("v=")
        .replace('+', "%20")
}

fn unsupported_challenge(custom: &Customization, pending: &Pending) -> Response {
    tracing::debug!(challenge = %pending.name, "a challenge the hosted pages cannot show");
    let message = "This sign-in needs a step this page cannot do. Sign in from the application.";
    page_response(StatusCode::OK, &pages::error_page(custom, message))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ChallengeForm {
    #[serde(flatten)]
    params: AuthParams,
    code: String,
    _csrf: String,
}

/// `POST /mfa`: answers the pending challenge.
pub async fn answer_challenge(
    State(state): State<Arc<AppState>>,
    axum::Extension(client): axum::Extension<crate::client_ip::ClientIp>,
    hosted: Hosted,
    headers: HeaderMap,
    Form(form): Form<ChallengeForm>,
) -> Response {
    let params = form.params;
    if !csrf_ok(&headers, &form._csrf) {
        return redirect(StatusCode::SEE_OTHER, &hosted.url("/mfa", &params));
    }
    let custom = match check_request(&state, &hosted, &params, StatusCode::SEE_OTHER).await {
        Ok(custom) => custom,
        Err(response) => return response,
    };
    let Some(pending) = pending_challenge(&headers) else {
        return redirect(StatusCode::SEE_OTHER, &hosted.url("/login", &params));
    };
    let Some((_, answer_name, _)) = challenge_fields(&pending) else {
        return unsupported_challenge(&custom, &pending);
    };
    let mut pending = pending;
    let mut responses = HashMap::from([("USERNAME".to_owned(), pending.user.clone())]);
    if pending.name == "MFA_SETUP" {
        // The code proves the new authenticator; then the challenge is answered.
        let request = authn::VerifySoftwareTokenRequest {
            session: pending.session.clone(),
            user_code: form.code.clone(),
            correlation_id: uuid::Uuid::new_v4().to_string(),
            ..Default::default()
        };
        match state.authn.clone().verify_software_token(request).await {
            Ok(answer) => pending.session = answer.into_inner().session,
            Err(status) => {
                let err = ApiError::from(status);
                if err.code.http_status() >= 500 {
                    return unavailable(&err);
                }
                if err.message.contains("session") {
                    return restart(&hosted, &headers, &custom, &params, &pending.user, &err);
                }
                let err = ApiError::new(ErrorCode::CodeMismatchException, err.message);
                return form_page(
                    &hosted,
                    &headers,
                    StatusCode::BAD_REQUEST,
                    "Verify",
                    &custom,
                    |csrf| challenge_form(&hosted, &params, &pending, csrf, &plain_words(&err)),
                );
            }
        }
    } else {
        responses.insert(answer_name.to_owned(), form.code);
    }
    let request = authn::RespondToAuthChallengeRequest {
        caller_context: Some(hosted_context(&headers, client)),
        region: String::new(),
        client_id: params.client_id.clone(),
        challenge_name: pending.name.clone(),
        session: pending.session.clone(),
        challenge_responses: responses,
        admin_pool_id: String::new(),
        correlation_id: uuid::Uuid::new_v4().to_string(),
        hosted: true,
    };
    let result = state
        .authn
        .clone()
        .respond_to_auth_challenge(request)
        .await
        .map(tonic::Response::into_inner)
        .map_err(ApiError::from);
    match after_step(&state, &hosted, &params, &pending.user, result).await {
        Ok(response) => response,
        Err(err) if err.code.http_status() >= 500 => unavailable(&err),
        // The session was spent or expired: back to the start.
        Err(err) if err.message.contains("session") => {
            restart(&hosted, &headers, &custom, &params, &pending.user, &err)
        }
        Err(err) => form_page(
            &hosted,
            &headers,
            StatusCode::BAD_REQUEST,
            "Verify",
            &custom,
            |csrf| challenge_form(&hosted, &params, &pending, csrf, &plain_words(&err)),
        ),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct LogoutQuery {
    #[serde(flatten)]
    params: AuthParams,
    logout_uri: String,
}

/// `GET /logout`: ends the browser session, then either returns to one of the client's
/// sign-out URLs (`logout_uri`) or shows the sign-in page for a new authorization
/// request (`redirect_uri` + `response_type`). Nothing is redirected for a client or URL
/// that does not match exactly.
pub async fn logout(
    State(state): State<Arc<AppState>>,
    hosted: Hosted,
    headers: HeaderMap,
    Query(query): Query<LogoutQuery>,
) -> Response {
    let custom = Customization::default();
    let client = match crate::config::client(&state, &hosted.pool_id, &query.params.client_id).await
    {
        Ok(client) => client,
        Err(err) => {
            if err.code.http_status() >= 500 {
                return unavailable(&err);
            }
            return page_response(
                StatusCode::BAD_REQUEST,
                &pages::error_page(&custom, "invalid_request: the client does not exist."),
            );
        }
    };
    let settings = client.settings.unwrap_or_default();
    let location = if !query.logout_uri.is_empty() {
        if !settings.logout_urls.contains(&query.logout_uri) {
            return page_response(
                StatusCode::BAD_REQUEST,
                &pages::error_page(
                    &custom,
                    "invalid_request: the sign-out URL is not registered for this client.",
                ),
            );
        }
        query.logout_uri.clone()
    } else if !query.params.redirect_uri.is_empty() {
        match check_request(&state, &hosted, &query.params, StatusCode::FOUND).await {
            Ok(_) => hosted.url("/login", &query.params),
            Err(response) => return response,
        }
    } else {
        return page_response(
            StatusCode::BAD_REQUEST,
            &pages::error_page(
                &custom,
                "invalid_request: logout_uri or redirect_uri is required.",
            ),
        );
    };
    let mut location = location;
    if let Some(session) = cookie(&headers, SESSION_COOKIE) {
        let request = authn::EndBrowserSessionRequest {
            browser_session: session,
            ..Default::default()
        };
        let ended = match state.authn.clone().end_browser_session(request).await {
            Ok(ended) => ended.into_inner(),
            Err(status) => return unavailable(&status.into()),
        };
        // A SAML provider with IDPSignout signs the user out too, and sends the browser
        // back to /saml2/logout, which goes on to `location`.
        if !ended.provider.is_empty() && !ended.name_id.is_empty() {
            match super::federated::provider_logout(&state, &hosted, &ended, &location).await {
                Ok(Some(url)) => location = url,
                Ok(None) => {}
                Err(response) => return response,
            }
        }
    }
    let mut response = redirect(StatusCode::FOUND, &location);
    response
        .headers_mut()
        .append(header::SET_COOKIE, hosted.set_cookie(SESSION_COOKIE, "", 0));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callback_parameters_join_an_existing_query_or_replace_a_fragment() {
        assert_eq!(
            callback_url(
                "https://a.example/cb",
                false,
                &[("code", "c"), ("state", "")]
            ),
            "https://a.example/cb?code=c"
        );
        assert_eq!(
            callback_url("https://a.example/cb?x=1", false, &[("code", "c d")]),
            "https://a.example/cb?x=1&code=c+d"
        );
        assert_eq!(
            callback_url("https://a.example/cb#old", true, &[("access_token", "t")]),
            "https://a.example/cb#access_token=t"
        );
    }
}
