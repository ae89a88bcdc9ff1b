//! The identity providers IAM knows: OpenID Connect issuers and SAML 2.0 identity
//! providers, by ARN. Identity pools and trust policies name them.

use std::collections::HashMap;

use portcullis_proto::events::v1::{
    IamOpenIdConnectProviderCreated, IamOpenIdConnectProviderDeleted, IamSamlProviderCreated,
    IamSamlProviderDeleted,
};

use super::validate;
use crate::domain::{Aggregate, ApiError, Ctx, ErrorCode, Event};

/// IAM's quotas on an OpenID Connect provider.
pub const MAX_CLIENT_IDS: usize = 100;
pub const MAX_THUMBPRINTS: usize = 5;

pub fn oidc_provider_arn(account: &str, url: &str) -> String {
    let host_and_path = host_and_path(url).unwrap_or(url);
    format!("arn:aws:iam::{account}:oidc-provider/{host_and_path}")
}

/// The URL without its scheme: `https://`, or `http://` for a provider on this machine's
/// loopback (a development identity provider; IAM itself takes `https://` only).
fn host_and_path(url: &str) -> Option<&str> {
    if let Some(rest) = url.strip_prefix("https://") {
        return Some(rest);
    }
    let rest = url.strip_prefix("http://")?;
    let host = rest.split(['/', ':']).next().unwrap_or_default();
    matches!(host, "127.0.0.1" | "localhost").then_some(rest)
}

pub fn saml_provider_arn(account: &str, name: &str) -> String {
    format!("arn:aws:iam::{account}:saml-provider/{name}")
}

pub fn oidc_not_found(arn: &str) -> ApiError {
    ApiError::new(
        ErrorCode::NoSuchEntity,
        format!("OpenIDConnect Provider not found for arn {arn}"),
    )
}

pub fn saml_not_found(arn: &str) -> ApiError {
    ApiError::new(
        ErrorCode::NoSuchEntity,
        format!("Manifest not found for arn {arn}"),
    )
}

#[derive(Debug, Default, Clone)]
pub struct OidcProvider {
    pub state: Option<OidcProviderState>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcProviderState {
    pub arn: String,
    pub url: String,
    pub client_ids: Vec<String>,
    pub thumbprints: Vec<String>,
    pub tags: HashMap<String, String>,
    pub created_ms: i64,
}

pub enum OidcCommand {
    Create(IamOpenIdConnectProviderCreated),
    Delete { arn: String },
}

fn validate_oidc(p: &IamOpenIdConnectProviderCreated) -> Result<(), ApiError> {
    validate::length(&p.url, "url", 1, 255)?;
    let host = host_and_path(&p.url).unwrap_or_default();
    if host.is_empty() || host.contains(['?', '#', ' ']) {
        return Err(validate::validation_error(format!(
            "Invalid url: {}. The url must begin with https:// and name a host.",
            p.url
        )));
    }
    if p.client_ids.len() > MAX_CLIENT_IDS {
        return Err(ApiError::new(
            ErrorCode::LimitExceeded,
            format!("Cannot exceed quota for ClientIdsPerOpenIdConnectProvider: {MAX_CLIENT_IDS}"),
        ));
    }
    for id in &p.client_ids {
        validate::length(id, "clientIDList.member", 1, 255)?;
    }
    if p.thumbprints.len() > MAX_THUMBPRINTS {
        return Err(ApiError::new(
            ErrorCode::LimitExceeded,
            format!(
                "Cannot exceed quota for ThumbprintsPerOpenIdConnectProvider: {MAX_THUMBPRINTS}"
            ),
        ));
    }
    for thumbprint in &p.thumbprints {
        validate::length(thumbprint, "thumbprintList.member", 40, 40)?;
    }
    validate::tags(&p.tags)
}

impl Aggregate for OidcProvider {
    const KIND: &'static str = "oidcprovider";
    type Command = OidcCommand;

