//! An app client's managed login style (ManagedLoginVersion 2): a settings document and
//! images, or Cognito's own look (`UseCognitoProvidedValues`). One per client.

use portcullis_proto::events::v1::{
    BrandingAsset, ManagedLoginBranding, ManagedLoginBrandingDeleted, ManagedLoginBrandingSet,
};

use super::{Aggregate, ApiError, Ctx, ErrorCode, Event};

const CATEGORIES: &[&str] = &[
    "FAVICON_ICO",
    "FAVICON_SVG",
    "EMAIL_GRAPHIC",
    "SMS_GRAPHIC",
    "AUTH_APP_GRAPHIC",
    "PASSWORD_GRAPHIC",
    "PASSKEY_GRAPHIC",
    "PAGE_HEADER_LOGO",
    "PAGE_HEADER_BACKGROUND",
    "PAGE_FOOTER_LOGO",
    "PAGE_FOOTER_BACKGROUND",
    "PAGE_BACKGROUND",
    "FORM_BACKGROUND",
    "FORM_LOGO",
    "IDP_BUTTON_ICON",
];
const COLOR_MODES: &[&str] = &["LIGHT", "DARK", "DYNAMIC"];
const EXTENSIONS: &[&str] = &["ICO", "JPEG", "PNG", "SVG", "WEBP"];
const MAX_ASSETS: usize = 40;
/// Portcullis keeps a style's images in its events, so their total is bounded well
/// below a log record's size.
pub const MAX_ASSET_BYTES: usize = 512 * 1024;

#[derive(Debug, Default, Clone)]
pub struct Branding {
    pub state: Option<BrandingState>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct BrandingState {
    pub branding: ManagedLoginBranding,
    pub created_ms: i64,
    pub modified_ms: i64,
}

pub enum BrandingCommand {
    Create(ManagedLoginBranding),
    /// `None` keeps the current settings or assets.
    Update {
        branding_id: String,
        use_cognito_provided_values: bool,
        settings_json: Option<String>,
        assets: Option<Vec<BrandingAsset>>,
    },
    Delete {
        branding_id: String,
    },
}

pub fn branding_not_found() -> ApiError {
    ApiError::not_found("Managed login branding does not exist.")
}

impl Aggregate for Branding {
    const KIND: &'static str = "branding";
    type Command = BrandingCommand;

    fn decide(&self, command: &BrandingCommand, _ctx: &Ctx) -> Result<Vec<Event>, ApiError> {
        match (command, &self.state) {
            (BrandingCommand::Create(branding), None) => {
                validate(branding)?;
                Ok(vec![set(branding.clone())])
            }
            (BrandingCommand::Create(branding), Some(_)) => Err(ApiError::new(
                ErrorCode::ManagedLoginBrandingExistsException,
                format!(
                    "A managed login branding already exists for client {}.",
                    branding.client_id
                ),
            )),
            (
                BrandingCommand::Update {
                    branding_id,
                    use_cognito_provided_values,
                    settings_json,
                    assets,
                },
                Some(state),
            ) if *branding_id == state.branding.branding_id => {
                let mut next = state.branding.clone();
                next.use_cognito_provided_values = *use_cognito_provided_values;
                if *use_cognito_provided_values {
                    next.settings_json.clear();
                    next.assets.clear();
                }
                if let Some(settings) = settings_json {
                    next.settings_json = settings.clone();
                }
                if let Some(assets) = assets {
                    next.assets = assets.clone();
                }
                let given =
                    settings_json.is_some() || assets.as_ref().is_some_and(|a| !a.is_empty());
                if *use_cognito_provided_values && given {
                    return Err(cognito_values_conflict());
                }
                validate(&next)?;
                Ok(vec![set(next)])
            }
            (BrandingCommand::Delete { branding_id }, Some(state))
                if *branding_id == state.branding.branding_id =>
            {
                Ok(vec![Event::ManagedLoginBrandingDeleted(
                    ManagedLoginBrandingDeleted {
                        pool_id: state.branding.pool_id.clone(),
                        client_id: state.branding.client_id.clone(),
                        branding_id: branding_id.clone(),
                    },
                )])
            }
            _ => Err(branding_not_found()),
        }
    }

