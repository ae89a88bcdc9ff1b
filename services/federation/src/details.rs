//! `ProviderDetails` as Cognito takes them, per provider type: which keys are required
//! and allowed, which are secret (sealed apart from the log), and what Portcullis fills
//! in (a social provider's endpoints, an OpenID Connect issuer's discovered endpoints,
//! a SAML provider's single sign-on locations read from its metadata).

use std::collections::{BTreeMap, HashMap};

use portcullis_errors::ApiError;
use portcullis_outbound::{Body, Fetcher};

/// The provider types of `IdentityProviderTypeType`.
pub const TYPES: &[&str] = &[
    "SAML",
    "Facebook",
    "Google",
    "LoginWithAmazon",
    "SignInWithApple",
    "OIDC",
];

/// Types whose provider must carry the type's own name.
const SOCIAL: &[&str] = &["Facebook", "Google", "LoginWithAmazon", "SignInWithApple"];

/// Details Describe shows but that are never stored in the log.
const SECRET_KEYS: &[&str] = &["client_secret", "private_key"];
/// Secret details Describe does not show.
const WRITE_ONLY_KEYS: &[&str] = &["private_key", ENCRYPTION_KEY, ENCRYPTION_CERTIFICATE];

/// A SAML provider's key for encrypted assertions (PKCS#8 DER, base64), sealed with the
/// other secrets. Made when `EncryptedResponses` is first `true` and kept while the
/// provider exists, so turning encryption off and on keeps the certificate the identity
/// provider was given.
pub const ENCRYPTION_KEY: &str = "portcullis:encryption_key";
/// The certificate of [`ENCRYPTION_KEY`] (base64 DER), which Describe shows as
/// `ActiveEncryptionCertificate` while `EncryptedResponses` is `true`.
pub const ENCRYPTION_CERTIFICATE: &str = "portcullis:encryption_certificate";

/// Refuses detail names of Portcullis's own (`portcullis:`): they are never the
/// caller's to set.
pub fn refuse_internal(
    given: &HashMap<String, String>,
    provider_type: &str,
) -> Result<(), ApiError> {
    match given.keys().find(|k| k.starts_with("portcullis:")) {
        Some(key) => Err(ApiError::invalid_parameter(format!(
            "{key} is not a valid provider detail for provider type {provider_type}."
        ))),
        None => Ok(()),
    }
}

/// Facebook's Graph API version when none is given.
pub const FACEBOOK_API_VERSION: &str = "v17.0";

/// A provider's details after checking: what the log holds, what is sealed, and a SAML
/// provider's metadata document.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Checked {
    pub public: BTreeMap<String, String>,
    pub secret: BTreeMap<String, String>,
}

/// What Describe shows of a provider's details.
pub fn described(
    public: &HashMap<String, String>,
    secret: &BTreeMap<String, String>,
) -> HashMap<String, String> {
    let mut all = public.clone();
    all.retain(|key, _| !key.starts_with("portcullis:"));
    for (key, value) in secret {
        if !WRITE_ONLY_KEYS.contains(&key.as_str()) {
            all.insert(key.clone(), value.clone());
        }
    }
    if public
        .get("EncryptedResponses")
        .is_some_and(|v| v == "true")
        && let Some(certificate) = secret.get(ENCRYPTION_CERTIFICATE)
    {
        all.insert("ActiveEncryptionCertificate".into(), certificate.clone());
    }
    all
}

pub fn check_type(provider_type: &str) -> Result<(), ApiError> {
    if TYPES.contains(&provider_type) {
        return Ok(());
    }
    Err(ApiError::invalid_parameter(format!(
        "1 validation error detected: Value '{provider_type}' at 'providerType' failed to satisfy constraint: Member must satisfy enum value set: [{}]",
        TYPES.join(", ")
    )))
}

/// A social provider is named after its type.
pub fn check_name_for_type(name: &str, provider_type: &str) -> Result<(), ApiError> {
    if SOCIAL.contains(&provider_type) && name != provider_type {
        return Err(ApiError::invalid_parameter(format!(
            "Provider {name} cannot be of type {provider_type}."
        )));
    }
    if !SOCIAL.contains(&provider_type)
        && (SOCIAL.contains(&name) || name.eq_ignore_ascii_case("COGNITO"))
    {
        return Err(ApiError::invalid_parameter(format!(
            "Provider {name} cannot be of type {provider_type}."
        )));
    }
    Ok(())
}

