"""A small OpenID Connect provider for the e2e scripts, on loopback: discovery, an
authorization endpoint that signs in whoever `user` says without a page, a token
endpoint that checks the client, the redirect URI and the PKCE verifier, RS256 ID
tokens (PyJWT) carrying the nonce, its keys, and a userinfo endpoint.

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
from cryptography.hazmat.primitives.asymmetric import rsa

CLIENT_ID = "portcullis-pool"
CLIENT_SECRET = "upstream-secret"


class Upstream:
    def __init__(self):
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
                if path == "/.well-known/openid-configuration":
                    self.answer(200, upstream.discovery())
                elif path == "/jwks":
                    self.answer(200, upstream.jwks())
                elif path == "/authorize":
                    self.answer(302, headers={"Location": upstream.authorize(params)})
                elif path == "/userinfo":
                    self.userinfo()
                else:
                    self.answer(404, {"error": "not_found"})

            def do_POST(self):  # noqa: N802
                length = int(self.headers.get("Content-Length", 0))
                form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
                upstream.asked.append(self.path)
                if self.path == "/token":
                    status, body = upstream.token(form)
                    self.answer(status, body, {"Cache-Control": "no-store"})
                elif self.path == "/userinfo":
                    self.userinfo()
                else:
                    self.answer(404, {"error": "not_found"})

            def userinfo(self):
                bearer = self.headers.get("Authorization", "").removeprefix("Bearer ")
                user = upstream.tokens.get(bearer)
                if user is None:
                    self.answer(401, {"error": "invalid_token"})
                else:
                    self.answer(200, {**user, "locale": "en-GB"})

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

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

    def authorize(self, params):
        redirect = params["redirect_uri"]
        separator = "&" if "?" in redirect else "?"
        if "refuse" in self.misbehave:
            return redirect + separator + urllib.parse.urlencode(
                {"error": "access_denied", "error_description": "the user said no",
                 "state": params["state"]})
        assert params["client_id"] == CLIENT_ID, params
        assert params["response_type"] == "code", params
        assert params["code_challenge_method"] == "S256", params
        code = secrets.token_urlsafe(16)
        self.codes[code] = {**params, "user": dict(self.user)}
        return redirect + separator + urllib.parse.urlencode(
            {"code": code, "state": params["state"]})

    def token(self, form):
        grant = self.codes.pop(form.get("code", ""), None)
        if grant is None:
            return 400, {"error": "invalid_grant"}
        if (form.get("client_id"), form.get("client_secret")) != (CLIENT_ID, CLIENT_SECRET):
            return 401, {"error": "invalid_client"}
        if form.get("redirect_uri") != grant["redirect_uri"]:
            return 400, {"error": "invalid_grant"}
        verifier = form.get("code_verifier", "")
        challenge = base64.urlsafe_b64encode(
            hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        if challenge != grant["code_challenge"]:
            return 400, {"error": "invalid_grant", "error_description": "PKCE"}
        now = int(time.time())
        user = grant["user"]
        nonce = "not-the-nonce" if "nonce" in self.misbehave else grant["nonce"]
        id_token = jwt.encode(
            {"iss": self.url, "aud": CLIENT_ID, "sub": user["sub"], "nonce": nonce,
             "iat": now, "exp": now + 300, "email": user["email"], "email_verified": True},
            self.key, algorithm="RS256", headers={"kid": self.kid})
        access = secrets.token_urlsafe(24)
        self.tokens[access] = user
        return 200, {"access_token": access, "id_token": id_token, "token_type": "Bearer",
                     "expires_in": 300}
