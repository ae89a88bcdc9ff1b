//! UI customization: SetUICustomization, GetUICustomization, and the logo they point
//! at (`GET /uicustomization/<pool>/<client id or ALL>/logo`).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use portcullis_errors::ApiError;
use portcullis_proto::directory::v1 as dir;
use serde::Deserialize;
use serde_json::{Value, json};

use super::Call;
use super::ops::caller;
use super::shapes::{compact, parse, required};
use crate::AppState;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct UiRequest {
    user_pool_id: Option<String>,
    client_id: Option<String>,
    #[serde(rename = "CSS")]
    css: Option<String>,
    /// A blob: base64 in awsJson.
    image_file: Option<String>,
}

fn customization_out(state: &AppState, ui: &dir::UiCustomization) -> Value {
    let found = ui.found;
    let image_url = ui.has_image.then(|| {
        format!(
            "{}/uicustomization/{}/{}/logo?v={}",
            state.public_base_url.trim_end_matches('/'),
            ui.pool_id,
            ui.client_id,
            ui.css_version
        )
    });
    compact(json!({
        "UserPoolId": ui.pool_id,
        "ClientId": ui.client_id,
        "ImageUrl": image_url,
        "CSS": Some(&ui.css).filter(|c| found && !c.is_empty()),
        "CSSVersion": Some(&ui.css_version).filter(|_| found),
        "LastModifiedDate": found.then_some(ui.last_modified_date),
        "CreationDate": found.then_some(ui.creation_date),
    }))
}

pub async fn set_ui_customization(state: &AppState, call: Call) -> Result<Value, ApiError> {
    let caller = caller(&call);
    let req: UiRequest = parse(call.body)?;
    let image_file = match req.image_file {
        Some(encoded) => base64::engine::general_purpose::STANDARD
            .decode(encoded.as_bytes())
            .map_err(|_| ApiError::invalid_parameter("ImageFile is not valid base64."))?,
        None => Vec::new(),
    };
    let request = dir::SetUiCustomizationRequest {
        caller: Some(caller),
        pool_id: required(req.user_pool_id, "userPoolId")?,
        client_id: req.client_id.unwrap_or_default(),
        css: req.css.unwrap_or_default(),
        image_file,
    };
    let ui = state
        .directory
        .clone()
        .set_ui_customization(request)
        .await?
        .into_inner();
    Ok(json!({ "UICustomization": customization_out(state, &ui) }))
}

pub async fn get_ui_customization(state: &AppState, call: Call) -> Result<Value, ApiError> {
    let req: UiRequest = parse(call.body)?;
    let request = dir::GetUiCustomizationRequest {
        pool_id: required(req.user_pool_id, "userPoolId")?,
        client_id: req.client_id.unwrap_or_default(),
        without_image: true,
        cached: false,
    };
    let ui = state
        .directory
        .clone()
        .get_ui_customization(request)
        .await?
        .into_inner();
    Ok(json!({ "UICustomization": customization_out(state, &ui) }))
}

/// The logo of a pool's or client's customization (the client's falls back to the
/// pool's), with its content type; 404 when there is none.
pub async fn logo(
    State(state): State<Arc<AppState>>,
    Path((pool_id, client_id)): Path<(String, String)>,
) -> Response {
    let request = dir::GetUiCustomizationRequest {
        pool_id,
        client_id,
        without_image: false,
        cached: true,
    };
    let ui = match state.directory.clone().get_ui_customization(request).await {
        Ok(ui) => ui.into_inner(),
        Err(status) => {
            let err = ApiError::from(status);
            let code = if err.code.http_status() >= 500 {
                StatusCode::SERVICE_UNAVAILABLE
            } else {
                StatusCode::NOT_FOUND
            };
            return code.into_response();
        }
    };
    let Ok(content_type) = HeaderValue::from_str(&ui.image_type) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if !ui.has_image || ui.image.is_empty() {
        return StatusCode::NOT_FOUND.into_response();
    }
    let mut response = ui.image.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, content_type);
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}
