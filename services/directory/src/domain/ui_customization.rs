//! The classic hosted UI's customization of a pool (`ALL`) or of one app client: CSS
//! limited to Cognito's customizable classes, and a logo.

use portcullis_proto::events::v1::UiCustomizationSet;

use super::{Aggregate, ApiError, Ctx, Event};

/// The client id under which a pool's own customization is kept.
pub const ALL: &str = "ALL";
/// Cognito's `CSSType` maximum.
pub const MAX_CSS: usize = 131_072;
/// Cognito's logo limit: 100 KB.
pub const MAX_IMAGE: usize = 100 * 1024;

/// The classes of the classic hosted UI that CSS may style.
const ALLOWED_SELECTORS: &[&str] = &[
    ".background-customizable",
    ".banner-customizable",
    ".errorMessage-customizable",
    ".idpButton-customizable",
    ".idpButton-customizable:hover",
    ".idpDescription-customizable",
    ".inputField-customizable",
    ".inputField-customizable:focus",
    ".label-customizable",
    ".legalText-customizable",
    ".logo-customizable",
    ".passwordCheck-valid-customizable",
    ".passwordCheck-notValid-customizable",
    ".redirect-customizable",
    ".socialButton-customizable",
    ".submitButton-customizable",
    ".submitButton-customizable:hover",
    ".textDescription-customizable",
];

#[derive(Debug, Default, Clone)]
pub struct UiCustomization {
    pub state: Option<UiCustomizationState>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UiCustomizationState {
    pub pool_id: String,
    pub client_id: String,
    pub css: String,
    pub image: Vec<u8>,
    pub image_type: String,
    /// Changes since the first, starting at 1: the CSS version.
    pub version: u64,
    pub created_ms: i64,
    pub modified_ms: i64,
}

pub struct SetCustomization {
    pub pool_id: String,
    /// [`ALL`] for the pool's.
    pub client_id: String,
    pub css: String,
    pub image: Vec<u8>,
}

impl Aggregate for UiCustomization {
    const KIND: &'static str = "uicustomization";
    type Command = SetCustomization;

    fn decide(&self, command: &SetCustomization, _ctx: &Ctx) -> Result<Vec<Event>, ApiError> {
        validate_css(&command.css)?;
        let image_type = image_type(&command.image)?;
        Ok(vec![Event::UiCustomizationSet(UiCustomizationSet {
            pool_id: command.pool_id.clone(),
            client_id: command.client_id.clone(),
            css: command.css.clone(),
            image: command.image.clone(),
            image_type: image_type.to_owned(),
        })])
    }

    fn evolve(&mut self, event: &Event, at_ms: i64) {
        if let Event::UiCustomizationSet(set) = event {
            let (version, created_ms) = self
                .state
                .as_ref()
                .map_or((1, at_ms), |s| (s.version + 1, s.created_ms));
            self.state = Some(UiCustomizationState {
                pool_id: set.pool_id.clone(),
                client_id: set.client_id.clone(),
                css: set.css.clone(),
                image: set.image.clone(),
                image_type: set.image_type.clone(),
                version,
                created_ms,
                modified_ms: at_ms,
            });
        }
    }
}

/// The content type of a PNG or JPEG logo of at most 100 KB; empty for no logo.
pub fn image_type(image: &[u8]) -> Result<&'static str, ApiError> {
    if image.is_empty() {
        return Ok("");
    }
    if image.len() > MAX_IMAGE {
        return Err(ApiError::invalid_parameter(
            "The image file is too large: it must be 100 KB or smaller.",
        ));
    }
    if image.starts_with(b"\x89PNG\r\n\x1a\n") {
        Ok("image/png")
    } else if image.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Ok("image/jpeg")
    } else {
        Err(ApiError::invalid_parameter(
            "The image file must be a PNG or JPEG image.",
        ))
    }
}

/// Every rule's selectors must be customizable classes of the hosted UI.
pub fn validate_css(css: &str) -> Result<(), ApiError> {
    if css.chars().count() > MAX_CSS {
        return Err(ApiError::invalid_parameter(
            "1 validation error detected: Value at 'cSS' failed to satisfy constraint: Member must have length less than or equal to 131072",
        ));
    }
    let css = strip_comments(css);
    let mut rest = css.as_str();
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else {
            return Err(ApiError::invalid_parameter(
                "The CSS is malformed: a rule is not closed.",
            ));
        };
        if rest[open + 1..open + close].contains('{') {
            return Err(ApiError::invalid_parameter(
                "The CSS is malformed: nested rules and at-rules are not allowed.",
            ));
        }
        for selector in rest[..open].split(',').map(str::trim) {
            if !ALLOWED_SELECTORS.contains(&selector) {
                return Err(ApiError::invalid_parameter(format!(
                    "The CSS class {selector} is not allowed. Only the customizable classes of the hosted UI can be styled."
                )));
            }
        }
        rest = &rest[open + close + 1..];
    }
    if !rest.trim().is_empty() {
        return Err(ApiError::invalid_parameter(
            "The CSS is malformed: text outside of a rule.",
        ));
    }
    Ok(())
}

fn strip_comments(css: &str) -> String {
    let mut out = String::with_capacity(css.len());
    let mut rest = css;
    while let Some(start) = rest.find("/*") {
        out.push_str(&rest[..start]);
        rest = rest[start + 2..]
            .find("*/")
            .map_or("", |end| &rest[start + 2 + end + 2..]);
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::given;

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\nrest";

    fn set(css: &str, image: &[u8]) -> SetCustomization {
        SetCustomization {
            pool_id: "us-east-1_abc".into(),
            client_id: ALL.into(),
            css: css.into(),
            image: image.to_vec(),
        }
    }

    fn then(events: &[Event], command: SetCustomization) -> Result<Vec<Event>, ApiError> {
        given::<UiCustomization>(events).decide(&command, &Ctx { now_ms: 1 })
    }

    #[test]
    fn allowed_classes_pass_and_others_are_refused() {
        let css = "/* brand */ .label-customizable { font-weight: 400; }\n\
                   .submitButton-customizable:hover, .banner-customizable { color: red }";
        assert!(validate_css(css).is_ok());
        assert!(validate_css("").is_ok());
        let err = validate_css(".label-customizable{} body { color: red }").unwrap_err();
        assert!(err.message.contains("body"), "{}", err.message);
        assert!(validate_css("@media print { .label-customizable { color: red } }").is_err());
        assert!(validate_css(".label-customizable { color: red").is_err());
        assert!(validate_css(&" ".repeat(MAX_CSS + 1)).is_err());
    }

    #[test]
    fn logos_are_small_pngs_or_jpegs() {
        assert_eq!(image_type(PNG).unwrap(), "image/png");
        assert_eq!(image_type(&[0xFF, 0xD8, 0xFF, 0xE0]).unwrap(), "image/jpeg");
        assert_eq!(image_type(&[]).unwrap(), "");
        assert!(image_type(b"GIF89a").is_err());
        let mut big = PNG.to_vec();
        big.resize(MAX_IMAGE + 1, 0);
        assert!(image_type(&big).is_err());
    }

    #[test]
    fn each_set_replaces_everything_and_bumps_the_version() {
        let mut events = then(&[], set(".logo-customizable { max-width: 60% }", PNG)).unwrap();
        events.extend(then(&events, set("", &[])).unwrap());
        let state = given::<UiCustomization>(&events).state.unwrap();
        assert_eq!(state.version, 2);
        assert!(state.css.is_empty() && state.image.is_empty() && state.image_type.is_empty());
    }
}
