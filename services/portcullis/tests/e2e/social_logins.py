"""Social logins in an identity pool, against local stand-ins for Google, Sign in with
Apple, Facebook, Login with Amazon and Twitter (the server's `PORTCULLIS_SOCIAL_*` endpoints
point here): tokens are verified, one identity per user, logins of several providers
link to one identity and merge two, and forged, expired, foreign and misaddressed
tokens are refused.

Usage: social_logins.py URL STAND_IN_PORT"""

import base64
import hashlib
import hmac
import json
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import jwt
from botocore import UNSIGNED
from botocore.config import Config
from cryptography.hazmat.primitives.asymmetric import rsa

from e2e_common import REGION, URL, check, expect_error

PORT = int(sys.argv[2])
admin = boto3.client("cognito-identity", endpoint_url=URL, region_name=REGION,
                     config=Config(retries={"max_attempts": 1}))
public = boto3.client("cognito-identity", endpoint_url=URL, region_name=REGION,
                      config=Config(signature_version=UNSIGNED, retries={"max_attempts": 1}))


def b64(n):
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class Issuer:
    """An OpenID provider's key and its JWKS."""

    def __init__(self, iss, kid):
        self.iss, self.kid = iss, kid
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def jwks(self):
        numbers = self.key.public_key().public_numbers()
        return {"keys": [{"kty": "RSA", "kid": self.kid, "alg": "RS256", "use": "sig",
                          "n": b64(numbers.n), "e": b64(numbers.e)}]}

    def token(self, sub, aud, ttl=600, **extra):
        now = int(time.time())
        claims = {"iss": self.iss, "sub": sub, "aud": aud, "iat": now, "exp": now + ttl, **extra}
        return jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": self.kid})


google = Issuer("https://accounts.google.com", "g1")
OIDC_URL = f"http://127.0.0.1:{PORT}/oidc"
oidc = Issuer(OIDC_URL, "o1")
apple = Issuer("https://appleid.apple.com", "a1")
impostor = Issuer("https://accounts.google.com", "g1")  # same kid, other key
# access token -> (app, user)
FACEBOOK = {"fb-token-ada": ("fb-app", "10001"), "fb-token-other-app": ("other-app", "10002")}
AMAZON = {"amzn-token-ada": ("amzn-app", "amzn1.account.ADA")}
# Twitter: consumer key/secret of the app, access token/secret of the user.
TWITTER_APP = ("tw-key", "tw-secret")
TWITTER = {"tw-token-ada": ("tw-token-secret", "777")}


def quote(text):
    return urllib.parse.quote(text, safe="-._~")


def oauth1_valid(method, url, header):
    """Checks an OAuth 1.0a HMAC-SHA1 Authorization header as Twitter would."""
    if not header.startswith("OAuth "):
        return None
    fields = dict(part.strip().split("=", 1) for part in header[6:].split(","))
    fields = {k: urllib.parse.unquote(v.strip('"')) for k, v in fields.items()}
    signature = fields.pop("oauth_signature", "")
    token = fields.get("oauth_token")
    if fields.get("oauth_consumer_key") != TWITTER_APP[0] or token not in TWITTER:
        return None
    joined = "&".join(f"{quote(k)}={quote(v)}" for k, v in sorted(fields.items()))
    base = f"{method}&{quote(url)}&{quote(joined)}"
    key = f"{quote(TWITTER_APP[1])}&{quote(TWITTER[token][0])}"
    expected = base64.b64encode(hmac.new(key.encode(), base.encode(), hashlib.sha1).digest())
    return TWITTER[token][1] if hmac.compare_digest(expected.decode(), signature) else None


