//! The self-service pages: `/signup`, `/confirmUser` (and `/resendCode`),
//! `/forgotPassword` and `/confirmForgotPassword`. Each checks the authorization request
//! first, so a page is only ever shown for a real client and redirect URI, and each POST
//! is CSRF-checked and answered with 303 or the same form with the error in plain words.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use portcullis_errors::ApiError;
use portcullis_proto::authn::v1 as authn;
use portcullis_proto::events::v1::{Attribute, UserPoolSettings};
use serde::Deserialize;

use super::pages::{self, Customization};
use super::signin::{check_request, form_page, plain_words, unavailable};
use super::{AuthParams, Hosted, csrf_ok, redirect};
use crate::AppState;

/// Labels of the standard attributes a sign-up form may ask for.
fn label_of(attribute: &str) -> String {
    match attribute {
        "email" => "Email".into(),
        "phone_number" => "Phone number".into(),
        "given_name" => "Given name".into(),
        "family_name" => "Family name".into(),
        "name" => "Name".into(),
        "preferred_username" => "Preferred username".into(),
        "birthdate" => "Birthdate".into(),
        other => other.trim_start_matches("custom:").replace('_', " "),
    }
}

fn input_type(attribute: &str) -> &'static str {
    match attribute {
        "email" => "email",
        "phone_number" => "tel",
        _ => "text",
    }
}

/// What a sign-up form asks for: a user name (unless the pool signs in with email or
/// phone number), each required attribute, the email when the pool verifies it, and a
/// password.
fn signup_attributes(pool: &UserPoolSettings) -> (bool, Vec<String>) {
    let ask_username = pool.username_attributes.is_empty();
    let mut attributes: Vec<String> = pool.username_attributes.clone();
    let required = pool
        .schema
        .iter()
        .filter(|a| a.required && !a.developer_only_attribute)
        .map(|a| a.name.clone());
    let verified = pool.auto_verified_attributes.iter().cloned();
    for name in required.chain(verified) {
        if !attributes.contains(&name) {
            attributes.push(name);
        }
    }
    (ask_username, attributes)
}

async fn pool_settings(state: &AppState, pool_id: &str) -> Result<UserPoolSettings, ApiError> {
    Ok(crate::config::pool(state, pool_id)
        .await?
        .settings
        .unwrap_or_default())
}

fn with_user(hosted: &Hosted, path: &str, params: &AuthParams, extra: &[(&str, &str)]) -> String {
    let url = hosted.url(path, params);
    let extra = serde_urlencoded::to_string(extra).unwrap_or_default();
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}{extra}")
}

struct Page<'a> {
    hosted: &'a Hosted,
    params: &'a AuthParams,
    custom: Customization,
}

impl Page<'_> {
    fn show(
        &self,
        headers: &HeaderMap,
        status: StatusCode,
        title: &str,
        form: impl FnOnce(&str) -> String,
    ) -> Response {
        form_page(self.hosted, headers, status, title, &self.custom, form)
    }

    /// The form again with a service's refusal in plain words (an error page when the
    /// service is unavailable).
    fn refused(
        &self,
        headers: &HeaderMap,
        title: &str,
        status: tonic::Status,
        form: impl FnOnce(&str, &str) -> String,
    ) -> Response {
        let err = ApiError::from(status);
        if err.code.http_status() >= 500 {
            return unavailable(&err);
        }
        let message = plain_words(&err);
        self.show(headers, StatusCode::BAD_REQUEST, title, |csrf| {
            form(csrf, &message)
        })
    }

    fn back_to_sign_in(&self) -> String {
        format!(
            r#"<p class="redirect-customizable"><a href="{}">Back to sign in</a></p>"#,
            pages::escape(&self.hosted.url("/login", self.params))
        )
    }
}

async fn page<'a>(
    state: &AppState,
    hosted: &'a Hosted,
    params: &'a AuthParams,
    status: StatusCode,
) -> Result<Page<'a>, Response> {
    let custom = check_request(state, hosted, params, status).await?;
    Ok(Page {
        hosted,
        params,
        custom,
    })
}

