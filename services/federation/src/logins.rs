//! Logins of identity pools, verified for the credentials broker: tokens of the social
//! providers a pool names in `SupportedLoginProviders`, ID tokens of the OpenID Connect
//! providers and responses of the SAML providers registered in IAM. Each social
//! provider's token is verified the way that provider expects:
//!
//! * Google (`accounts.google.com`) and Sign in with Apple (`appleid.apple.com`): an
//!   OpenID Connect ID token, RS256 against the provider's published keys (cached for
//!   an hour, fetched again for an unknown `kid` at most once a minute), with its issuer
//!   and the pool's app id as audience;
//! * Facebook (`graph.facebook.com`): an access token, which must belong to the pool's
//!   app (`/app`) and names the user (`/me`);
//! * Login with Amazon (`www.amazon.com`): an access token whose `tokeninfo` names the
//!   pool's app as audience and the user;
//! * Twitter (`api.twitter.com`): `<access token>;<access token secret>`, with the pool's
//!   app id `<consumer key>;<consumer secret>`, proven by an OAuth 1.0a-signed
//!   `account/verify_credentials` call that names the user.
//!
//! Every endpoint is configurable ([`SocialEndpoints`]), so tests point them at local
//! stand-ins; every fetch goes through the outbound policy (`outbound.allow`). The
//! subject and the claims come back for linking and role rules.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use portcullis_config::SocialEndpoints;
use portcullis_errors::{ApiError, ErrorCode};
use portcullis_outbound::{Body, Fetcher};
use serde_json::Value;

use crate::keys::KeyCache;

/// The least time between two fetches of one key set (an unknown `kid` triggers one).
const REFETCH_PAUSE: Duration = Duration::from_secs(60);

pub struct Social {
    fetcher: Fetcher,
    endpoints: SocialEndpoints,
    keys: KeyCache,
    /// OpenID providers' `jwks_uri`, from their discovery documents.
    jwks_uris: Mutex<HashMap<String, String>>,
}

fn invalid(detail: &str) -> ApiError {
    ApiError::not_authorized(format!("Invalid login token. {detail}"))
}

fn unreachable(provider: &str) -> ApiError {
    ApiError::new(
        ErrorCode::ExternalServiceException,
        format!("{provider} could not be reached to verify the token."),
    )
}

/// What a provider says of a token: who the user is, and the claims to decide with.
pub struct SocialLogin {
    pub subject: String,
    pub claims: Value,
}

impl Social {
    pub fn new(endpoints: SocialEndpoints, fetcher: Fetcher) -> Self {
        Self {
            fetcher,
            endpoints,
            keys: KeyCache::new(REFETCH_PAUSE),
            jwks_uris: Mutex::new(HashMap::new()),
        }
    }

    pub async fn verify(
        &self,
        provider: &str,
        app_id: &str,
        token: &str,
    ) -> Result<SocialLogin, ApiError> {
        match provider {
            "accounts.google.com" => {
                let issuers = ["https://accounts.google.com", "accounts.google.com"];
                self.id_token(
                    provider,
                    &self.endpoints.google_jwks_url,
                    &issuers,
                    app_id,
                    token,
                )
                .await
            }
            "appleid.apple.com" => {
                let issuers = ["https://appleid.apple.com"];
                self.id_token(
                    provider,
                    &self.endpoints.apple_jwks_url,
                    &issuers,
                    app_id,
                    token,
                )
                .await
            }
            "graph.facebook.com" => self.facebook(app_id, token).await,
            "www.amazon.com" => self.amazon(app_id, token).await,
            "api.twitter.com" => self.twitter(app_id, token).await,
            _ => Err(ApiError::new(
                ErrorCode::ExternalServiceException,
                format!("Tokens from {provider} cannot be verified by this server yet."),
            )),
        }
    }

