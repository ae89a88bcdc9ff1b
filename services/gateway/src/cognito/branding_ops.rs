//! Managed login branding: CreateManagedLoginBranding, DescribeManagedLoginBranding,
//! DescribeManagedLoginBrandingByClient, UpdateManagedLoginBranding,
//! DeleteManagedLoginBranding. Styles are stored and returned as given
//! (`ReturnMergedResources` has no Cognito defaults to merge in).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use portcullis_errors::ApiError;
use portcullis_proto::directory::v1 as dir;
use portcullis_proto::events::v1::BrandingAsset;
use serde::Deserialize;
use serde_json::{Value, json};

use super::Call;
use super::ops::caller;
use super::shapes::{compact, parse, required};
use crate::AppState;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Asset {
    category: Option<String>,
    color_mode: Option<String>,
    extension: Option<String>,
    bytes: Option<String>,
    resource_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct BrandingRequest {
    user_pool_id: Option<String>,
    client_id: Option<String>,
    managed_login_branding_id: Option<String>,
    use_cognito_provided_values: Option<bool>,
    settings: Option<Value>,
    assets: Option<Vec<Asset>>,
}

impl BrandingRequest {
    fn into_proto(self, call: &Call) -> Result<dir::ManagedLoginBrandingRequest, ApiError> {
        let assets_given = self.assets.is_some();
        let assets = self
            .assets
            .unwrap_or_default()
            .into_iter()
            .enumerate()
            .map(|(i, a)| {
                let at = |member: &str| format!("assets.{}.member.{member}", i + 1);
                let bytes = match a.bytes {
                    Some(encoded) => BASE64.decode(encoded.as_bytes()).map_err(|_| {
                        ApiError::invalid_parameter(format!("{} is not valid base64.", at("bytes")))
                    })?,
                    None => Vec::new(),
                };
                Ok(BrandingAsset {
                    category: required(a.category, &at("category"))?,
                    color_mode: required(a.color_mode, &at("colorMode"))?,
                    extension: required(a.extension, &at("extension"))?,
                    bytes,
                    resource_id: a.resource_id.unwrap_or_default(),
                })
            })
            .collect::<Result<_, ApiError>>()?;
        Ok(dir::ManagedLoginBrandingRequest {
            caller: Some(caller(call)),
            pool_id: required(self.user_pool_id, "userPoolId")?,
            client_id: self.client_id.unwrap_or_default(),
            branding_id: self.managed_login_branding_id.unwrap_or_default(),
            use_cognito_provided_values: self.use_cognito_provided_values.unwrap_or(false),
            settings_json: self.settings.map(|s| s.to_string()),
            assets,
            assets_given,
        })
    }
}

fn branding_out(described: dir::ManagedLoginBrandingDescription) -> Value {
    let b = described.branding.unwrap_or_default();
    let assets: Vec<Value> = b
        .assets
        .iter()
        .map(|a| {
            compact(json!({
                "Category": a.category,
                "ColorMode": a.color_mode,
                "Extension": a.extension,
                "Bytes": Some(BASE64.encode(&a.bytes)).filter(|_| !a.bytes.is_empty()),
                "ResourceId": Some(&a.resource_id).filter(|r| !r.is_empty()),
            }))
        })
        .collect();
    let settings = serde_json::from_str::<Value>(&b.settings_json).ok();
    let mut out = compact(json!({
        "ManagedLoginBrandingId": b.branding_id,
        "UserPoolId": b.pool_id,
        "UseCognitoProvidedValues": b.use_cognito_provided_values,
        "Settings": settings,
        "CreationDate": described.creation_date,
        "LastModifiedDate": described.last_modified_date,
    }));
    out["Assets"] = json!(assets);
    json!({ "ManagedLoginBranding": out })
}

pub async fn create_managed_login_branding(
    state: &AppState,
    call: Call,
) -> Result<Value, ApiError> {
    let req: BrandingRequest = parse(call.body.clone())?;
    let mut request = req.into_proto(&call)?;
    request.client_id = required(
        Some(request.client_id).filter(|c| !c.is_empty()),
        "clientId",
    )?;
    let created = state
        .directory
        .clone()
        .create_managed_login_branding(request)
        .await?
        .into_inner();
    Ok(branding_out(created))
}

pub async fn update_managed_login_branding(
    state: &AppState,
    call: Call,
) -> Result<Value, ApiError> {
    let req: BrandingRequest = parse(call.body.clone())?;
    let mut request = req.into_proto(&call)?;
    request.branding_id = required(
        Some(request.branding_id).filter(|b| !b.is_empty()),
        "managedLoginBrandingId",
    )?;
    let updated = state
        .directory
        .clone()
        .update_managed_login_branding(request)
        .await?
        .into_inner();
    Ok(branding_out(updated))
}

/// A reference by branding id or, for `by_client`, by client id.
fn branding_ref(call: &Call, by_client: bool) -> Result<dir::ManagedLoginBrandingRef, ApiError> {
    let req: BrandingRequest = parse(call.body.clone())?;
    let pool_id = required(req.user_pool_id, "userPoolId")?;
    let (branding_id, client_id) = if by_client {
        (String::new(), required(req.client_id, "clientId")?)
    } else {
        let id = required(req.managed_login_branding_id, "managedLoginBrandingId")?;
        (id, String::new())
    };
    Ok(dir::ManagedLoginBrandingRef {
        caller: Some(caller(call)),
        pool_id,
        branding_id,
        client_id,
    })
}

pub async fn describe_managed_login_branding(
    state: &AppState,
    call: Call,
    by_client: bool,
) -> Result<Value, ApiError> {
    let request = branding_ref(&call, by_client)?;
    let described = state
        .directory
        .clone()
        .describe_managed_login_branding(request)
        .await?
        .into_inner();
    Ok(branding_out(described))
}

pub async fn delete_managed_login_branding(
    state: &AppState,
    call: Call,
) -> Result<Value, ApiError> {
    let request = branding_ref(&call, false)?;
    state
        .directory
        .clone()
        .delete_managed_login_branding(request)
        .await?;
    Ok(json!({}))
}