class StandIn(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        query = urllib.parse.parse_qs(url.query)
        bearer = self.headers.get("Authorization", "").removeprefix("Bearer ")
        if url.path == "/google/certs":
            return self.answer(200, google.jwks())
        if url.path == "/apple/keys":
            return self.answer(200, apple.jwks())
        if url.path == "/oidc/.well-known/openid-configuration":
            return self.answer(200, {"issuer": OIDC_URL, "jwks_uri": f"{OIDC_URL}/keys"})
        if url.path == "/oidc/keys":
            return self.answer(200, oidc.jwks())
        if url.path in ("/facebook/app", "/facebook/me"):
            if bearer not in FACEBOOK:
                return self.answer(400, {"error": {"message": "Invalid OAuth access token."}})
            app, user = FACEBOOK[bearer]
            if url.path == "/facebook/app":
                return self.answer(200, {"id": app, "name": "demo"})
            return self.answer(200, {"id": user, "name": "Ada"})
        if url.path == "/twitter/1.1/account/verify_credentials.json":
            full = f"http://127.0.0.1:{PORT}{url.path}"
            user = oauth1_valid("GET", full, self.headers.get("Authorization", ""))
            if user is None:
                return self.answer(401, {"errors": [{"code": 89}]})
            return self.answer(200, {"id_str": user, "screen_name": "ada"})
        if url.path == "/amazon/auth/o2/tokeninfo":
            token = query.get("access_token", [""])[0]
            if token not in AMAZON:
                return self.answer(400, {"error": "invalid_token"})
            app, user = AMAZON[token]
            return self.answer(200, {"aud": app, "user_id": user, "exp": 3600})
        self.answer(404, {})


server = ThreadingHTTPServer(("127.0.0.1", PORT), StandIn)
threading.Thread(target=server.serve_forever, daemon=True).start()

iam = boto3.client("iam", endpoint_url=URL, region_name=REGION,
                   config=Config(retries={"max_attempts": 1}))
oidc_arn = iam.create_open_id_connect_provider(
    Url=OIDC_URL, ClientIDList=["oidc-client"])["OpenIDConnectProviderArn"]
OIDC_KEY = OIDC_URL.removeprefix("http://")
assert oidc_arn.endswith(f":oidc-provider/{OIDC_KEY}"), oidc_arn
pool_id = admin.create_identity_pool(
    IdentityPoolName="social", AllowUnauthenticatedIdentities=False,
    OpenIdConnectProviderARNs=[oidc_arn],
    SupportedLoginProviders={"accounts.google.com": "google-client",
                             "appleid.apple.com": "com.example.app",
                             "graph.facebook.com": "fb-app",
                             "www.amazon.com": "amzn-app",
                             "api.twitter.com": ";".join(TWITTER_APP)},
)["IdentityPoolId"]


def get_id(logins):
    return public.get_id(IdentityPoolId=pool_id, Logins=logins)["IdentityId"]


def amr_of(identity_id, logins):
    token = public.get_open_id_token(IdentityId=identity_id, Logins=logins)["Token"]
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["amr"]


# Google and Apple ID tokens.
ada_google = {"accounts.google.com": google.token("g-ada", "google-client", email="ada@x")}
ada = get_id(ada_google)
assert get_id({"accounts.google.com": google.token("g-ada", "google-client")}) == ada
assert get_id({"accounts.google.com": google.token("g-bob", "google-client")}) != ada
amr = amr_of(ada, ada_google)
assert amr[:2] == ["authenticated", "accounts.google.com"], amr
assert amr[2] == "accounts.google.com:google-client:g-ada", amr
apple_id = get_id({"appleid.apple.com": apple.token("a-ada", "com.example.app")})
assert apple_id != ada
check("Google and Apple ID tokens are verified against the providers' keys")

for label, token in [
    ("wrong audience", google.token("g-ada", "someone-else")),
    ("expired", google.token("g-ada", "google-client", ttl=-120)),
    ("forged key", impostor.token("g-ada", "google-client")),
    ("unknown key", apple.token("g-ada", "google-client")),
    ("wrong issuer", google.token("g-ada", "google-client", iss="https://evil.example")),
    ("not a token", "not-a-jwt"),
]:
    message = expect_error("NotAuthorizedException", public.get_id, IdentityPoolId=pool_id,
                           Logins={"accounts.google.com": token})
    assert message.startswith("Invalid login token."), (label, message)
    if label == "wrong issuer":
        assert "Issuer" in message, message
    if label == "expired":
        assert "expired" in message, message
check("wrong-audience, expired, forged, unknown-key, misissued and malformed ID tokens are refused")

# An OpenID Connect provider registered in IAM, found through its discovery document.
oidc_user = get_id({OIDC_KEY: oidc.token("o-ada", "oidc-client")})
assert get_id({OIDC_KEY: oidc.token("o-ada", "oidc-client")}) == oidc_user
expect_error("NotAuthorizedException", public.get_id, IdentityPoolId=pool_id,
             Logins={OIDC_KEY: oidc.token("o-ada", "another-client")})
expect_error("NotAuthorizedException", public.get_id, IdentityPoolId=pool_id,
             Logins={OIDC_KEY: google.token("o-ada", "oidc-client")})
check("an OpenID Connect provider's ID tokens are verified by its discovery document's keys")

# Facebook and Amazon access tokens.
fb = get_id({"graph.facebook.com": "fb-token-ada"})
assert get_id({"graph.facebook.com": "fb-token-ada"}) == fb
expect_error("NotAuthorizedException", public.get_id, IdentityPoolId=pool_id,
             Logins={"graph.facebook.com": "fb-token-other-app"})
expect_error("NotAuthorizedException", public.get_id, IdentityPoolId=pool_id,
             Logins={"graph.facebook.com": "fb-token-unknown"})
amzn = get_id({"www.amazon.com": "amzn-token-ada"})
expect_error("NotAuthorizedException", public.get_id, IdentityPoolId=pool_id,
             Logins={"www.amazon.com": "nope"})
check("Facebook and Amazon access tokens are checked with the providers' APIs")

# Several logins: linking a new one, then merging two identities.
linked = get_id({**ada_google, "graph.facebook.com": "fb-token-ada"})
assert linked in (ada, fb)
merged_away = fb if linked == ada else ada
assert get_id({"graph.facebook.com": "fb-token-ada"}) == linked
assert get_id(ada_google) == linked
expect_error("ResourceNotFoundException", admin.describe_identity, IdentityId=merged_away)
logins = admin.describe_identity(IdentityId=linked)["Logins"]
assert sorted(logins) == ["accounts.google.com", "graph.facebook.com"], logins
both = get_id({"www.amazon.com": "amzn-token-ada", "appleid.apple.com":
               apple.token("a-ada", "com.example.app")})
assert both in (amzn, apple_id)
check("logins of several providers lead to one identity, merging two that existed")

tw = get_id({"api.twitter.com": "tw-token-ada;tw-token-secret"})
assert get_id({"api.twitter.com": "tw-token-ada;tw-token-secret"}) == tw
expect_error("NotAuthorizedException", public.get_id, IdentityPoolId=pool_id,
             Logins={"api.twitter.com": "tw-token-ada;wrong-secret"})
expect_error("NotAuthorizedException", public.get_id, IdentityPoolId=pool_id,
             Logins={"api.twitter.com": "no-separator"})
check("Twitter logins are proven by an OAuth 1.0a-signed verify_credentials call")

unauth = expect_error("NotAuthorizedException", public.get_id, IdentityPoolId=pool_id)
assert unauth == "Unauthenticated access is not supported for this identity pool.", unauth
check("guests of a pool without them are refused")
server.shutdown()
