//! Cognito's rules for an app client's OAuth settings and refresh token rotation,
//! checked on create and update alike.

use portcullis_proto::events::v1::{RefreshTokenRotation, UserPoolClientSettings};

use super::{ApiError, ErrorCode};

const OAUTH_FLOWS: &[&str] = &["code", "implicit", "client_credentials"];
/// The scopes every pool has; others belong to the pool's resource servers.
const STANDARD_SCOPES: &[&str] = &[
    "phone",
    "email",
    "openid",
    "profile",
    "aws.cognito.signin.user.admin",
];

fn oauth_flow_error(message: &str) -> ApiError {
    ApiError::new(ErrorCode::InvalidOAuthFlowException, message)
}

pub fn validate_oauth(
    s: &UserPoolClientSettings,
    pool_id: &str,
    has_secret: bool,
    custom_scopes: &[String],
    identity_providers: &[String],
) -> Result<(), ApiError> {
    if let Some(bad) = s
        .allowed_oauth_flows
        .iter()
        .find(|f| !OAUTH_FLOWS.contains(&f.as_str()))
    {
        return Err(ApiError::invalid_parameter(format!(
            "1 validation error detected: Value '[{bad}]' at 'allowedOAuthFlows' failed to satisfy constraint: Member must satisfy constraint: [Member must satisfy enum value set: [implicit, client_credentials, code]]"
        )));
    }
    if let Some(bad) = s
        .allowed_oauth_scopes
        .iter()
        .find(|scope| !STANDARD_SCOPES.contains(&scope.as_str()) && !custom_scopes.contains(scope))
    {
        return Err(ApiError::new(
            ErrorCode::ScopeDoesNotExistException,
            format!("Invalid scope requested: {bad}"),
        ));
    }
    if let Some(bad) = s
        .supported_identity_providers
        .iter()
        .find(|p| p.as_str() != "COGNITO" && !identity_providers.contains(p))
    {
        return Err(ApiError::invalid_parameter(format!(
            "The provider {bad} does not exist for User Pool {pool_id}."
        )));
    }
    for url in s.callback_urls.iter().chain(&s.logout_urls) {
        validate_redirect_url(url)?;
    }
    if !s.default_redirect_uri.is_empty() {
        validate_redirect_url(&s.default_redirect_uri)?;
        if !s.callback_urls.contains(&s.default_redirect_uri) {
            return Err(ApiError::invalid_parameter(
                "DefaultRedirectURI must be one of the CallbackURLs.",
            ));
        }
    }
    let has = |flow: &str| s.allowed_oauth_flows.iter().any(|f| f == flow);
    let browser_flow = has("code") || has("implicit");
    if has("client_credentials") && browser_flow {
        return Err(oauth_flow_error(
            "client_credentials flow can not be selected along with code flow or implicit flow.",
        ));
    }
    if has("client_credentials") && !has_secret {
        return Err(oauth_flow_error(
            "client_credentials flow can not be selected if client does not have a client secret.",
        ));
    }
    if browser_flow && s.callback_urls.is_empty() {
        return Err(oauth_flow_error(
            "CallbackUrls can not be empty when code flow or implicit flow is selected",
        ));
    }
    if s.allowed_oauth_flows_user_pool_client {
        if s.allowed_oauth_flows.is_empty() {
            return Err(oauth_flow_error(
                "AllowedOAuthFlows can not be empty when AllowedOAuthFlowsUserPoolClient is true.",
            ));
        }
        if s.allowed_oauth_scopes.is_empty() {
            return Err(ApiError::invalid_parameter(
                "AllowedOAuthScopes can not be empty when AllowedOAuthFlowsUserPoolClient is true.",
            ));
        }
    }
    Ok(())
}

/// A redirect URL as Cognito takes it: absolute, no fragment, and plain HTTP only for
/// a local host (apps may use their own schemes, e.g. `myapp://callback`).
fn validate_redirect_url(url: &str) -> Result<(), ApiError> {
    let invalid = || ApiError::invalid_parameter(format!("Invalid redirect URL: {url}"));
    let (scheme, rest) = url.split_once("://").ok_or_else(invalid)?;
    let scheme_ok = !scheme.is_empty()
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c));
    if !scheme_ok
        || rest.is_empty()
        || url.contains('#')
        || url.chars().any(char::is_whitespace)
        || url.len() > 1024
    {
        return Err(invalid());
    }
    if scheme.eq_ignore_ascii_case("http") {
        let host = rest.split(['/', '?']).next().unwrap_or("");
        let host = host.rsplit_once(':').map_or(host, |(h, _)| h);
        if !["localhost", "127.0.0.1", "[::1]"].contains(&host) {
            return Err(ApiError::invalid_parameter(format!(
                "Invalid redirect URL: {url}. HTTP is only allowed for localhost; use HTTPS."
            )));
        }
    }
    Ok(())
}

