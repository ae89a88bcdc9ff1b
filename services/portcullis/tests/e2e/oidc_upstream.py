"""A small OpenID Connect provider for the e2e scripts, on loopback: discovery, an
authorization endpoint that signs in whoever `user` says without a page, a token
endpoint that checks the client, the redirect URI and the PKCE verifier, RS256 ID
tokens (PyJWT) carrying the nonce, its keys, and a userinfo endpoint.

Under `/google`, `/apple`, `/facebook` and `/amazon` it stands in for those providers
as a user pool reaches them: Google's ID tokens; Apple's `form_post` answer (a page
whose form posts the code back) and its client secret, an ES256 JWT of the team checked
against the key in `APPLE_KEY`; Facebook's token endpoint by GET and its Graph `/me`
with `fields` and `access_token`; Amazon's profile endpoint by bearer token.

`misbehave` makes the next answers wrong on purpose: `nonce` (an ID token with another
nonce), `refuse` (the authorization endpoint answers `error=access_denied`)."""

import base64
import hashlib
import http.server
import json
import secrets
import threading
import time
import urllib.parse

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

CLIENT_ID = "portcullis-pool"
CLIENT_SECRET = "upstream-secret"
# Sign in with Apple's key of the test team (a P-256 key made for these tests).
APPLE_KEY = """-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgevZzL1gdAFr88hb2
OF/2NxApJCzGCEDdfSp6VQO30hyhRANCAAQRWz+jn65BtOMvdyHKcvjBeBSDZH2r
1RTwjmYSi9R/zpBnuQ4EiMnCqfMPWiZqB4QdbAd0E7oH50VpuZ1P087G
-----END PRIVATE KEY-----"""
APPLE_TEAM = "TEAM123456"
APPLE_KEY_ID = "KEY1234567"
SOCIAL = ("google", "apple", "facebook", "amazon")