/// The mapping a provider gets when it is created without one: the user's name comes
/// from the provider's subject (SAML's is the `NameID`, which needs no mapping).
pub fn default_attribute_mapping(provider_type: &str) -> BTreeMap<String, String> {
    let subject = match provider_type {
        "Facebook" => "id",
        "LoginWithAmazon" => "user_id",
        "SAML" => return BTreeMap::new(),
        _ => "sub",
    };
    [("username".to_owned(), subject.to_owned())].into()
}

fn bool_detail(details: &BTreeMap<String, String>, key: &str) -> Result<(), ApiError> {
    match details.get(key).map(String::as_str) {
        None | Some("true" | "false") => Ok(()),
        Some(_) => Err(ApiError::invalid_parameter(format!(
            "{key} must be true or false."
        ))),
    }
}

fn refuse_unknown(
    details: &BTreeMap<String, String>,
    provider_type: &str,
    allowed: &[&str],
) -> Result<(), ApiError> {
    match details.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(key) => Err(ApiError::invalid_parameter(format!(
            "{key} is not a valid provider detail for provider type {provider_type}."
        ))),
        None => Ok(()),
    }
}

/// An `http(s)` URL; plain `http` only for a loopback host (a provider on this
/// machine, for development and tests).
pub fn check_url(key: &str, url: &str) -> Result<(), ApiError> {
    let invalid = || ApiError::invalid_parameter(format!("{key} must be a valid https URL."));
    let parsed = reqwest::Url::parse(url).map_err(|_| invalid())?;
    let host = parsed.host_str().ok_or_else(invalid)?;
    let loopback = host == "localhost"
        || host
            .trim_matches(['[', ']'])
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        _ => Err(invalid()),
    }
}

/// Checks `given` for a provider of `provider_type` and completes it, fetching a SAML
/// provider's metadata from `MetadataURL` and an OpenID Connect issuer's discovery
/// document when endpoints are left out.
pub async fn check(
    provider_type: &str,
    given: &HashMap<String, String>,
    fetcher: &Fetcher,
) -> Result<Checked, ApiError> {
    // Keys Cognito computes: accepted back (Terraform sends them on update), ignored.
    let computed: &[&str] = match provider_type {
        "SAML" => &[
            "ActiveEncryptionCertificate",
            "SSORedirectBindingURI",
            "SLORedirectBindingURI",
        ],
        _ => &["attributes_url_add_attributes"],
    };
    let details: BTreeMap<String, String> = given
        .iter()
        .filter(|(k, _)| !computed.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let mut checked = match provider_type {
        "SAML" => saml(details, fetcher).await?,
        "OIDC" => oidc(details, fetcher).await?,
        "SignInWithApple" => apple(details)?,
        _ => social(provider_type, details)?,
    };
    for key in SECRET_KEYS {
        if let Some(value) = checked.public.remove(*key) {
            checked.secret.insert((*key).to_owned(), value);
        }
    }
    Ok(checked)
}

async fn saml(
    mut details: BTreeMap<String, String>,
    fetcher: &Fetcher,
) -> Result<Checked, ApiError> {
    // The encryption key pair kept from before (see `ENCRYPTION_KEY`).
    let mut secret = BTreeMap::new();
    for key in [ENCRYPTION_KEY, ENCRYPTION_CERTIFICATE] {
        if let Some(value) = details.remove(key) {
            secret.insert(key.to_owned(), value);
        }
    }
    refuse_unknown(
        &details,
        "SAML",
        &[
            "MetadataURL",
            "MetadataFile",
            "IDPSignout",
            "IDPInit",
            "EncryptedResponses",
            "RequestSigningAlgorithm",
        ],
    )?;
    for key in ["IDPSignout", "IDPInit", "EncryptedResponses"] {
        bool_detail(&details, key)?;
    }
    if let Some(algorithm) = details.get("RequestSigningAlgorithm")
        && algorithm != "rsa-sha256"
    {
        return Err(ApiError::invalid_parameter(
            "RequestSigningAlgorithm must be rsa-sha256.",
        ));
    }
    let document = match (details.get("MetadataURL"), details.get("MetadataFile")) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid_parameter(
                "Only one of MetadataURL or MetadataFile may be given.",
            ));
        }
        (None, None) => {
            return Err(ApiError::invalid_parameter(
                "Either MetadataURL or MetadataFile is required.",
            ));
        }
        (None, Some(file)) => file.clone(),
        (Some(url), None) => fetch_metadata(url, fetcher).await?,
    };
    apply_metadata(&mut details, document)?;
    Ok(Checked {
        public: details,
        secret,
    })
}