    /// An ID token of an OpenID Connect provider registered in IAM: issued by `issuer`
    /// (its URL), for one of `client_ids`, signed with a key from the `jwks_uri` its
    /// discovery document names.
    pub async fn oidc(
        &self,
        provider: &str,
        issuer: &str,
        client_ids: &[String],
        token: &str,
    ) -> Result<SocialLogin, ApiError> {
        let issuer = issuer.trim_end_matches('/');
        let known = self
            .jwks_uris
            .lock()
            .ok()
            .and_then(|uris| uris.get(issuer).cloned());
        let jwks_uri = match known {
            Some(uri) => uri,
            None => {
                let url = format!("{issuer}/.well-known/openid-configuration");
                let (status, document) = self.get_json(provider, &url, None, &[]).await?;
                let uri = document
                    .get("jwks_uri")
                    .and_then(Value::as_str)
                    .filter(|_| status == 200)
                    .ok_or_else(|| unreachable(provider))?
                    .to_owned();
                if let Ok(mut uris) = self.jwks_uris.lock() {
                    uris.insert(issuer.to_owned(), uri.clone());
                }
                uri
            }
        };
        let audiences = client_ids.join(",");
        self.id_token(provider, &jwks_uri, &[issuer], &audiences, token)
            .await
    }

    async fn get_json(
        &self,
        provider: &str,
        url: &str,
        bearer: Option<&str>,
        query: &[(&str, &str)],
    ) -> Result<(u16, Value), ApiError> {
        let url = if query.is_empty() {
            url.to_owned()
        } else {
            let encoded = serde_urlencoded::to_string(query).map_err(|_| ApiError::internal())?;
            let separator = if url.contains('?') { '&' } else { '?' };
            format!("{url}{separator}{encoded}")
        };
        let authorization = bearer.map(|token| format!("Bearer {token}"));
        let mut headers = vec![("accept", "application/json")];
        if let Some(value) = &authorization {
            headers.push(("authorization", value));
        }
        let fetched = self
            .fetcher
            .fetch(&url, Body::Get, &headers)
            .await
            .map_err(|err| {
                tracing::warn!(provider, error = %err, "social provider unreachable");
                unreachable(provider)
            })?;
        let body = serde_json::from_slice(&fetched.body).unwrap_or(Value::Null);
        Ok((fetched.status, body))
    }

    /// The provider's keys.
    async fn key_set(&self, provider: &str, url: &str, kid: &str) -> Result<JwkSet, ApiError> {
        self.keys
            .get(&self.fetcher, url, kid)
            .await
            .map_err(|_| unreachable(provider))
    }