class Upstream:
    def __init__(self, port=0):
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = secrets.token_hex(8)
        self.user = {"sub": "alice-1", "email": "alice@corp.example", "name": "Alice"}
        self.misbehave = set()
        self.codes = {}
        self.tokens = {}
        self.asked = []
        upstream = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def answer(self, status, body=None, headers=None):
                data = json.dumps(body).encode() if body is not None else b""
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                if body is not None:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):  # noqa: N802 (http.server's name)
                path, _, query = self.path.partition("?")
                upstream.asked.append(path)
                params = dict(urllib.parse.parse_qsl(query))
                flavor, rest = upstream.flavor_of(path)
                if rest == "/.well-known/openid-configuration":
                    self.answer(200, upstream.discovery())
                elif rest == "/jwks":
                    self.answer(200, upstream.jwks())
                elif rest == "/authorize" and flavor == "apple":
                    self.page(upstream.form_post(params))
                elif rest == "/authorize":
                    self.answer(302, headers={"Location": upstream.authorize(flavor, params)})
                elif rest == "/token" and flavor == "facebook":
                    self.answer(*upstream.token(flavor, params))
                elif rest == "/me" and flavor == "facebook":
                    self.graph(params)
                elif rest in ("/userinfo", "/profile"):
                    self.userinfo(flavor)
                else:
                    self.answer(404, {"error": "not_found"})

            def page(self, html):
                data = html.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def graph(self, params):
                user = upstream.tokens.get(params.get("access_token", ""))
                fields = params.get("fields", "").split(",")
                if user is None or not {"id", "email"} <= set(fields):
                    self.answer(400, {"error": {"type": "OAuthException"}})
                else:
                    self.answer(200, {"id": user["sub"], "name": user["name"],
                                      "email": user["email"]})

            def do_POST(self):  # noqa: N802
                length = int(self.headers.get("Content-Length", 0))
                form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
                upstream.asked.append(self.path)
                flavor, rest = upstream.flavor_of(self.path)
                if rest == "/token":
                    status, body = upstream.token(flavor, form)
                    self.answer(status, body, {"Cache-Control": "no-store"})
                elif rest == "/userinfo":
                    self.userinfo(flavor)
                else:
                    self.answer(404, {"error": "not_found"})

            def userinfo(self, flavor):
                bearer = self.headers.get("Authorization", "").removeprefix("Bearer ")
                user = upstream.tokens.get(bearer)
                if user is None:
                    self.answer(401, {"error": "invalid_token"})
                elif flavor == "amazon":
                    self.answer(200, {"user_id": user["sub"], "name": user["name"],
                                      "email": user["email"], "postal_code": "SW1A 1AA"})
                else:
                    self.answer(200, {**user, "locale": "en-GB"})

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @staticmethod
    def flavor_of(path):
        """`("google", "/token")` for `/google/token`; `("", path)` for the plain OIDC
        provider."""
        first, _, rest = path.lstrip("/").partition("/")
        if first in SOCIAL:
            return first, "/" + rest
        return "", path

    def issuer(self, flavor):
        return f"{self.url}/{flavor}" if flavor else self.url

    def discovery(self):
        return {
            "issuer": self.url,
            "authorization_endpoint": f"{self.url}/authorize",
            "token_endpoint": f"{self.url}/token",
            "userinfo_endpoint": f"{self.url}/userinfo",
            "jwks_uri": f"{self.url}/jwks",
            "response_types_supported": ["code"],
            "id_token_signing_alg_values_supported": ["RS256"],
        }

    def jwks(self):
        numbers = self.key.public_key().public_numbers()

        def b64(n):
            raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
            return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

        return {"keys": [{"kty": "RSA", "kid": self.kid, "use": "sig", "alg": "RS256",
                          "n": b64(numbers.n), "e": b64(numbers.e)}]}

    def grant(self, flavor, params):
        assert params["client_id"] == CLIENT_ID, params
        assert params["response_type"] == "code", params
        if flavor in ("", "google"):
            assert params["code_challenge_method"] == "S256", params
        if flavor in ("", "google", "apple"):
            assert params["nonce"], params
        code = secrets.token_urlsafe(16)
        self.codes[code] = {**params, "user": dict(self.user), "flavor": flavor}
        return code

    def authorize(self, flavor, params):
        redirect = params["redirect_uri"]
        separator = "&" if "?" in redirect else "?"
        if "refuse" in self.misbehave:
            return redirect + separator + urllib.parse.urlencode(
                {"error": "access_denied", "error_description": "the user said no",
                 "state": params["state"]})
        code = self.grant(flavor, params)
        return redirect + separator + urllib.parse.urlencode(
            {"code": code, "state": params["state"]})

    def form_post(self, params):
        """Apple's answer: a page whose form posts the code to the redirect URI."""
        assert params["response_mode"] == "form_post", params
        code = self.grant("apple", params)
        return (f'<form method="post" action="{params["redirect_uri"]}">'
                f'<input type="hidden" name="code" value="{code}">'
                f'<input type="hidden" name="state" value="{params["state"]}">'
                '<input type="hidden" name="user" value=\'{"name":{"firstName":"Al"}}\'>'
                "</form>")

    def client_ok(self, flavor, form):
        if form.get("client_id") != CLIENT_ID:
            return False
        if flavor != "apple":
            return form.get("client_secret") == CLIENT_SECRET
        public = serialization.load_pem_private_key(APPLE_KEY.encode(), None).public_key()
        try:
            header = jwt.get_unverified_header(form.get("client_secret", ""))
            secret = jwt.decode(form["client_secret"], public, algorithms=["ES256"],
                                audience=self.issuer("apple"))
        except jwt.PyJWTError:
            return False
        return (header.get("kid") == APPLE_KEY_ID and secret["iss"] == APPLE_TEAM
                and secret["sub"] == CLIENT_ID)

    def token(self, flavor, form):
        grant = self.codes.pop(form.get("code", ""), None)
        if grant is None or grant["flavor"] != flavor:
            return 400, {"error": "invalid_grant"}
        if not self.client_ok(flavor, form):
            return 401, {"error": "invalid_client"}
        if form.get("redirect_uri") != grant["redirect_uri"]:
            return 400, {"error": "invalid_grant"}
        if "code_challenge" in grant:
            verifier = form.get("code_verifier", "")
            challenge = base64.urlsafe_b64encode(
                hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
            if challenge != grant["code_challenge"]:
                return 400, {"error": "invalid_grant", "error_description": "PKCE"}
        now = int(time.time())
        user = grant["user"]
        access = secrets.token_urlsafe(24)
        self.tokens[access] = user
        if flavor in ("facebook", "amazon"):
            return 200, {"access_token": access, "token_type": "bearer", "expires_in": 300}
        nonce = "not-the-nonce" if "nonce" in self.misbehave else grant["nonce"]
        id_token = jwt.encode(
            {"iss": self.issuer(flavor), "aud": CLIENT_ID, "sub": user["sub"], "nonce": nonce,
             "iat": now, "exp": now + 300, "email": user["email"], "email_verified": True},
            self.key, algorithm="RS256", headers={"kid": self.kid})
        return 200, {"access_token": access, "id_token": id_token, "token_type": "Bearer",
                     "expires_in": 300}