/// Completes a SAML provider's details from its metadata `document`: the single sign-on
/// and logout locations, and, for a provider configured by `MetadataURL`, the document
/// itself (Describe shows the URL, not this).
pub fn apply_metadata(
    details: &mut BTreeMap<String, String>,
    document: String,
) -> Result<(), ApiError> {
    let metadata = portcullis_saml::metadata::IdentityProvider::from_metadata(&document)
        .map_err(|e| ApiError::invalid_parameter(format!("Invalid SAML metadata: {e}.")))?;
    let redirect = |endpoints: &[portcullis_saml::metadata::Endpoint]| {
        endpoints
            .iter()
            .find(|e| e.binding == portcullis_saml::metadata::HTTP_REDIRECT)
            .map(|e| e.location.clone())
    };
    let Some(sso) = redirect(&metadata.single_sign_on) else {
        return Err(ApiError::invalid_parameter(
            "Invalid SAML metadata: the identity provider has no single sign-on service with the HTTP-Redirect binding.",
        ));
    };
    details.insert("SSORedirectBindingURI".into(), sso);
    match redirect(&metadata.single_logout) {
        Some(slo) => details.insert("SLORedirectBindingURI".into(), slo),
        None => details.remove("SLORedirectBindingURI"),
    };
    if details.contains_key("MetadataURL") {
        details.insert(METADATA_DOCUMENT.into(), document);
    }
    Ok(())
}

/// Fetches a SAML provider's metadata from its `MetadataURL` again (see
/// [`METADATA_FETCHED`]): the details with the new document, or why not.
pub async fn refetch_metadata(
    details: &HashMap<String, String>,
    fetcher: &Fetcher,
) -> Result<BTreeMap<String, String>, ApiError> {
    let url = details
        .get("MetadataURL")
        .ok_or_else(|| ApiError::invalid_parameter("The provider has no MetadataURL."))?;
    let document = fetch_metadata(url, fetcher).await?;
    let mut refreshed: BTreeMap<String, String> = details
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    apply_metadata(&mut refreshed, document)?;
    Ok(refreshed)
}

/// Where a provider configured by `MetadataURL` keeps the document fetched from it.
/// Not a Cognito key: Describe leaves it out.
pub const METADATA_DOCUMENT: &str = "portcullis:metadata_document";
/// When (Unix milliseconds) the document of [`METADATA_DOCUMENT`] was fetched; a
/// sign-in fetches it again once it is `outbound.metadata_refresh_secs` old.
pub const METADATA_FETCHED: &str = "portcullis:metadata_fetched";

async fn fetch_metadata(url: &str, fetcher: &Fetcher) -> Result<String, ApiError> {
    check_url("MetadataURL", url)?;
    let failed = || ApiError::invalid_parameter(format!("Error retrieving metadata from {url}"));
    let fetched = fetcher.fetch(url, Body::Get, &[]).await.map_err(|err| {
        tracing::info!(%url, error = %err, "SAML metadata fetch failed");
        failed()
    })?;
    if fetched.status != 200 {
        return Err(failed());
    }
    String::from_utf8(fetched.body).map_err(|_| failed())
}

fn require(
    details: &BTreeMap<String, String>,
    keys: &[&str],
    message: &str,
) -> Result<(), ApiError> {
    if keys
        .iter()
        .all(|k| details.get(*k).is_some_and(|v| !v.trim().is_empty()))
    {
        Ok(())
    } else {
        Err(ApiError::invalid_parameter(message))
    }
}