    async fn id_token(
        &self,
        provider: &str,
        jwks_url: &str,
        issuers: &[&str],
        app_id: &str,
        token: &str,
    ) -> Result<SocialLogin, ApiError> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| invalid("Not a valid OpenId Connect identity token."))?;
        if header.alg != Algorithm::RS256 {
            return Err(invalid("Not a valid OpenId Connect identity token."));
        }
        let kid = header.kid.unwrap_or_default();
        let set = self.key_set(provider, jwks_url, &kid).await?;
        let jwk = set
            .find(&kid)
            .ok_or_else(|| invalid("Not a valid OpenId Connect identity token."))?;
        let key = DecodingKey::from_jwk(jwk)
            .map_err(|_| invalid("Not a valid OpenId Connect identity token."))?;
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(issuers);
        let audiences: Vec<&str> = app_id.split(',').map(str::trim).collect();
        validation.set_audience(&audiences);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let data = jsonwebtoken::decode::<Value>(token, &key, &validation).map_err(|err| {
            use jsonwebtoken::errors::ErrorKind;
            match err.kind() {
                ErrorKind::ExpiredSignature => invalid("Token is expired."),
                ErrorKind::InvalidIssuer => invalid("Issuer doesn't match providerName"),
                ErrorKind::InvalidAudience => invalid("Incorrect token audience."),
                _ => invalid("Not a valid OpenId Connect identity token."),
            }
        })?;
        let subject = data
            .claims
            .get("sub")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        Ok(SocialLogin {
            subject,
            claims: data.claims,
        })
    }

    async fn facebook(&self, app_id: &str, token: &str) -> Result<SocialLogin, ApiError> {
        let provider = "graph.facebook.com";
        let base = self.endpoints.facebook_graph_url.trim_end_matches('/');
        let (status, app) = self
            .get_json(provider, &format!("{base}/app"), Some(token), &[])
            .await?;
        if status != 200 {
            return Err(invalid("The Facebook access token is not valid."));
        }
        if app.get("id").and_then(Value::as_str) != Some(app_id) {
            return Err(invalid("Incorrect token audience."));
        }
        let (status, me) = self
            .get_json(
                provider,
                &format!("{base}/me"),
                Some(token),
                &[("fields", "id,name,email")],
            )
            .await?;
        let subject = me.get("id").and_then(Value::as_str).unwrap_or_default();
        if status != 200 || subject.is_empty() {
            return Err(invalid("The Facebook access token is not valid."));
        }
        Ok(SocialLogin {
            subject: subject.to_owned(),
            claims: me,
        })
    }

    async fn twitter(&self, app_id: &str, token: &str) -> Result<SocialLogin, ApiError> {
        let provider = "api.twitter.com";
        let (Some((consumer_key, consumer_secret)), Some((access_token, token_secret))) =
            (app_id.split_once(';'), token.split_once(';'))
        else {
            return Err(invalid(
                "A Twitter login is '<access token>;<access token secret>'.",
            ));
        };
        let url = format!(
            "{}/1.1/account/verify_credentials.json",
            self.endpoints.twitter_api_url.trim_end_matches('/')
        );
        let nonce = uuid::Uuid::new_v4().simple().to_string();
        let timestamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default()
            .to_string();
        let authorization = oauth1_header(&OAuth1 {
            method: "GET",
            url: &url,
            consumer_key,
            consumer_secret,
            token: access_token,
            token_secret,
            nonce: &nonce,
            timestamp: &timestamp,
        });
        let fetched = self
            .fetcher
            .fetch(
                &url,
                Body::Get,
                &[("authorization", authorization.as_str())],
            )
            .await
            .map_err(|_| unreachable(provider))?;
        let status = fetched.status;
        let user = serde_json::from_slice::<Value>(&fetched.body).unwrap_or(Value::Null);
        let subject = user
            .get("id_str")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if status != 200 || subject.is_empty() {
            return Err(invalid("The Twitter access token is not valid."));
        }
        Ok(SocialLogin {
            subject: subject.to_owned(),
            claims: user,
        })
    }

    async fn amazon(&self, app_id: &str, token: &str) -> Result<SocialLogin, ApiError> {
        let provider = "www.amazon.com";
        let base = self.endpoints.amazon_api_url.trim_end_matches('/');
        let (status, info) = self
            .get_json(
                provider,
                &format!("{base}/auth/o2/tokeninfo"),
                None,
                &[("access_token", token)],
            )
            .await?;
        if status != 200 {
            return Err(invalid("The Login with Amazon access token is not valid."));
        }
        if info.get("aud").and_then(Value::as_str) != Some(app_id) {
            return Err(invalid("Incorrect token audience."));
        }
        let subject = info
            .get("user_id")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if subject.is_empty() {
            return Err(invalid("The Login with Amazon access token is not valid."));
        }
        Ok(SocialLogin {
            subject: subject.to_owned(),
            claims: info,
        })
    }
}

/// An OAuth 1.0a request to sign (RFC 5849, HMAC-SHA1, no body or query parameters).
struct OAuth1<'a> {
    method: &'a str,
    url: &'a str,
    consumer_key: &'a str,
    consumer_secret: &'a str,
    token: &'a str,
    token_secret: &'a str,
    nonce: &'a str,
    timestamp: &'a str,
}

/// RFC 3986 percent-encoding of everything but the unreserved characters.
fn percent(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The `Authorization: OAuth ...` header of a signed request.
fn oauth1_header(request: &OAuth1<'_>) -> String {
    use aws_lc_rs::hmac;
    use base64::Engine as _;
    let params = [
        ("oauth_consumer_key", request.consumer_key),
        ("oauth_nonce", request.nonce),
        ("oauth_signature_method", "HMAC-SHA1"),
        ("oauth_timestamp", request.timestamp),
        ("oauth_token", request.token),
        ("oauth_version", "1.0"),
    ];
    let joined = params
        .iter()
        .map(|(k, v)| format!("{}={}", percent(k), percent(v)))
        .collect::<Vec<_>>()
        .join("&");
    let base = format!(
        "{}&{}&{}",
        request.method,
        percent(request.url),
        percent(&joined)
    );
    let key = format!(
        "{}&{}",
        percent(request.consumer_secret),
        percent(request.token_secret)
    );
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, key.as_bytes());
    let signature = base64::engine::general_purpose::STANDARD
        .encode(hmac::sign(&key, base.as_bytes()).as_ref());
    let mut fields: Vec<String> = params
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", percent(v)))
        .collect();
    fields.push(format!("oauth_signature=\"{}\"", percent(&signature)));
    format!("OAuth {}", fields.join(", "))
}