    fn decide(&self, command: &OidcCommand, _ctx: &Ctx) -> Result<Vec<Event>, ApiError> {
        match (command, &self.state) {
            (OidcCommand::Create(created), None) => {
                validate_oidc(created)?;
                Ok(vec![Event::IamOpenIdConnectProviderCreated(
                    created.clone(),
                )])
            }
            (OidcCommand::Create(created), Some(_)) => Err(ApiError::new(
                ErrorCode::EntityAlreadyExists,
                format!("Provider with url {} already exists.", created.url),
            )),
            (OidcCommand::Delete { arn }, Some(_)) => {
                Ok(vec![Event::IamOpenIdConnectProviderDeleted(
                    IamOpenIdConnectProviderDeleted { arn: arn.clone() },
                )])
            }
            (OidcCommand::Delete { arn }, None) => Err(oidc_not_found(arn)),
        }
    }

    fn evolve(&mut self, event: &Event, at_ms: i64) {
        match event {
            Event::IamOpenIdConnectProviderCreated(created) => {
                self.state = Some(OidcProviderState {
                    arn: created.arn.clone(),
                    url: created.url.clone(),
                    client_ids: created.client_ids.clone(),
                    thumbprints: created.thumbprints.clone(),
                    tags: created.tags.clone(),
                    created_ms: at_ms,
                });
            }
            Event::IamOpenIdConnectProviderDeleted(_) => self.state = None,
            _ => {}
        }
    }
}

#[derive(Debug, Default, Clone)]
pub struct SamlProvider {
    pub state: Option<SamlProviderState>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SamlProviderState {
    pub arn: String,
    pub name: String,
    pub metadata_document: String,
    pub tags: HashMap<String, String>,
    pub created_ms: i64,
}

pub enum SamlCommand {
    Create(IamSamlProviderCreated),
    Delete { arn: String },
}

fn validate_saml(p: &IamSamlProviderCreated) -> Result<(), ApiError> {
    validate::length(&p.name, "name", 1, 128)?;
    if !p
        .name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
    {
        return Err(validate::validation_error(format!(
            "1 validation error detected: Value '{}' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w._-]+",
            p.name
        )));
    }
    validate::length(
        &p.metadata_document,
        "sAMLMetadataDocument",
        1000,
        10_000_000,
    )?;
    // The document must describe an identity provider with a signing key, or no
    // assertion of it could ever be verified.
    if let Err(err) = portcullis_saml::IdentityProvider::from_metadata(&p.metadata_document) {
        tracing::debug!(error = %err, "SAML metadata refused");
        return Err(ApiError::new(
            ErrorCode::InvalidInput,
            "Could not parse metadata",
        ));
    }
    validate::tags(&p.tags)
}

impl Aggregate for SamlProvider {
    const KIND: &'static str = "samlprovider";
    type Command = SamlCommand;

    fn decide(&self, command: &SamlCommand, _ctx: &Ctx) -> Result<Vec<Event>, ApiError> {
        match (command, &self.state) {
            (SamlCommand::Create(created), None) => {
                validate_saml(created)?;
                Ok(vec![Event::IamSamlProviderCreated(created.clone())])
            }
            (SamlCommand::Create(created), Some(_)) => Err(ApiError::new(
                ErrorCode::EntityAlreadyExists,
                format!("SAMLProvider {} already exists.", created.name),
            )),
            (SamlCommand::Delete { arn }, Some(_)) => Ok(vec![Event::IamSamlProviderDeleted(
                IamSamlProviderDeleted { arn: arn.clone() },
            )]),
            (SamlCommand::Delete { arn }, None) => Err(saml_not_found(arn)),
        }
    }