/// The endpoints Cognito fills in for a social provider.
fn social_defaults(provider_type: &str, api_version: &str) -> Vec<(&'static str, String)> {
    match provider_type {
        "Google" => vec![
            (
                "attributes_url",
                "https://people.googleapis.com/v1/people/me?personFields=".into(),
            ),
            ("attributes_url_add_attributes", "true".into()),
            (
                "authorize_url",
                "https://accounts.google.com/o/oauth2/v2/auth".into(),
            ),
            ("oidc_issuer", "https://accounts.google.com".into()),
            ("token_request_method", "POST".into()),
            (
                "token_url",
                "https://www.googleapis.com/oauth2/v4/token".into(),
            ),
        ],
        "Facebook" => vec![
            (
                "attributes_url",
                format!("https://graph.facebook.com/{api_version}/me?fields="),
            ),
            ("attributes_url_add_attributes", "true".into()),
            (
                "authorize_url",
                format!("https://www.facebook.com/{api_version}/dialog/oauth"),
            ),
            ("token_request_method", "GET".into()),
            (
                "token_url",
                format!("https://graph.facebook.com/{api_version}/oauth/access_token"),
            ),
        ],
        "LoginWithAmazon" => vec![
            (
                "attributes_url",
                "https://api.amazon.com/user/profile".into(),
            ),
            ("attributes_url_add_attributes", "false".into()),
            ("authorize_url", "https://www.amazon.com/ap/oa".into()),
            ("token_request_method", "POST".into()),
            ("token_url", "https://api.amazon.com/auth/o2/token".into()),
        ],
        _ => vec![
            ("attributes_url_add_attributes", "false".into()),
            (
                "authorize_url",
                "https://appleid.apple.com/auth/authorize".into(),
            ),
            ("oidc_issuer", "https://appleid.apple.com".into()),
            ("token_request_method", "POST".into()),
            ("token_url", "https://appleid.apple.com/auth/token".into()),
        ],
    }
}

/// Fills in the defaults, keeping endpoints the administrator gave (a stand-in of the
/// provider for development and tests); every endpoint must be an https URL.
fn complete_social(
    provider_type: &str,
    details: &mut BTreeMap<String, String>,
) -> Result<(), ApiError> {
    let version = details
        .get("api_version")
        .cloned()
        .unwrap_or_else(|| FACEBOOK_API_VERSION.to_owned());
    for (key, value) in social_defaults(provider_type, &version) {
        if key == "attributes_url_add_attributes" {
            details.insert(key.to_owned(), value);
        } else {
            details.entry(key.to_owned()).or_insert(value);
        }
    }
    if provider_type == "Facebook" {
        details.insert("api_version".into(), version);
    }
    for key in [
        "authorize_url",
        "token_url",
        "attributes_url",
        "oidc_issuer",
    ] {
        if let Some(url) = details.get(key) {
            check_url(key, url)?;
        }
    }
    if let Some(method) = details.get("token_request_method")
        && !["GET", "POST"].contains(&method.as_str())
    {
        return Err(ApiError::invalid_parameter(
            "token_request_method must be GET or POST.",
        ));
    }
    Ok(())
}

fn social(provider_type: &str, mut details: BTreeMap<String, String>) -> Result<Checked, ApiError> {
    let mut allowed = vec![
        "client_id",
        "client_secret",
        "authorize_scopes",
        "authorize_url",
        "token_url",
        "attributes_url",
        "token_request_method",
    ];
    match provider_type {
        "Google" => allowed.push("oidc_issuer"),
        "Facebook" => allowed.push("api_version"),
        _ => {}
    }
    refuse_unknown(&details, provider_type, &allowed)?;
    require(
        &details,
        &["client_id", "client_secret", "authorize_scopes"],
        "client_id, client_secret and authorize_scopes are all required idp details",
    )?;
    if let Some(version) = details.get("api_version") {
        let digits = version.strip_prefix('v').unwrap_or_default();
        let valid = !digits.is_empty()
            && digits.split('.').count() == 2
            && digits
                .split('.')
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
        if !valid {
            return Err(ApiError::invalid_parameter(
                "api_version must look like v17.0.",
            ));
        }
    }
    complete_social(provider_type, &mut details)?;
    Ok(Checked {
        public: details,
        secret: BTreeMap::new(),
    })
}