    fn evolve(&mut self, event: &Event, at_ms: i64) {
        match event {
            Event::ManagedLoginBrandingSet(ManagedLoginBrandingSet {
                branding: Some(branding),
            }) => {
                let created_ms = self.state.as_ref().map_or(at_ms, |s| s.created_ms);
                self.state = Some(BrandingState {
                    branding: branding.clone(),
                    created_ms,
                    modified_ms: at_ms,
                });
            }
            Event::ManagedLoginBrandingDeleted(_) => self.state = None,
            _ => {}
        }
    }
}

fn set(branding: ManagedLoginBranding) -> Event {
    Event::ManagedLoginBrandingSet(ManagedLoginBrandingSet {
        branding: Some(branding),
    })
}

fn cognito_values_conflict() -> ApiError {
    ApiError::invalid_parameter(
        "Settings and Assets cannot be given when UseCognitoProvidedValues is true.",
    )
}

fn enum_error(value: &str, member: &str, allowed: &[&str]) -> ApiError {
    ApiError::invalid_parameter(format!(
        "1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: Member must satisfy enum value set: [{}]",
        allowed.join(", ")
    ))
}

fn validate(branding: &ManagedLoginBranding) -> Result<(), ApiError> {
    let given = !branding.settings_json.is_empty() || !branding.assets.is_empty();
    if branding.use_cognito_provided_values && given {
        return Err(cognito_values_conflict());
    }
    if !branding.settings_json.is_empty()
        && !serde_json::from_str::<serde_json::Value>(&branding.settings_json)
            .is_ok_and(|v| v.is_object())
    {
        return Err(ApiError::invalid_parameter(
            "Settings must be a JSON object.",
        ));
    }
    if branding.assets.len() > MAX_ASSETS {
        return Err(ApiError::invalid_parameter(
            "1 validation error detected: Value at 'assets' failed to satisfy constraint: Member must have length less than or equal to 40",
        ));
    }
    let mut total = 0;
    for (i, asset) in branding.assets.iter().enumerate() {
        let at = |member: &str| format!("assets.{}.member.{member}", i + 1);
        for (value, member, allowed) in [
            (&asset.category, "category", CATEGORIES),
            (&asset.color_mode, "colorMode", COLOR_MODES),
            (&asset.extension, "extension", EXTENSIONS),
        ] {
            if !allowed.contains(&value.as_str()) {
                return Err(enum_error(value, &at(member), allowed));
            }
        }
        let id = &asset.resource_id;
        let id_ok = id.is_empty()
            || ((1..=40).contains(&id.len())
                && id
                    .chars()
                    .all(|c| c.is_alphanumeric() || c == '_' || c == '-' || c == ' '));
        if !id_ok {
            return Err(ApiError::invalid_parameter(format!(
                "1 validation error detected: Value '{id}' at '{}' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[\\w\\- ]+$",
                at("resourceId")
            )));
        }
        if branding.assets[..i]
            .iter()
            .any(|a| a.category == asset.category && a.color_mode == asset.color_mode)
        {
            return Err(ApiError::invalid_parameter(format!(
                "Duplicate asset: {} in {} mode is given more than once.",
                asset.category, asset.color_mode
            )));
        }
        total += asset.bytes.len();
    }
    if total > MAX_ASSET_BYTES {
        return Err(ApiError::invalid_parameter(
            "The assets are too large: Portcullis keeps at most 512 KB of images per branding.",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::given;

    const ID: &str = "5f3c1a2b-1111-4222-8333-444455556666";

    fn branding(settings: &str, assets: Vec<BrandingAsset>) -> ManagedLoginBranding {
        ManagedLoginBranding {
            pool_id: "us-east-1_abc".into(),
            client_id: "client".into(),
            branding_id: ID.into(),
            use_cognito_provided_values: false,
            settings_json: settings.into(),
            assets,
        }
    }

    fn asset(category: &str) -> BrandingAsset {
        BrandingAsset {
            category: category.into(),
            color_mode: "LIGHT".into(),
            extension: "PNG".into(),
            bytes: b"\x89PNG".to_vec(),
            resource_id: String::new(),
        }
    }

    fn then(events: &[Event], command: BrandingCommand) -> Result<Vec<Event>, ApiError> {
        given::<Branding>(events).decide(&command, &Ctx { now_ms: 1 })
    }

    fn update(settings: Option<&str>, cognito: bool) -> BrandingCommand {
        BrandingCommand::Update {
            branding_id: ID.into(),
            use_cognito_provided_values: cognito,
            settings_json: settings.map(str::to_owned),
            assets: None,
        }
    }

    #[test]
    fn one_branding_per_client() {
        let create = || BrandingCommand::Create(branding("{}", vec![asset("FORM_LOGO")]));
        let events = then(&[], create()).unwrap();
        let err = then(&events, create()).unwrap_err();
        assert_eq!(err.code, ErrorCode::ManagedLoginBrandingExistsException);
    }

    #[test]
    fn assets_and_settings_are_validated() {
        let bad = |b: ManagedLoginBranding| then(&[], BrandingCommand::Create(b)).is_err();
        assert!(bad(branding("[1]", vec![])));
        assert!(bad(branding("", vec![asset("NOT_A_CATEGORY")])));
        assert!(bad(branding(
            "",
            vec![asset("FORM_LOGO"), asset("FORM_LOGO")]
        )));
        let mut big = asset("FORM_LOGO");
        big.bytes = vec![0; MAX_ASSET_BYTES + 1];
        assert!(bad(branding("", vec![big])));
        let mut cognito = branding("{}", vec![]);
        cognito.use_cognito_provided_values = true;
        assert!(bad(cognito));
    }

    #[test]
    fn updates_keep_what_is_not_given_and_cognito_values_clear_the_style() {
        let mut events = then(
            &[],
            BrandingCommand::Create(branding("{\"a\":1}", vec![asset("FORM_LOGO")])),
        )
        .unwrap();
        events.extend(then(&events, update(Some("{\"b\":2}"), false)).unwrap());
        let state = given::<Branding>(&events).state.unwrap();
        assert_eq!(state.branding.settings_json, "{\"b\":2}");
        assert_eq!(state.branding.assets.len(), 1);
        assert!(then(&events, update(Some("{}"), true)).is_err());
        events.extend(then(&events, update(None, true)).unwrap());
        let state = given::<Branding>(&events).state.unwrap();
        assert!(state.branding.settings_json.is_empty() && state.branding.assets.is_empty());
        let other = BrandingCommand::Delete {
            branding_id: "another".into(),
        };
        assert_eq!(
            then(&events, other).unwrap_err().code,
            ErrorCode::ResourceNotFoundException
        );
        let delete = BrandingCommand::Delete {
            branding_id: ID.into(),
        };
        events.extend(then(&events, delete).unwrap());
        assert!(given::<Branding>(&events).state.is_none());
    }
}