    fn evolve(&mut self, event: &Event, at_ms: i64) {
        match event {
            Event::IamSamlProviderCreated(created) => {
                self.state = Some(SamlProviderState {
                    arn: created.arn.clone(),
                    name: created.name.clone(),
                    metadata_document: created.metadata_document.clone(),
                    tags: created.tags.clone(),
                    created_ms: at_ms,
                });
            }
            Event::IamSamlProviderDeleted(_) => self.state = None,
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use portcullis_aggregate::given;

    const CTX: Ctx = Ctx { now_ms: 1 };
    const ACCOUNT: &str = "000000000000";

    fn oidc(url: &str) -> IamOpenIdConnectProviderCreated {
        IamOpenIdConnectProviderCreated {
            arn: oidc_provider_arn(ACCOUNT, url),
            url: url.into(),
            client_ids: vec!["my-app".into()],
            thumbprints: vec!["a".repeat(40)],
            tags: HashMap::new(),
        }
    }

    #[test]
    fn oidc_providers_are_named_by_their_url_and_unique() {
        let provider = oidc("https://issuer.example.com/tenant");
        assert_eq!(
            provider.arn,
            "arn:aws:iam::000000000000:oidc-provider/issuer.example.com/tenant"
        );
        let events = given::<OidcProvider>(&[])
            .decide(&OidcCommand::Create(provider.clone()), &CTX)
            .unwrap();
        let state = given::<OidcProvider>(&events).state.unwrap();
        assert_eq!(state.client_ids, ["my-app"]);
        let err = given::<OidcProvider>(&events)
            .decide(&OidcCommand::Create(provider.clone()), &CTX)
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::EntityAlreadyExists);
        let delete = OidcCommand::Delete {
            arn: provider.arn.clone(),
        };
        let deleted = given::<OidcProvider>(&events)
            .decide(&delete, &CTX)
            .unwrap();
        let all: Vec<Event> = events.into_iter().chain(deleted).collect();
        assert!(given::<OidcProvider>(&all).state.is_none());
        let err = given::<OidcProvider>(&all)
            .decide(&delete, &CTX)
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::NoSuchEntity);
    }

    #[test]
    fn oidc_urls_and_thumbprints_are_validated() {
        let fresh = given::<OidcProvider>(&[]);
        for url in [
            "http://issuer.example.com",
            "https://",
            "issuer.example.com",
        ] {
            let err = fresh
                .decide(&OidcCommand::Create(oidc(url)), &CTX)
                .unwrap_err();
            assert_eq!(err.code, ErrorCode::ValidationError, "{url}");
        }
        let mut short = oidc("https://issuer.example.com");
        short.thumbprints = vec!["abc".into()];
        assert!(fresh.decide(&OidcCommand::Create(short), &CTX).is_err());
    }

    const METADATA: &str = include_str!("../../../../shared/saml/testdata/metadata.xml");

    #[test]
    fn saml_providers_need_a_name_and_a_metadata_document() {
        let provider = IamSamlProviderCreated {
            arn: saml_provider_arn(ACCOUNT, "corp-idp"),
            name: "corp-idp".into(),
            metadata_document: METADATA.into(),
            tags: HashMap::new(),
        };
        let fresh = given::<SamlProvider>(&[]);
        let events = fresh
            .decide(&SamlCommand::Create(provider.clone()), &CTX)
            .unwrap();
        let state = given::<SamlProvider>(&events).state.unwrap();
        assert_eq!(
            state.arn,
            "arn:aws:iam::000000000000:saml-provider/corp-idp"
        );
        let mut short = provider.clone();
        short.metadata_document = "<x/>".into();
        assert!(fresh.decide(&SamlCommand::Create(short), &CTX).is_err());
        // Long enough, but no identity provider with a signing key.
        let mut keyless = provider.clone();
        keyless.metadata_document = format!(
            "<EntityDescriptor xmlns='urn:oasis:names:tc:SAML:2.0:metadata' entityID='x'>{}</EntityDescriptor>",
            " ".repeat(1000)
        );
        let err = fresh
            .decide(&SamlCommand::Create(keyless), &CTX)
            .unwrap_err();
        assert_eq!(
            (err.code, err.message.as_str()),
            (ErrorCode::InvalidInput, "Could not parse metadata")
        );
        let mut bad = provider;
        bad.name = "has space".into();
        assert!(fresh.decide(&SamlCommand::Create(bad), &CTX).is_err());
    }
}