/// The page a posted form belongs to, after its CSRF check; a failed check sends the
/// browser back to `back()` (303), where the form is shown again.
async fn posted_page<'a>(
    state: &AppState,
    hosted: &'a Hosted,
    headers: &HeaderMap,
    params: &'a AuthParams,
    csrf: &str,
    back: impl FnOnce() -> String,
) -> Result<Page<'a>, Response> {
    if !csrf_ok(headers, csrf) {
        return Err(redirect(StatusCode::SEE_OTHER, &back()));
    }
    page(state, hosted, params, StatusCode::SEE_OTHER).await
}

fn signup_form(
    page: &Page<'_>,
    pool: &UserPoolSettings,
    values: &HashMap<String, String>,
    csrf: &str,
    error: &str,
) -> String {
    let (ask_username, attributes) = signup_attributes(pool);
    let value = |name: &str| values.get(name).map_or("", String::as_str);
    let mut fields = String::new();
    if ask_username {
        fields.push_str(&pages::input(
            "username",
            "Username",
            "text",
            value("username"),
            "username",
        ));
    }
    for name in &attributes {
        fields.push_str(&pages::input(
            name,
            &label_of(name),
            input_type(name),
            value(name),
            name.as_str(),
        ));
    }
    fields.push_str(&pages::input(
        "password",
        "Password",
        "password",
        "",
        "new-password",
    ));
    pages::Form {
        heading: "Sign up",
        intro: "Create an account.",
        action: &page.hosted.url("/signup", page.params),
        error,
        hidden: pages::hidden_fields(&page.params.pairs(), csrf),
        fields,
        submit: "Sign up",
        footer: format!(
            r#"<p class="redirect-customizable">Already have an account? <a href="{}">Sign in</a></p>"#,
            pages::escape(&page.hosted.url("/login", page.params))
        ),
    }
    .render()
}

/// `GET /signup`.
pub async fn signup_page(
    State(state): State<Arc<AppState>>,
    hosted: Hosted,
    headers: HeaderMap,
    Query(params): Query<AuthParams>,
) -> Response {
    let page = match page(&state, &hosted, &params, StatusCode::FOUND).await {
        Ok(page) => page,
        Err(response) => return response,
    };
    let pool = match pool_settings(&state, &hosted.pool_id).await {
        Ok(pool) => pool,
        Err(err) => return unavailable(&err),
    };
    page.show(&headers, StatusCode::OK, "Sign up", |csrf| {
        signup_form(&page, &pool, &HashMap::new(), csrf, "")
    })
}

/// The authorization request and the rest of a posted form.
fn split_form(fields: Vec<(String, String)>) -> (AuthParams, HashMap<String, String>) {
    let params: AuthParams =
        serde_urlencoded::from_str(&serde_urlencoded::to_string(&fields).unwrap_or_default())
            .unwrap_or_default();
    (params, fields.into_iter().collect())
}