fn apple(mut details: BTreeMap<String, String>) -> Result<Checked, ApiError> {
    refuse_unknown(
        &details,
        "SignInWithApple",
        &[
            "client_id",
            "team_id",
            "key_id",
            "private_key",
            "authorize_scopes",
            "authorize_url",
            "token_url",
            "oidc_issuer",
            "token_request_method",
        ],
    )?;
    require(
        &details,
        &[
            "client_id",
            "team_id",
            "key_id",
            "private_key",
            "authorize_scopes",
        ],
        "client_id, team_id, key_id, private_key and authorize_scopes are all required idp details",
    )?;
    let key = details.get("private_key").cloned().unwrap_or_default();
    if jsonwebtoken::EncodingKey::from_ec_pem(key.as_bytes()).is_err() {
        return Err(ApiError::invalid_parameter(
            "private_key must be the PEM of an EC P-256 private key.",
        ));
    }
    complete_social("SignInWithApple", &mut details)?;
    Ok(Checked {
        public: details,
        secret: BTreeMap::new(),
    })
}

/// The endpoints an issuer's discovery document names, by the `ProviderDetails` key
/// they fill.
const DISCOVERED: &[(&str, &str)] = &[
    ("authorize_url", "authorization_endpoint"),
    ("token_url", "token_endpoint"),
    ("attributes_url", "userinfo_endpoint"),
    ("jwks_uri", "jwks_uri"),
];

async fn oidc(
    mut details: BTreeMap<String, String>,
    fetcher: &Fetcher,
) -> Result<Checked, ApiError> {
    refuse_unknown(
        &details,
        "OIDC",
        &[
            "client_id",
            "client_secret",
            "authorize_scopes",
            "attributes_request_method",
            "oidc_issuer",
            "authorize_url",
            "token_url",
            "attributes_url",
            "jwks_uri",
        ],
    )?;
    require(
        &details,
        &[
            "client_id",
            "authorize_scopes",
            "attributes_request_method",
            "oidc_issuer",
        ],
        "client_id, authorize_scopes, attributes_request_method and oidc_issuer are all required idp details",
    )?;
    if !["GET", "POST"].contains(&details["attributes_request_method"].as_str()) {
        return Err(ApiError::invalid_parameter(
            "attributes_request_method must be GET or POST.",
        ));
    }
    let issuer = details["oidc_issuer"].trim_end_matches('/').to_owned();
    check_url("oidc_issuer", &issuer)?;
    if DISCOVERED
        .iter()
        .any(|(key, _)| !details.contains_key(*key))
    {
        let discovered = discover(&issuer, fetcher).await?;
        for (key, member) in DISCOVERED {
            if let Some(url) = discovered.get(*member).and_then(|v| v.as_str()) {
                details
                    .entry((*key).to_owned())
                    .or_insert_with(|| url.to_owned());
            }
        }
    }
    for (key, _) in DISCOVERED {
        match details.get(*key) {
            Some(url) => check_url(key, url)?,
            // Userinfo is optional: the ID token's claims are the attributes then.
            None if *key == "attributes_url" => {}
            None => {
                return Err(ApiError::invalid_parameter(format!(
                    "{key} is required: the issuer's discovery document does not name it."
                )));
            }
        }
    }
    details.insert("attributes_url_add_attributes".into(), "false".into());
    Ok(Checked {
        public: details,
        secret: BTreeMap::new(),
    })
}

async fn discover(issuer: &str, fetcher: &Fetcher) -> Result<serde_json::Value, ApiError> {
    let url = format!("{issuer}/.well-known/openid-configuration");
    let failed =
        || ApiError::invalid_parameter(format!("Unable to contact the well-known endpoint {url}"));
    let fetched = fetcher.fetch(&url, Body::Get, &[]).await.map_err(|err| {
        tracing::info!(%url, error = %err, "OIDC discovery failed");
        failed()
    })?;
    if fetched.status != 200 {
        return Err(failed());
    }
    let document: serde_json::Value =
        serde_json::from_slice(&fetched.body).map_err(|_| failed())?;
    if document["issuer"].as_str().map(|i| i.trim_end_matches('/')) != Some(issuer) {
        return Err(ApiError::invalid_parameter(format!(
            "The discovery document at {url} names another issuer."
        )));
    }
    Ok(document)
}

