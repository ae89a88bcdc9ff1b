//! Where the identity pools' social providers verify tokens: each endpoint can be
//! pointed elsewhere (a test's local stand-in, an egress proxy).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct SocialEndpoints {
    /// Google's signing keys (ID tokens of `accounts.google.com`).
    pub google_jwks_url: String,
    /// Sign in with Apple's signing keys (ID tokens of `appleid.apple.com`).
    pub apple_jwks_url: String,
    /// The Facebook Graph API (`/me` and `/app` for an access token).
    pub facebook_graph_url: String,
    /// Login with Amazon's API (`/auth/o2/tokeninfo`).
    pub amazon_api_url: String,
    /// Twitter's API (`/1.1/account/verify_credentials.json`).
    pub twitter_api_url: String,
}

impl Default for SocialEndpoints {
    fn default() -> Self {
        Self {
            google_jwks_url: "https://www.googleapis.com/oauth2/v3/certs".into(),
            apple_jwks_url: "https://appleid.apple.com/auth/keys".into(),
            facebook_graph_url: "https://graph.facebook.com".into(),
            amazon_api_url: "https://api.amazon.com".into(),
            twitter_api_url: "https://api.twitter.com".into(),
        }
    }
}