/// `POST /signup`: signs the user up, then asks for the confirmation code (or, for a
/// user confirmed already, shows the sign-in form).
pub async fn signup(
    State(state): State<Arc<AppState>>,
    hosted: Hosted,
    headers: HeaderMap,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    let (params, values) = split_form(fields);
    let field = |name: &str| values.get(name).cloned().unwrap_or_default();
    let back = || hosted.url("/signup", &params);
    let page = match posted_page(&state, &hosted, &headers, &params, &field("_csrf"), back).await {
        Ok(page) => page,
        Err(response) => return response,
    };
    let pool = match pool_settings(&state, &hosted.pool_id).await {
        Ok(pool) => pool,
        Err(err) => return unavailable(&err),
    };
    let (ask_username, attributes) = signup_attributes(&pool);
    let username = if ask_username {
        field("username")
    } else {
        pool.username_attributes
            .iter()
            .map(|name| field(name))
            .find(|v| !v.is_empty())
            .unwrap_or_default()
    };
    let user_attributes = attributes
        .iter()
        .filter(|name| !field(name).is_empty())
        .map(|name| Attribute {
            name: name.clone(),
            value: field(name),
        })
        .collect();
    let request = authn::SignUpRequest {
        caller_context: None,
        validation_data: Vec::new(),
        region: String::new(),
        client_id: params.client_id.clone(),
        secret_hash: String::new(),
        username: username.clone(),
        password: field("password"),
        user_attributes,
        correlation_id: uuid::Uuid::new_v4().to_string(),
        hosted: true,
    };
    match state.authn.clone().sign_up(request).await {
        Ok(answer) if answer.get_ref().user_confirmed => redirect(
            StatusCode::SEE_OTHER,
            &with_user(&hosted, "/login", &params, &[("notice", "confirmed")]),
        ),
        Ok(_) => redirect(
            StatusCode::SEE_OTHER,
            &with_user(&hosted, "/confirmUser", &params, &[("username", &username)]),
        ),
        Err(status) => page.refused(&headers, "Sign up", status, |csrf, error| {
            signup_form(&page, &pool, &values, csrf, error)
        }),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct UserQuery {
    #[serde(flatten)]
    params: AuthParams,
    username: String,
    notice: String,
}

fn confirm_form(page: &Page<'_>, username: &str, csrf: &str, error: &str, intro: &str) -> String {
    let resend = format!(
        r#"<form method="post" action="{action}">{hidden}<input type="hidden" name="username" value="{user}"><p class="redirect-customizable">Didn't get a code? <button type="submit" class="link-button">Send a new code</button></p></form>{back}"#,
        action = pages::escape(&page.hosted.url("/resendCode", page.params)),
        hidden = pages::hidden_fields(&page.params.pairs(), csrf),
        user = pages::escape(username),
        back = page.back_to_sign_in(),
    );
    pages::Form {
        heading: "Confirm your account",
        intro,
        action: &page.hosted.url("/confirmUser", page.params),
        error,
        hidden: pages::hidden_fields(&page.params.pairs(), csrf),
        fields: format!(
            "{}\n{}",
            pages::input("username", "Username", "text", username, "username"),
            pages::input("code", "Confirmation code", "text", "", "one-time-code")
        ),
        submit: "Confirm",
        footer: resend,
    }
    .render()
}

const CONFIRM_INTRO: &str = "We sent a confirmation code. Enter it below.";

/// `GET /confirmUser`.
pub async fn confirm_page(
    State(state): State<Arc<AppState>>,
    hosted: Hosted,
    headers: HeaderMap,
    Query(query): Query<UserQuery>,
) -> Response {
    let page = match page(&state, &hosted, &query.params, StatusCode::FOUND).await {
        Ok(page) => page,
        Err(response) => return response,
    };
    let intro = if query.notice == "resent" {
        "We sent a new confirmation code. Enter it below."
    } else {
        CONFIRM_INTRO
    };
    page.show(&headers, StatusCode::OK, "Confirm your account", |csrf| {
        confirm_form(&page, &query.username, csrf, "", intro)
    })
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct CodeForm {
    #[serde(flatten)]
    params: AuthParams,
    username: String,
    code: String,
    password: String,
    _csrf: String,
}

/// `POST /confirmUser`.
pub async fn confirm(
    State(state): State<Arc<AppState>>,
    hosted: Hosted,
    headers: HeaderMap,
    Form(form): Form<CodeForm>,
) -> Response {
    let params = &form.params;
    let back = || {
        with_user(
            &hosted,
            "/confirmUser",
            params,
            &[("username", &form.username)],
        )
    };
    let page = match posted_page(&state, &hosted, &headers, params, &form._csrf, back).await {
        Ok(page) => page,
        Err(response) => return response,
    };
    let request = authn::ConfirmSignUpRequest {
        caller_context: None,
        region: String::new(),
        client_id: params.client_id.clone(),
        secret_hash: String::new(),
        username: form.username.clone(),
        confirmation_code: form.code.clone(),
        correlation_id: uuid::Uuid::new_v4().to_string(),
        force_alias_creation: false,
        hosted: true,
    };
    match state.authn.clone().confirm_sign_up(request).await {
        Ok(_) => redirect(
            StatusCode::SEE_OTHER,
            &with_user(
                &hosted,
                "/login",
                params,
                &[("notice", "confirmed"), ("username", &form.username)],
            ),
        ),
        Err(status) => page.refused(&headers, "Confirm your account", status, |csrf, error| {
            confirm_form(&page, &form.username, csrf, error, CONFIRM_INTRO)
        }),
    }
}

/// `POST /resendCode`: a new sign-up confirmation code.
pub async fn resend(
    State(state): State<Arc<AppState>>,
    hosted: Hosted,
    headers: HeaderMap,
    Form(form): Form<CodeForm>,
) -> Response {
    let params = &form.params;
    let back = |notice: &str| {
        with_user(
            &hosted,
            "/confirmUser",
            params,
            &[("username", &form.username), ("notice", notice)],
        )
    };
    let page = match posted_page(&state, &hosted, &headers, params, &form._csrf, || back("")).await
    {
        Ok(page) => page,
        Err(response) => return response,
    };
    let request = authn::ResendConfirmationCodeRequest {
        caller_context: None,
        region: String::new(),
        client_id: params.client_id.clone(),
        secret_hash: String::new(),
        username: form.username.clone(),
        correlation_id: uuid::Uuid::new_v4().to_string(),
        hosted: true,
    };
    match state.authn.clone().resend_confirmation_code(request).await {
        Ok(_) => redirect(StatusCode::SEE_OTHER, &back("resent")),
        Err(status) => page.refused(&headers, "Confirm your account", status, |csrf, error| {
            confirm_form(&page, &form.username, csrf, error, CONFIRM_INTRO)
        }),
    }
}

fn forgot_form(page: &Page<'_>, username: &str, csrf: &str, error: &str) -> String {
    pages::Form {
        heading: "Forgot your password?",
        intro: "Enter your username and we will send you a code to reset your password.",
        action: &page.hosted.url("/forgotPassword", page.params),
        error,
        hidden: pages::hidden_fields(&page.params.pairs(), csrf),
        fields: pages::input("username", "Username", "text", username, "username"),
        submit: "Send code",
        footer: page.back_to_sign_in(),
    }
    .render()
}

/// A page whose form needs only the user's name filled in.
async fn user_form_page(
    state: &AppState,
    hosted: &Hosted,
    headers: &HeaderMap,
    query: &UserQuery,
    title: &str,
    form: fn(&Page<'_>, &str, &str, &str) -> String,
) -> Response {
    let page = match page(state, hosted, &query.params, StatusCode::FOUND).await {
        Ok(page) => page,
        Err(response) => return response,
    };
    page.show(headers, StatusCode::OK, title, |csrf| {
        form(&page, &query.username, csrf, "")
    })
}

/// `GET /forgotPassword`.
pub async fn forgot_page(
    State(state): State<Arc<AppState>>,
    hosted: Hosted,
    headers: HeaderMap,
    Query(query): Query<UserQuery>,
) -> Response {
    let title = "Forgot your password?";
    user_form_page(&state, &hosted, &headers, &query, title, forgot_form).await
}

/// `POST /forgotPassword`: sends a reset code (or, where the pool hides which users
/// exist, answers the same for a name that matches no one).
pub async fn forgot(
    State(state): State<Arc<AppState>>,
    hosted: Hosted,
    headers: HeaderMap,
    Form(form): Form<CodeForm>,
) -> Response {
    let params = &form.params;
    let back = || hosted.url("/forgotPassword", params);
    let page = match posted_page(&state, &hosted, &headers, params, &form._csrf, back).await {
        Ok(page) => page,
        Err(response) => return response,
    };
    let request = authn::ForgotPasswordRequest {
        caller_context: None,
        region: String::new(),
        client_id: params.client_id.clone(),
        secret_hash: String::new(),
        username: form.username.clone(),
        correlation_id: uuid::Uuid::new_v4().to_string(),
        hosted: true,
    };
    match state.authn.clone().forgot_password(request).await {
        Ok(_) => redirect(
            StatusCode::SEE_OTHER,
            &with_user(
                &hosted,
                "/confirmForgotPassword",
                params,
                &[("username", &form.username)],
            ),
        ),
        Err(status) => page.refused(&headers, "Forgot your password?", status, |csrf, error| {
            forgot_form(&page, &form.username, csrf, error)
        }),
    }
}

fn reset_form(page: &Page<'_>, username: &str, csrf: &str, error: &str) -> String {
    pages::Form {
        heading: "Reset your password",
        intro: "We sent a code to reset your password. Enter it with a new password.",
        action: &page.hosted.url("/confirmForgotPassword", page.params),
        error,
        hidden: pages::hidden_fields(&page.params.pairs(), csrf),
        fields: format!(
            "{}\n{}\n{}",
            pages::input("username", "Username", "text", username, "username"),
            pages::input("code", "Code", "text", "", "one-time-code"),
            pages::input("password", "New password", "password", "", "new-password")
        ),
        submit: "Change password",
        footer: page.back_to_sign_in(),
    }
    .render()
}

/// `GET /confirmForgotPassword`.
pub async fn reset_page(
    State(state): State<Arc<AppState>>,
    hosted: Hosted,
    headers: HeaderMap,
    Query(query): Query<UserQuery>,
) -> Response {
    let title = "Reset your password";
    user_form_page(&state, &hosted, &headers, &query, title, reset_form).await
}

/// `POST /confirmForgotPassword`.
pub async fn reset(
    State(state): State<Arc<AppState>>,
    hosted: Hosted,
    headers: HeaderMap,
    Form(form): Form<CodeForm>,
) -> Response {
    let params = &form.params;
    let back = || {
        with_user(
            &hosted,
            "/confirmForgotPassword",
            params,
            &[("username", &form.username)],
        )
    };
    let page = match posted_page(&state, &hosted, &headers, params, &form._csrf, back).await {
        Ok(page) => page,
        Err(response) => return response,
    };
    let request = authn::ConfirmForgotPasswordRequest {
        caller_context: None,
        region: String::new(),
        client_id: params.client_id.clone(),
        secret_hash: String::new(),
        username: form.username.clone(),
        confirmation_code: form.code.clone(),
        password: form.password.clone(),
        correlation_id: uuid::Uuid::new_v4().to_string(),
        hosted: true,
    };
    match state.authn.clone().confirm_forgot_password(request).await {
        Ok(_) => redirect(
            StatusCode::SEE_OTHER,
            &with_user(
                &hosted,
                "/login",
                params,
                &[("notice", "reset"), ("username", &form.username)],
            ),
        ),
        Err(status) => page.refused(&headers, "Reset your password", status, |csrf, error| {
            reset_form(&page, &form.username, csrf, error)
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use portcullis_proto::events::v1::SchemaAttribute;

    fn attribute(name: &str, required: bool) -> SchemaAttribute {
        SchemaAttribute {
            name: name.into(),
            required,
            ..Default::default()
        }
    }

    #[test]
    fn the_form_asks_for_the_username_required_and_verified_attributes() {
        let pool = UserPoolSettings {
            schema: vec![
                attribute("given_name", true),
                attribute("email", false),
                attribute("nickname", false),
            ],
            auto_verified_attributes: vec!["email".into()],
            ..Default::default()
        };
        assert_eq!(
            signup_attributes(&pool),
            (true, vec!["given_name".to_owned(), "email".to_owned()])
        );
        let by_email = UserPoolSettings {
            username_attributes: vec!["email".into()],
            auto_verified_attributes: vec!["email".into()],
            ..Default::default()
        };
        assert_eq!(
            signup_attributes(&by_email),
            (false, vec!["email".to_owned()])
        );
    }

    #[test]
    fn the_authorization_request_is_split_from_the_form() {
        let fields = vec![
            ("client_id".to_owned(), "c".to_owned()),
            ("redirect_uri".to_owned(), "https://a.example/cb".to_owned()),
            ("username".to_owned(), "u".to_owned()),
        ];
        let (params, values) = split_form(fields);
        assert_eq!(params.client_id, "c");
        assert_eq!(params.redirect_uri, "https://a.example/cb");
        assert_eq!(values["username"], "u");
    }
}