#[cfg(test)]
mod tests {
    use super::*;
    use portcullis_outbound::Policy;

    fn fetcher() -> Fetcher {
        Fetcher::new(Policy::public_only())
    }

    fn given(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[tokio::test]
    async fn google_gets_its_endpoints_and_its_secret_is_sealed() {
        let checked = check(
            "Google",
            &given(&[
                ("client_id", "id"),
                ("client_secret", "shh"),
                ("authorize_scopes", "openid email"),
            ]),
            &fetcher(),
        )
        .await
        .unwrap();
        assert_eq!(checked.public.len(), 8);
        assert_eq!(
            checked.public["authorize_url"],
            "https://accounts.google.com/o/oauth2/v2/auth"
        );
        assert!(!checked.public.contains_key("client_secret"));
        assert_eq!(checked.secret["client_secret"], "shh");
        let shown = described(
            &checked.public.clone().into_iter().collect(),
            &checked.secret,
        );
        assert_eq!(shown.len(), 9);
    }

    #[tokio::test]
    async fn social_providers_need_their_three_details() {
        let err = check("Facebook", &given(&[("client_id", "id")]), &fetcher())
            .await
            .unwrap_err();
        assert_eq!(
            err.message,
            "client_id, client_secret and authorize_scopes are all required idp details"
        );
        let err = check(
            "Google",
            &given(&[
                ("client_id", "id"),
                ("client_secret", "s"),
                ("authorize_scopes", "openid"),
                ("MetadataURL", "https://x"),
            ]),
            &fetcher(),
        )
        .await
        .unwrap_err();
        assert!(err.message.contains("MetadataURL"));
    }

    #[tokio::test]
    async fn facebook_endpoints_follow_the_api_version() {
        let checked = check(
            "Facebook",
            &given(&[
                ("client_id", "id"),
                ("client_secret", "s"),
                ("authorize_scopes", "public_profile, email"),
                ("api_version", "v19.0"),
            ]),
            &fetcher(),
        )
        .await
        .unwrap();
        assert_eq!(
            checked.public["token_url"],
            "https://graph.facebook.com/v19.0/oauth/access_token"
        );
        assert_eq!(checked.public["token_request_method"], "GET");
    }

    #[test]
    fn social_providers_carry_their_type_name() {
        assert!(check_name_for_type("Google", "Google").is_ok());
        let err = check_name_for_type("MyGoogle", "Google").unwrap_err();
        assert_eq!(err.message, "Provider MyGoogle cannot be of type Google.");
        assert!(check_name_for_type("Google", "OIDC").is_err());
        assert!(check_name_for_type("Corp", "OIDC").is_ok());
        assert!(check_type("Twitter").is_err());
    }

    #[test]
    fn urls_are_https_or_loopback_http() {
        assert!(check_url("k", "https://idp.example.com/x").is_ok());
        assert!(check_url("k", "http://127.0.0.1:8080/x").is_ok());
        assert!(check_url("k", "http://localhost/x").is_ok());
        assert!(check_url("k", "http://idp.example.com/x").is_err());
        assert!(check_url("k", "file:///etc/passwd").is_err());
    }

    #[tokio::test]
    async fn saml_needs_exactly_one_metadata_source() {
        let err = check("SAML", &given(&[]), &fetcher()).await.unwrap_err();
        assert!(err.message.contains("MetadataURL or MetadataFile"));
        let err = check(
            "SAML",
            &given(&[("MetadataFile", "<x/>"), ("IDPSignout", "yes")]),
            &fetcher(),
        )
        .await
        .unwrap_err();
        assert_eq!(err.message, "IDPSignout must be true or false.");
        let err = check("SAML", &given(&[("MetadataFile", "<x/>")]), &fetcher())
            .await
            .unwrap_err();
        assert!(err.message.starts_with("Invalid SAML metadata"));
    }

    #[tokio::test]
    async fn private_metadata_urls_are_not_fetched() {
        let err = check(
            "SAML",
            &given(&[("MetadataURL", "http://127.0.0.1:9/metadata")]),
            &fetcher(),
        )
        .await
        .unwrap_err();
        assert_eq!(
            err.message,
            "Error retrieving metadata from http://127.0.0.1:9/metadata"
        );
    }
}