/// The service provider identity providers are configured for when they sign users in
/// to AWS, which SAML responses for identity pools are addressed to: its entity id and
/// its assertion consumer (also a regional one, `https://<region>.signin...`).
const SAML_ENTITY: &str = "urn:amazon:webservices";
const SAML_ACS: &str = "https://signin.aws.amazon.com/saml";
/// Clock difference tolerated between this server and an identity provider.
const SAML_SKEW: time::Duration = time::Duration::minutes(5);

/// What a SAML response of an identity pool's login proves.
pub struct SamlLogin {
    /// The assertion's `NameID`.
    pub subject: String,
    /// Its attributes (a single value as a string, several as an array), `sub`, `aud`
    /// and `iss`.
    pub claims: Value,
    /// A digest of the assertion's issuer and id: the login is spent under it.
    pub spent_key: String,
    /// How long the assertion stays usable (skew included).
    pub valid: Duration,
}

/// A base64 SAML response from an identity provider registered in IAM (`metadata`):
/// signed by a key of its metadata and addressed to AWS as a service provider, in
/// `region` or globally.
pub fn verify_saml(
    provider: &str,
    metadata: &str,
    region: &str,
    token: &str,
) -> Result<SamlLogin, ApiError> {
    use base64::Engine as _;
    let unusable = || {
        ApiError::new(
            ErrorCode::InvalidIdentityPoolConfigurationException,
            format!("The SAML provider {provider} does not exist."),
        )
    };
    let idp = portcullis_saml::IdentityProvider::from_metadata(metadata).map_err(|_| unusable())?;
    let compact: String = token.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let xml = base64::engine::general_purpose::STANDARD
        .decode(compact)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(|| invalid("The SAML response is not base64-encoded XML."))?;
    let regional = format!("https://{region}.signin.aws.amazon.com/saml");
    let acs = [SAML_ACS, regional.as_str()];
    let audiences = [SAML_ENTITY, SAML_ACS, regional.as_str()];
    let expect = portcullis_saml::Expectations {
        audiences: &audiences,
        recipients: &acs,
        in_response_to: None,
        now: time::OffsetDateTime::now_utc(),
        skew: SAML_SKEW,
        decryption: None,
    };
    let assertion =
        portcullis_saml::read_response(&xml, &idp, &expect).map_err(|e| invalid(&e.to_string()))?;
    // Spendable until it expires (skew included); an assertion without an end is
    // remembered for a day, longer than any provider's validity.
    let lasts = assertion
        .not_on_or_after
        .map_or(time::Duration::days(1), |end| end - expect.now + SAML_SKEW);
    let digest = aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        format!("{}\n{}", assertion.issuer, assertion.id).as_bytes(),
    );
    let mut claims = serde_json::Map::new();
    for (name, values) in &assertion.attributes {
        let value = match values.as_slice() {
            [one] => Value::String(one.clone()),
            many => Value::from(many.to_vec()),
        };
        claims.insert(name.clone(), value);
    }
    claims.insert("sub".into(), Value::String(assertion.name_id.clone()));
    claims.insert("aud".into(), Value::String(assertion.audience.clone()));
    claims.insert("iss".into(), Value::String(assertion.issuer.clone()));
    Ok(SamlLogin {
        subject: assertion.name_id,
        claims: Value::Object(claims),
        spent_key: hex::encode(digest),
        valid: Duration::try_from(lasts)
            .unwrap_or_default()
            .max(Duration::from_secs(1)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The expected signature was computed independently, with Python's `hmac` and
    /// `urllib.parse.quote` building the RFC 5849 base string and key.
    #[test]
    fn oauth1_signatures_follow_rfc_5849() {
        let header = oauth1_header(&OAuth1 {
            method: "GET",
            url: "https://api.twitter.com/1.1/account/verify_credentials.json",
            consumer_key: "key",
            consumer_secret: "secret",
            token: "token",
            token_secret: "token secret",
            nonce: "abc",
            timestamp: "1700000000",
        });
        assert!(header.starts_with("OAuth oauth_consumer_key=\"key\", oauth_nonce=\"abc\""));
        assert!(
            header.ends_with("oauth_signature=\"B0HPzSgCTD9k8NrM00%2FAKnAPDWs%3D\""),
            "{header}"
        );
        assert_eq!(percent("a b&c/~"), "a%20b%26c%2F~");
    }
}
