//! Remembered devices: `ConfirmDevice` after a sign-in issued a device, and reading,
//! updating and forgetting devices, by the user (access token) or an administrator.

use portcullis_errors::ApiError;
use portcullis_proto::authn::v1 as authn;
use portcullis_proto::directory::v1 as dir;
use serde::Deserialize;
use serde_json::{Value, json};

use super::Call;
use super::ops::{UserRef, authorize_user_token, caller};
use super::shapes::{compact, parse, required};
use super::user_ops::{by_sub, user_caller, user_ref};
use crate::AppState;

/// Cognito's `DeviceType`; the verifier never leaves the directory and authn-flow.
fn device_out(device: &dir::Device) -> Value {
    let mut attributes = vec![json!({ "Name": "device_status", "Value": "valid" })];
    if !device.device_name.is_empty() {
        attributes.push(json!({ "Name": "device_name", "Value": device.device_name }));
    }
    attributes.push(json!({
        "Name": "dev:device_remembered_status",
        "Value": device.remembered_status,
    }));
    json!({
        "DeviceKey": device.device_key,
        "DeviceAttributes": attributes,
        "DeviceCreateDate": device.creation_date,
        "DeviceLastModifiedDate": device.last_modified_date,
        "DeviceLastAuthenticatedDate": device.last_authenticated_date,
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DeviceReq {
    device_key: Option<String>,
    device_remembered_status: Option<String>,
    limit: Option<u32>,
    pagination_token: Option<String>,
}

/// Who a device operation is about, and as whom it is recorded.
struct Subject {
    user: dir::UserRef,
    caller: dir::Caller,
    req: DeviceReq,
}

async fn user_subject(state: &AppState, call: Call) -> Result<Subject, ApiError> {
    let (verified, _) = authorize_user_token(state, call.body.clone()).await?;
    Ok(Subject {
        user: by_sub(&verified),
        caller: user_caller(&call, &verified.sub),
        req: parse(call.body)?,
    })
}

fn admin_subject(call: Call) -> Result<Subject, ApiError> {
    let who: UserRef = parse(call.body.clone())?;
    Ok(Subject {
        user: user_ref(who)?,
        caller: caller(&call),
        req: parse(call.body)?,
    })
}

pub(super) async fn confirm_device(state: &AppState, call: Call) -> Result<Value, ApiError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct VerifierConfig {
        password_verifier: Option<String>,
        salt: Option<String>,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Req {
        device_key: Option<String>,
        device_secret_verifier_config: Option<VerifierConfig>,
        device_name: Option<String>,
    }
    let (verified, _) = authorize_user_token(state, call.body.clone()).await?;
    let req: Req = parse(call.body.clone())?;
    let device_key = required(req.device_key, "deviceKey")?;
    let config = req
        .device_secret_verifier_config
        .ok_or_else(|| ApiError::invalid_parameter("DeviceSecretVerifierConfig is required."))?;
    let request = authn::ConfirmDeviceRequest {
        caller: Some(user_caller(&call, &verified.sub)),
        pool_id: verified.pool_id.clone(),
        sub: verified.sub.clone(),
        device_key,
        password_verifier: config.password_verifier.unwrap_or_default(),
        salt: config.salt.unwrap_or_default(),
        device_name: req.device_name.unwrap_or_default(),
    };
    let response = state
        .authn
        .clone()
        .confirm_device(request)
        .await?
        .into_inner();
    Ok(json!({ "UserConfirmationNecessary": response.user_confirmation_necessary }))
}

async fn get(state: &AppState, subject: Subject) -> Result<Value, ApiError> {
    let request = dir::DeviceRequest {
        caller: None,
        user: Some(subject.user),
        device_key: required(subject.req.device_key, "deviceKey")?,
    };
    let device = state
        .directory
        .clone()
        .get_device(request)
        .await?
        .into_inner();
    Ok(json!({ "Device": device_out(&device) }))
}

async fn list(state: &AppState, subject: Subject) -> Result<Value, ApiError> {
    let request = dir::ListDevicesRequest {
        user: Some(subject.user),
        limit: subject.req.limit.unwrap_or(0),
        pagination_token: subject.req.pagination_token.unwrap_or_default(),
    };
    let listed = state
        .directory
        .clone()
        .list_devices(request)
        .await?
        .into_inner();
    let devices: Vec<Value> = listed.devices.iter().map(device_out).collect();
    Ok(compact(json!({
        "Devices": devices,
        "PaginationToken": Some(listed.pagination_token).filter(|t| !t.is_empty()),
    })))
}

async fn update(state: &AppState, subject: Subject) -> Result<Value, ApiError> {
    let request = dir::UpdateDeviceStatusRequest {
        caller: Some(subject.caller),
        user: Some(subject.user),
        device_key: required(subject.req.device_key, "deviceKey")?,
        remembered_status: subject
            .req
            .device_remembered_status
            .unwrap_or_else(|| "not_remembered".into()),
    };
    state
        .directory
        .clone()
        .update_device_status(request)
        .await?;
    Ok(json!({}))
}

async fn forget(state: &AppState, subject: Subject) -> Result<Value, ApiError> {
    let request = dir::DeviceRequest {
        caller: Some(subject.caller),
        user: Some(subject.user),
        device_key: required(subject.req.device_key, "deviceKey")?,
    };
    state.directory.clone().forget_device(request).await?;
    Ok(json!({}))
}

pub(super) async fn get_device(state: &AppState, call: Call) -> Result<Value, ApiError> {
    get(state, user_subject(state, call).await?).await
}

/// AdminGetDevice and AdminListDevices declare no UserNotFoundException: an unknown user
/// is a resource that is not found.
fn unknown_user_not_found(err: ApiError) -> ApiError {
    if err.code == portcullis_errors::ErrorCode::UserNotFoundException {
        ApiError::not_found(err.message)
    } else {
        err
    }
}

pub(super) async fn admin_get_device(state: &AppState, call: Call) -> Result<Value, ApiError> {
    get(state, admin_subject(call)?)
        .await
        .map_err(unknown_user_not_found)
}

pub(super) async fn list_devices(state: &AppState, call: Call) -> Result<Value, ApiError> {
    list(state, user_subject(state, call).await?).await
}

pub(super) async fn admin_list_devices(state: &AppState, call: Call) -> Result<Value, ApiError> {
    list(state, admin_subject(call)?)
        .await
        .map_err(unknown_user_not_found)
}

pub(super) async fn update_device_status(state: &AppState, call: Call) -> Result<Value, ApiError> {
    update(state, user_subject(state, call).await?).await
}

pub(super) async fn admin_update_device_status(
    state: &AppState,
    call: Call,
) -> Result<Value, ApiError> {
    update(state, admin_subject(call)?).await
}

pub(super) async fn forget_device(state: &AppState, call: Call) -> Result<Value, ApiError> {
    forget(state, user_subject(state, call).await?).await
}

pub(super) async fn admin_forget_device(state: &AppState, call: Call) -> Result<Value, ApiError> {
    forget(state, admin_subject(call)?).await
}