/// Refresh token rotation: DISABLED unless asked for, a grace period of 0 to 60 seconds.
pub fn resolve_rotation(s: &mut UserPoolClientSettings) -> Result<(), ApiError> {
    let rotation = s
        .refresh_token_rotation
        .get_or_insert_with(RefreshTokenRotation::default);
    if rotation.feature.is_empty() {
        rotation.feature = "DISABLED".into();
    }
    if !["ENABLED", "DISABLED"].contains(&rotation.feature.as_str()) {
        return Err(ApiError::invalid_parameter(format!(
            "1 validation error detected: Value '{}' at 'refreshTokenRotation.feature' failed to satisfy constraint: Member must satisfy enum value set: [ENABLED, DISABLED]",
            rotation.feature
        )));
    }
    if rotation.retry_grace_period_seconds > 60 {
        return Err(ApiError::invalid_parameter(format!(
            "1 validation error detected: Value '{}' at 'refreshTokenRotation.retryGracePeriodSeconds' failed to satisfy constraint: Member must have value less than or equal to 60",
            rotation.retry_grace_period_seconds
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn oauth(flows: &[&str], callbacks: &[&str]) -> UserPoolClientSettings {
        UserPoolClientSettings {
            allowed_oauth_flows: flows.iter().map(|f| (*f).to_owned()).collect(),
            allowed_oauth_scopes: vec!["openid".into()],
            allowed_oauth_flows_user_pool_client: true,
            callback_urls: callbacks.iter().map(|f| (*f).to_owned()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn browser_flows_need_callback_urls() {
        let err = validate_oauth(&oauth(&["code"], &[]), "p", false, &[], &[]).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidOAuthFlowException);
        assert!(
            validate_oauth(&oauth(&["code"], &["https://app/cb"]), "p", false, &[], &[]).is_ok()
        );
    }

    #[test]
    fn client_credentials_stand_alone_and_need_a_secret() {
        let mixed = oauth(&["code", "client_credentials"], &["https://a/cb"]);
        assert!(validate_oauth(&mixed, "p", true, &[], &[]).is_err());
        let err =
            validate_oauth(&oauth(&["client_credentials"], &[]), "p", false, &[], &[]).unwrap_err();
        assert!(err.message.contains("client secret"), "{}", err.message);
    }

    #[test]
    fn redirect_urls_are_https_or_local() {
        assert!(validate_redirect_url("https://example.com/cb").is_ok());
        assert!(validate_redirect_url("http://localhost:3000/cb").is_ok());
        assert!(validate_redirect_url("myapp://callback").is_ok());
        assert!(validate_redirect_url("http://example.com/cb").is_err());
        assert!(validate_redirect_url("https://example.com/#frag").is_err());
        assert!(validate_redirect_url("not a url").is_err());
    }

    #[test]
    fn unknown_scopes_and_providers_are_refused() {
        let mut s = oauth(&["code"], &["https://a/cb"]);
        s.allowed_oauth_scopes = vec!["api/read".into()];
        let err = validate_oauth(&s, "p", false, &[], &[]).unwrap_err();
        assert_eq!(err.code, ErrorCode::ScopeDoesNotExistException);
        let custom = ["api/read".to_owned()];
        assert!(validate_oauth(&s, "p", false, &custom, &[]).is_ok());
        let mut s = oauth(&["code"], &["https://a/cb"]);
        s.supported_identity_providers = vec!["Google".into()];
        let err = validate_oauth(&s, "p", false, &[], &[]).unwrap_err();
        assert_eq!(
            err.message,
            "The provider Google does not exist for User Pool p."
        );
        let providers = ["Google".to_owned()];
        assert!(validate_oauth(&s, "p", false, &[], &providers).is_ok());
    }
}
