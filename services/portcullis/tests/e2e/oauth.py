"""The OAuth 2.0 server and the hosted sign-in pages, over plain HTTP: a scripted browser
(urllib with a cookie jar, never following a redirect to the client) signs in on the
login form and the MFA page, and a scripted client exchanges codes at the token endpoint.

Ports the checks of the OpenID Foundation's basic OP plan that apply to a code-flow
provider (code reuse, nonce, scopes, prompt, max_age, userinfo, refresh, PKCE) and the
security rules of RFC 9700: exact redirect URIs, no open redirect, single-use codes that
revoke on replay, PKCE S256 only, CSRF on every form, `iss` in the response (RFC 9207),
no-store token answers, frame-ancestors 'none' and no referrer on pages.

Usage: oauth.py URL OUTBOX"""

import base64
import hashlib
import html
import html.parser
import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

import boto3
import botocore
import contract  # noqa: F401  (checks every answer against the model)
from browser import Browser, Forms, NoRedirect, claims, fragment_of, pkce, query_of  # noqa: F401
import jwt
import pyotp
from botocore.config import Config

url, outbox = sys.argv[1], sys.argv[2]
config = Config(retries={"max_attempts": 1})
admin = boto3.client("cognito-idp", endpoint_url=url, region_name="us-east-1", config=config)
public = boto3.client("cognito-idp", endpoint_url=url, region_name="us-east-1",
                      config=config.merge(Config(signature_version=botocore.UNSIGNED)))
PASSWORD = "0Auth!Passw0rd"
CALLBACK = "https://app.example.com/callback"
SIGNED_OUT = "https://app.example.com/signed-out"


def form_of(answer):
    """The page's main (first) form."""
    forms = Forms(answer.body).forms
    assert forms, answer.body
    return forms[0]


# --- a pool, its domain, clients and users --------------------------------------------
pool = admin.create_user_pool(
    PoolName="oauth", AutoVerifiedAttributes=["email"],
    Schema=[{"Name": "email", "AttributeDataType": "String", "Mutable": True, "Required": False}],
)["UserPool"]["Id"]
issuer = f"{url}/{pool}"
discovery = json.loads(urllib.request.urlopen(f"{issuer}/.well-known/openid-configuration").read())
assert "authorization_endpoint" not in discovery, "no domain, no OAuth endpoints"
prefix = "oauth-" + uuid.uuid4().hex[:10]
admin.create_user_pool_domain(UserPoolId=pool, Domain=prefix)
base = f"{url}/domain/{prefix}"
discovery = json.loads(urllib.request.urlopen(f"{issuer}/.well-known/openid-configuration").read())
assert discovery["issuer"] == issuer
assert discovery["authorization_endpoint"] == f"{base}/oauth2/authorize"
assert discovery["token_endpoint"] == f"{base}/oauth2/token"
assert discovery["userinfo_endpoint"] == f"{base}/oauth2/userInfo"
assert discovery["code_challenge_methods_supported"] == ["S256"]
assert discovery["authorization_response_iss_parameter_supported"] is True

client_id = admin.create_user_pool_client(
    UserPoolId=pool, ClientName="spa",
    AllowedOAuthFlows=["code"], AllowedOAuthFlowsUserPoolClient=True,
    AllowedOAuthScopes=["openid", "email", "profile", "aws.cognito.signin.user.admin"],
    CallbackURLs=[CALLBACK, "https://app.example.com/other"], LogoutURLs=[SIGNED_OUT],
    SupportedIdentityProviders=["COGNITO"], EnableTokenRevocation=True,
    ExplicitAuthFlows=["ALLOW_REFRESH_TOKEN_AUTH"],
)["UserPoolClient"]["ClientId"]
secret_client = admin.create_user_pool_client(
    UserPoolId=pool, ClientName="server", GenerateSecret=True,
    AllowedOAuthFlows=["code", "implicit"], AllowedOAuthFlowsUserPoolClient=True,
    AllowedOAuthScopes=["openid", "phone"], CallbackURLs=[CALLBACK],
    SupportedIdentityProviders=["COGNITO"],
)["UserPoolClient"]
no_oauth_client = admin.create_user_pool_client(UserPoolId=pool, ClientName="api-only")[
    "UserPoolClient"]["ClientId"]


def make_user(name, **extra):
    admin.admin_create_user(UserPoolId=pool, Username=name, MessageAction="SUPPRESS",
                            UserAttributes=[{"Name": "email", "Value": f"{name}@example.com"},
                                            {"Name": "email_verified", "Value": "true"}], **extra)
    admin.admin_set_user_password(UserPoolId=pool, Username=name, Password=PASSWORD, Permanent=True)


make_user("ada")


def authorize_url(client=client_id, **params):
    query = {"client_id": client, "redirect_uri": CALLBACK, "response_type": "code",
             "scope": "openid email profile aws.cognito.signin.user.admin", "state": "st-" + uuid.uuid4().hex}
    query.update(params)
    query = {k: v for k, v in query.items() if v is not None}
    return f"{base}/oauth2/authorize?" + urllib.parse.urlencode(query), query


def sign_in(browser, username="ada", password=PASSWORD, **params):
    """Authorize, sign in on the form; returns the answer to the form's POST."""
    target, query = authorize_url(**params)
    first = browser.request(target)
    assert first.status == 302, (first.status, first.body)
    assert first.location.startswith(f"{base}/login?"), first.location
    page = browser.request(first.location)
    assert page.status == 200, page.body
    headers = page.headers
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["Cache-Control"] == "no-store"
    assert headers["X-Frame-Options"] == "DENY"
    form = form_of(page)
    fields = dict(form["fields"], username=username, password=password)
    assert fields["_csrf"] and fields["state"] == query["state"]
    return browser.request(urllib.parse.urljoin(first.location, form["action"]), fields), query


def code_from(answer, query):
    assert answer.status in (302, 303), (answer.status, answer.body)
    params, parsed = query_of(answer.location)
    assert f"{parsed.scheme}://{parsed.netloc}{parsed.path}" == query["redirect_uri"]
    assert params["state"] == query["state"], params
    assert params["iss"] == issuer, params
    return params["code"]


def token_request(form, auth=None, endpoint="token"):
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if auth:
        headers["Authorization"] = "Basic " + base64.b64encode(auth.encode()).decode()
    return Browser().request(f"{base}/oauth2/{endpoint}", form, headers)


def exchange(code, verifier=None, client=client_id, redirect_uri=CALLBACK, auth=None):
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
    if not auth:
        form["client_id"] = client
    if verifier is not None:
        form["code_verifier"] = verifier
    return token_request(form, auth)


def user_info(access_token):
    return Browser().request(f"{base}/oauth2/userInfo", headers={"Authorization": f"Bearer {access_token}"})


def introspect(token, client=secret_client):
    return token_request({"token": token}, auth=f"{client['ClientId']}:{client['ClientSecret']}",
                         endpoint="introspect").json()


# --- the code flow with PKCE and a nonce ----------------------------------------------
browser = Browser()
verifier, challenge = pkce()
nonce = uuid.uuid4().hex
answer, query = sign_in(browser, code_challenge=challenge, code_challenge_method="S256", nonce=nonce)
assert answer.status == 303, "a credential POST answers 303"
assert browser.cookie("cognito"), "a browser session cookie was set"
code = code_from(answer, query)

tokens_answer = exchange(code, verifier)
assert tokens_answer.status == 200, tokens_answer.body
assert tokens_answer.headers["Cache-Control"] == "no-store"
assert tokens_answer.headers["Pragma"] == "no-cache"
tokens = tokens_answer.json()
assert tokens["token_type"] == "Bearer" and tokens["expires_in"] == 3600
id_claims = claims(tokens["id_token"])
access_claims = claims(tokens["access_token"])
assert id_claims["nonce"] == nonce
assert id_claims["aud"] == client_id and id_claims["iss"] == issuer and id_claims["token_use"] == "id"
assert id_claims["email"] == "ada@example.com" and id_claims["cognito:username"] == "ada"
digest = hashlib.sha256(tokens["access_token"].encode()).digest()
assert id_claims["at_hash"] == base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode()
assert sorted(access_claims["scope"].split()) == sorted(query["scope"].split())
assert access_claims["client_id"] == client_id and access_claims["token_use"] == "access"
assert access_claims["auth_time"] == id_claims["auth_time"]
# The signature verifies against the pool's published keys.
jwks = jwt.PyJWKClient(f"{issuer}/.well-known/jwks.json")
jwt.decode(tokens["id_token"], jwks.get_signing_key_from_jwt(tokens["id_token"]).key,
           algorithms=["RS256"], audience=client_id, issuer=issuer)
# With aws.cognito.signin.user.admin the access token works on the user API too.
assert public.get_user(AccessToken=tokens["access_token"])["Username"] == "ada"

info = user_info(tokens["access_token"])
assert info.status == 200, info.body
assert info.json()["sub"] == id_claims["sub"] and info.json()["email"] == "ada@example.com"
assert info.json()["username"] == "ada"
post_info = Browser().request(f"{base}/oauth2/userInfo", data=b"",
                              headers={"Authorization": f"Bearer {tokens['access_token']}"})
assert post_info.status == 200 and post_info.json() == info.json()
assert user_info(tokens["id_token"]).status == 401, "an ID token is not an access token"
assert user_info("not-a-token").status == 401
assert "invalid_token" in user_info("x.y.z").headers["WWW-Authenticate"]

# A code is single use: a replay fails and revokes what the first exchange issued.
replay = exchange(code, verifier)
assert replay.status == 400 and replay.json()["error"] == "invalid_grant"
assert user_info(tokens["access_token"]).status == 401, "tokens of a replayed code are revoked"
refresh = token_request({"grant_type": "refresh_token", "client_id": client_id,
                         "refresh_token": tokens["refresh_token"]})
assert refresh.json()["error"] == "invalid_grant"

# --- silent authorization, prompt and max_age -------------------------------------
target, query = authorize_url(nonce="n2")
silent = browser.request(target)
assert silent.status == 302, "a browser session signs in silently"
code = code_from(silent, query)
tokens = exchange(code).json()
assert claims(tokens["id_token"])["nonce"] == "n2"

target, query = authorize_url(prompt="login")
forced = browser.request(target)
assert forced.location.startswith(f"{base}/login?"), "prompt=login asks again"

target, query = authorize_url(prompt="none")
none = Browser().request(target)
params, _ = query_of(none.location)
assert params["error"] == "login_required" and params["state"] == query["state"]
target, query = authorize_url(prompt="none")
assert "code" in query_of(browser.request(target).location)[0], "prompt=none with a session"

time.sleep(1.1)
target, query = authorize_url(max_age="0")
assert browser.request(target).location.startswith(f"{base}/login?"), "max_age=0 asks again"
params, _ = query_of(browser.request(authorize_url(max_age="soon")[0]).location)
assert params["error"] == "invalid_request" and "code" not in params, "max_age must be seconds"
target, query = authorize_url(max_age="3600")
assert "code" in query_of(browser.request(target).location)[0]

# --- refresh, userinfo scopes, revocation and introspection ----------------------------
target, query = authorize_url(scope="openid email")
tokens = exchange(code_from(browser.request(target), query)).json()
assert claims(tokens["access_token"])["scope"] == "openid email"
info = user_info(tokens["access_token"]).json()
assert set(info) == {"sub", "email", "email_verified", "username"}, info
refreshed = token_request({"grant_type": "refresh_token", "client_id": client_id,
                           "refresh_token": tokens["refresh_token"]})
assert refreshed.status == 200, refreshed.body
refreshed = refreshed.json()
assert "refresh_token" not in refreshed
assert claims(refreshed["access_token"])["scope"] == "openid email", "scopes survive a refresh"
assert claims(refreshed["id_token"])["auth_time"] == claims(tokens["id_token"])["auth_time"]
assert "nonce" not in claims(refreshed["id_token"])
assert introspect(refreshed["access_token"])["active"] is True
assert introspect(refreshed["access_token"])["username"] == "ada"
revoked = token_request({"token": tokens["refresh_token"], "client_id": client_id}, endpoint="revoke")
assert revoked.status == 200, revoked.body
assert introspect(refreshed["access_token"]) == {"active": False}, "revocation is visible"
assert user_info(refreshed["access_token"]).status == 401
again = token_request({"grant_type": "refresh_token", "client_id": client_id,
                       "refresh_token": tokens["refresh_token"]})
assert again.json()["error"] == "invalid_grant"
assert introspect("garbage") == {"active": False}
bad_caller = token_request({"token": refreshed["access_token"]}, auth=f"{secret_client['ClientId']}:wrong",
                           endpoint="introspect")
assert bad_caller.status == 401 and bad_caller.json()["error"] == "invalid_client"
# A public client's id is no secret: it cannot introspect (RFC 7662 section 4).
public_caller = token_request({"token": refreshed["access_token"], "client_id": client_id},
                              endpoint="introspect")
assert public_caller.status == 401 and public_caller.json()["error"] == "invalid_client"

# --- disabling a user revokes every token they hold, on every path ---------------------
make_user("cleo")
answer, query = sign_in(Browser(), username="cleo")
held = exchange(code_from(answer, query)).json()
assert user_info(held["access_token"]).status == 200
assert introspect(held["access_token"])["active"] is True
admin.admin_disable_user(UserPoolId=pool, Username="cleo")
for attempt in (lambda: public.get_user(AccessToken=held["access_token"]),
                lambda: public.update_user_attributes(
                    AccessToken=held["access_token"],
                    UserAttributes=[{"Name": "name", "Value": "Cleo"}]),
                lambda: public.global_sign_out(AccessToken=held["access_token"])):
    try:
        attempt()
        raise AssertionError("a disabled user's access token was accepted")
    except botocore.exceptions.ClientError as err:
        assert err.response["Error"]["Code"] == "NotAuthorizedException", err.response
        assert err.response["Error"]["Message"] == "Access Token has been revoked", err.response
assert user_info(held["access_token"]).status == 401
assert introspect(held["access_token"]) == {"active": False}
refused = token_request({"grant_type": "refresh_token", "client_id": client_id,
                         "refresh_token": held["refresh_token"]})
assert refused.json()["error"] == "invalid_grant", refused.body
admin.admin_enable_user(UserPoolId=pool, Username="cleo")
assert user_info(held["access_token"]).status == 401, "enabling does not bring tokens back"
assert introspect(held["access_token"]) == {"active": False}
answer, query = sign_in(Browser(), username="cleo")
fresh = exchange(code_from(answer, query)).json()
assert user_info(fresh["access_token"]).status == 200, "a new sign-in works again"

# Without openid: no ID token, and no userinfo.
target, query = authorize_url(scope="aws.cognito.signin.user.admin")
tokens = exchange(code_from(browser.request(target), query)).json()
assert "id_token" not in tokens
assert user_info(tokens["access_token"]).status == 403

# --- PKCE ----------------------------------------------------------------------------
verifier, challenge = pkce()
target, query = authorize_url(code_challenge=challenge, code_challenge_method="S256")
code = code_from(browser.request(target), query)
assert exchange(code, "x" * 50).json()["error"] == "invalid_grant", "wrong verifier"
target, query = authorize_url(code_challenge=challenge, code_challenge_method="S256")
code = code_from(browser.request(target), query)
assert exchange(code).json()["error"] == "invalid_grant", "missing verifier"
target, query = authorize_url()
code = code_from(browser.request(target), query)
assert exchange(code, verifier).json()["error"] == "invalid_grant", "verifier without a challenge"
target, query = authorize_url(code_challenge=verifier, code_challenge_method="plain")
params, _ = query_of(browser.request(target).location)
assert params["error"] == "invalid_request", "plain is refused"

# --- codes are bound to client and redirect URI ------------------------------------
target, query = authorize_url(redirect_uri="https://app.example.com/other")
code = code_from(browser.request(target), query)
assert exchange(code).json()["error"] == "invalid_grant", "another redirect URI"
target, query = authorize_url()
code = code_from(browser.request(target), query)
stolen = exchange(code, auth=f"{secret_client['ClientId']}:{secret_client['ClientSecret']}")
assert stolen.json()["error"] == "invalid_grant", "another client"
assert exchange(code).json()["error"] == "invalid_grant", "spent by the wrong client's try"
assert exchange("nonsense").json()["error"] == "invalid_grant"

# --- client authentication at the token endpoint -----------------------------------
target, query = authorize_url(client=secret_client["ClientId"], scope="openid")
code = code_from(browser.request(target), query)
assert exchange(code, client=secret_client["ClientId"]).status == 401, "a confidential client without its secret"
target, query = authorize_url(client=secret_client["ClientId"], scope="openid")
code = code_from(browser.request(target), query)
ok = exchange(code, auth=f"{secret_client['ClientId']}:{secret_client['ClientSecret']}")
assert ok.status == 200 and claims(ok.json()["id_token"])["aud"] == secret_client["ClientId"]
assert token_request({"grant_type": "password", "client_id": client_id}).json()["error"] == \
    "unsupported_grant_type"
assert token_request({"grant_type": "client_credentials", "client_id": client_id}).json()["error"] == \
    "unauthorized_client"
wrong_type = Browser().request(f"{base}/oauth2/token", json.dumps({"grant_type": "x"}).encode(),
                               {"Content-Type": "application/json"})
assert wrong_type.status == 400 and wrong_type.json()["error"] == "invalid_request"

# --- request objects, response modes, CORS for single-page apps, userinfo in a body ---
params, _ = query_of(browser.request(authorize_url(request="eyJ.x.y")[0]).location)
assert params["error"] == "request_not_supported"
params, _ = query_of(browser.request(authorize_url(request_uri="https://app.example.com/r")[0]).location)
assert params["error"] == "request_uri_not_supported"
params, _ = query_of(browser.request(authorize_url(response_mode="form_post")[0]).location)
assert params["error"] == "invalid_request"
target, query = authorize_url(response_mode="fragment")
in_fragment = fragment_of(browser.request(target).location)
assert in_fragment["state"] == query["state"] and in_fragment["code"]
tokens = exchange(in_fragment["code"]).json()
opener = urllib.request.build_opener(NoRedirect)
with opener.open(urllib.request.Request(f"{base}/oauth2/token", method="OPTIONS",
                                        headers={"Origin": "https://spa.example",
                                                 "Access-Control-Request-Method": "POST"})) as res:
    assert res.status == 204 and res.headers["Access-Control-Allow-Origin"] == "*"
    assert "content-type" in res.headers["Access-Control-Allow-Headers"]
assert user_info(tokens["access_token"]).headers["Access-Control-Allow-Origin"] == "*"
assert "Access-Control-Allow-Origin" not in browser.request(authorize_url()[0]).headers, "pages are not CORS"
in_body = Browser().request(f"{base}/oauth2/userInfo", {"access_token": tokens["access_token"]},
                            {"Content-Type": "application/x-www-form-urlencoded"})
assert in_body.status == 200 and in_body.json()["username"] == "ada"

# --- the implicit grant, where the client allows it ---------------------------------
target, query = authorize_url(client=secret_client["ClientId"], response_type="token", scope="openid",
                              nonce="imp")
implicit = browser.request(target)
assert implicit.status == 302 and implicit.location.startswith(CALLBACK + "#"), implicit.location
fragment = fragment_of(implicit.location)
assert fragment["state"] == query["state"] and fragment["token_type"] == "Bearer"
assert claims(fragment["id_token"])["nonce"] == "imp" and "refresh_token" not in fragment
target, query = authorize_url(response_type="token")
params = fragment_of(browser.request(target).location)
assert params["error"] == "unauthorized_client", "implicit is not allowed for this client"

# --- no open redirect: exact redirect URIs, known clients ---------------------------
for bad in [CALLBACK + "/", CALLBACK.upper(), "https://app.example.com/callbac",
            CALLBACK + "?x=1", "https://evil@app.example.com/callback",
            "https://app.example.com/callback%2f..", "https://app.example.com/Callback",
            "https://evil.example/callback"]:
    answer = browser.request(authorize_url(redirect_uri=bad)[0])
    assert answer.status == 400 and "Location" not in answer.headers, (bad, answer.status)
    assert "redirect_mismatch" in answer.body
answer = browser.request(authorize_url(client="nosuchclient")[0])
assert answer.status == 400 and "Location" not in answer.headers
answer = browser.request(authorize_url(redirect_uri=None)[0])
assert answer.status == 400 and "Location" not in answer.headers
answer = browser.request(authorize_url(client=no_oauth_client)[0])
assert answer.status == 400 and "Location" not in answer.headers, "no callback URLs: nowhere to redirect"
params, _ = query_of(browser.request(authorize_url(scope="openid phone")[0]).location)
assert params["error"] == "invalid_scope"
params, _ = query_of(browser.request(authorize_url(response_type="id_token")[0]).location)
assert params["error"] == "unsupported_response_type"

# --- the login form: wrong passwords, CSRF, lockout ---------------------------------
fresh = Browser()
answer, _ = sign_in(fresh, password="wrong-password")
assert answer.status == 400 and "Incorrect username or password." in answer.body
assert fresh.cookie("cognito") is None
target, query = authorize_url()
login = fresh.request(fresh.request(target).location)
fields = dict(form_of(login)["fields"], username="ada", password=PASSWORD)
del fields["_csrf"]
no_csrf = fresh.request(f"{base}/login?" + urllib.parse.urlencode({k: v for k, v in query.items()}), fields)
assert no_csrf.status == 303 and no_csrf.location.startswith(f"{base}/login?"), "no CSRF token, no sign-in"
assert fresh.cookie("cognito") is None
forged = Browser()  # another site's form: no CSRF cookie in this browser
fields["_csrf"] = form_of(login)["fields"]["_csrf"]
assert forged.request(f"{base}/login?" + urllib.parse.urlencode(query), fields).status == 303
assert forged.cookie("cognito") is None

make_user("bob")
lock_browser = Browser()
for _ in range(5):
    answer, _ = sign_in(lock_browser, username="bob", password="wrong-password")
    assert "Incorrect username or password." in answer.body
answer, _ = sign_in(lock_browser, username="bob")
assert answer.status == 400 and "Too many failed attempts" in answer.body, "the lockout holds here too"
answer, _ = sign_in(lock_browser, username="nobody-at-all", password="wrong-password")
assert answer.status == 400 and "Incorrect username or password." in answer.body

# --- MFA on the hosted pages ----------------------------------------------------------
admin.set_user_pool_mfa_config(UserPoolId=pool, SoftwareTokenMfaConfiguration={"Enabled": True},
                               MfaConfiguration="OPTIONAL")
make_user("cy")
api_client = admin.create_user_pool_client(
    UserPoolId=pool, ClientName="api", ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
)["UserPoolClient"]["ClientId"]
signed = public.initiate_auth(ClientId=api_client, AuthFlow="USER_PASSWORD_AUTH",
                              AuthParameters={"USERNAME": "cy", "PASSWORD": PASSWORD})["AuthenticationResult"]
secret = public.associate_software_token(AccessToken=signed["AccessToken"])["SecretCode"]
totp = pyotp.TOTP(secret)
public.verify_software_token(AccessToken=signed["AccessToken"], UserCode=totp.now())
public.set_user_mfa_preference(AccessToken=signed["AccessToken"],
                               SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": True})
time.sleep(31 - time.time() % 30)  # a fresh code: the one above was spent

mfa_browser = Browser()
answer, query = sign_in(mfa_browser, username="cy")
assert answer.status == 303 and answer.location.startswith(f"{base}/mfa?"), answer.location
assert mfa_browser.cookie("cognito") is None
page = mfa_browser.request(answer.location)
assert page.status == 200 and "authenticator app" in page.body
form = form_of(page)
wrong = mfa_browser.request(urllib.parse.urljoin(answer.location, form["action"]),
                            dict(form["fields"], code="000000" if totp.now() != "000000" else "111111"))
assert wrong.status == 400 and "That code is not correct." in wrong.body
form = form_of(wrong)
right = mfa_browser.request(urllib.parse.urljoin(answer.location, form["action"]),
                            dict(form["fields"], code=totp.now()))
code = code_from(right, query)
mfa_tokens = exchange(code).json()
assert claims(mfa_tokens["id_token"])["cognito:username"] == "cy"

# --- sign-out --------------------------------------------------------------------------
out = browser.request(f"{base}/logout?" + urllib.parse.urlencode({"client_id": client_id, "logout_uri": SIGNED_OUT}))
assert out.status == 302 and out.location == SIGNED_OUT
assert browser.cookie("cognito") is None
target, query = authorize_url()
assert browser.request(target).location.startswith(f"{base}/login?"), "signed out: the form again"
bad_out = browser.request(f"{base}/logout?" + urllib.parse.urlencode(
    {"client_id": client_id, "logout_uri": "https://evil.example/"}))
assert bad_out.status == 400 and "Location" not in bad_out.headers
relogin = mfa_browser.request(f"{base}/logout?" + urllib.parse.urlencode(
    {"client_id": client_id, "redirect_uri": CALLBACK, "response_type": "code", "state": "s"}))
assert relogin.status == 302 and relogin.location.startswith(f"{base}/login?")

# A global sign-out ends browser sessions too: the next authorize shows the form.
sso = Browser()
answer, query = sign_in(sso)
code_from(answer, query)
admin.admin_user_global_sign_out(UserPoolId=pool, Username="ada")
target, query = authorize_url()
assert sso.request(target).location.startswith(f"{base}/login?")

# --- sign-up, confirmation and password reset on the hosted pages ---------------------
def last_code(username):
    with open(outbox) as f:
        messages = [json.loads(line) for line in f if line.strip()]
    mine = [m for m in messages if m["username"] == username]
    assert mine, f"no message for {username} in the outbox"
    return mine[-1]["code"]


def open_form(browser, location):
    page = browser.request(location)
    assert page.status == 200, (location, page.status, page.body)
    return page, form_of(page)


def submit(browser, location, form, **values):
    return browser.request(urllib.parse.urljoin(location, form["action"]), dict(form["fields"], **values))


newcomer = Browser()
target, query = authorize_url()
login_location = newcomer.request(target).location
login_page = newcomer.request(login_location)
assert 'href="' in login_page.body and "Sign up" in login_page.body and "Forgot your password?" in login_page.body
signup_location = f"{base}/signup?" + urllib.parse.urlencode(query)
page, form = open_form(newcomer, signup_location)
assert {"username", "email", "password", "_csrf", "client_id", "redirect_uri", "state"} <= set(form["fields"])
weak = submit(newcomer, signup_location, form, username="dee", email="dee@example.com", password="short")
assert weak.status == 400 and "Password did not conform with policy" in weak.body, weak.body
taken = submit(newcomer, signup_location, form_of(weak), username="ada", email="a2@example.com", password=PASSWORD)
assert taken.status == 400 and "already exists" in taken.body
signed_up = submit(newcomer, signup_location, form_of(taken), username="dee", email="dee@example.com",
                   password=PASSWORD)
assert signed_up.status == 303 and signed_up.location.startswith(f"{base}/confirmUser?"), signed_up.location
assert query_of(signed_up.location)[0]["username"] == "dee"
assert admin.admin_get_user(UserPoolId=pool, Username="dee")["UserStatus"] == "UNCONFIRMED"
page, form = open_form(newcomer, signed_up.location)
assert form["fields"]["username"] == "dee"
wrong_code = submit(newcomer, signed_up.location, form, code="000000" if last_code("dee") != "000000" else "111111")
assert wrong_code.status == 400 and "That code is not correct." in wrong_code.body
resend_forms = Forms(wrong_code.body).forms
assert len(resend_forms) == 2 and resend_forms[1]["action"].startswith(f"{base}/resendCode")
resent = submit(newcomer, signed_up.location, resend_forms[1])
assert resent.status == 303 and "notice=resent" in resent.location
page, form = open_form(newcomer, resent.location)
assert "We sent a new confirmation code" in page.body
confirmed = submit(newcomer, resent.location, form, code=last_code("dee"))
assert confirmed.status == 303 and confirmed.location.startswith(f"{base}/login?"), confirmed.location
page, form = open_form(newcomer, confirmed.location)
assert "Your account is confirmed" in page.body
assert admin.admin_get_user(UserPoolId=pool, Username="dee")["UserStatus"] == "CONFIRMED"
signed_in = submit(newcomer, confirmed.location, form, username="dee", password=PASSWORD)
assert claims(exchange(code_from(signed_in, query)).json()["id_token"])["cognito:username"] == "dee"

forgetful = Browser()
target, query = authorize_url()
forgetful.request(target)
forgot_location = f"{base}/forgotPassword?" + urllib.parse.urlencode(query)
page, form = open_form(forgetful, forgot_location)
sent = submit(forgetful, forgot_location, form, username="dee")
assert sent.status == 303 and sent.location.startswith(f"{base}/confirmForgotPassword?"), sent.location
page, form = open_form(forgetful, sent.location)
NEW_PASSWORD = "N3w!Passw0rd-dee"
bad = submit(forgetful, sent.location, form, code="12345x", password=NEW_PASSWORD)
assert bad.status == 400
reset = submit(forgetful, sent.location, form_of(bad), code=last_code("dee"), password=NEW_PASSWORD)
assert reset.status == 303 and "notice=reset" in reset.location, (reset.status, reset.body)
page, form = open_form(forgetful, reset.location)
assert "Your password was changed" in page.body
old = submit(forgetful, reset.location, form, username="dee", password=PASSWORD)
assert old.status == 400
answer = submit(forgetful, reset.location, form_of(old), username="dee", password=NEW_PASSWORD)
code_from(answer, query)
closed = admin.create_user_pool(PoolName="closed", AdminCreateUserConfig={"AllowAdminCreateUserOnly": True})[
    "UserPool"]["Id"]
closed_client = admin.create_user_pool_client(UserPoolId=closed, ClientName="c")["UserPoolClient"]["ClientId"]
try:
    public.sign_up(ClientId=closed_client, Username="walk-in", Password=PASSWORD)
    raise AssertionError("sign-up in a pool where only administrators create users")
except public.exceptions.NotAuthorizedException as err:
    assert err.response["Error"]["Message"] == "SignUp is not permitted for this user pool"
no_csrf = forgetful.request(signup_location, {"username": "eve", "email": "eve@example.com",
                                              "password": PASSWORD, **query})
assert no_csrf.status == 303, "sign-up without the CSRF token does nothing"
try:
    admin.admin_get_user(UserPoolId=pool, Username="eve")
    raise AssertionError("eve was signed up without a CSRF token")
except admin.exceptions.UserNotFoundException:
    pass

# --- MFA required: the setup page --------------------------------------------------------
admin.set_user_pool_mfa_config(UserPoolId=pool, SoftwareTokenMfaConfiguration={"Enabled": True},
                               MfaConfiguration="ON")
setup_browser = Browser()
answer, query = sign_in(setup_browser, username="dee", password=NEW_PASSWORD)
assert answer.status == 303 and answer.location.startswith(f"{base}/mfa?"), answer.location
page, form = open_form(setup_browser, answer.location)
assert "Set up an authenticator app" in page.body
key = html.unescape(page.body.split('id="secret"><code>')[1].split("</code>")[0]).replace(" ", "")
setup_totp = pyotp.TOTP(key)
wrong = submit(setup_browser, answer.location, form, code="000000" if setup_totp.now() != "000000" else "111111")
assert wrong.status == 400 and "That code is not correct." in wrong.body
assert key in html.unescape(wrong.body).replace(" ", ""), "the same key is shown again"
done = submit(setup_browser, answer.location, form_of(wrong), code=setup_totp.now())
code = code_from(done, query)
assert claims(exchange(code).json()["id_token"])["cognito:username"] == "dee"
factors = admin.admin_get_user(UserPoolId=pool, Username="dee")
assert "SOFTWARE_TOKEN_MFA" in factors.get("UserMFASettingList", []), factors

# --- client_credentials with a resource server's scopes ---------------------------------
admin.create_resource_server(UserPoolId=pool, Identifier="https://api.example.com", Name="api",
                             Scopes=[{"ScopeName": "read", "ScopeDescription": "read"},
                                     {"ScopeName": "write", "ScopeDescription": "write"}])
machine = admin.create_user_pool_client(
    UserPoolId=pool, ClientName="machine", GenerateSecret=True,
    AllowedOAuthFlows=["client_credentials"], AllowedOAuthFlowsUserPoolClient=True,
    AllowedOAuthScopes=["https://api.example.com/read", "https://api.example.com/write"],
)["UserPoolClient"]
machine_auth = f"{machine['ClientId']}:{machine['ClientSecret']}"
granted = token_request({"grant_type": "client_credentials"}, auth=machine_auth)
assert granted.status == 200, granted.body
granted = granted.json()
assert set(granted) == {"access_token", "expires_in", "token_type"}, granted
machine_claims = claims(granted["access_token"])
assert machine_claims["sub"] == machine["ClientId"] == machine_claims["client_id"]
assert sorted(machine_claims["scope"].split()) == ["https://api.example.com/read", "https://api.example.com/write"]
assert "username" not in machine_claims and machine_claims["token_use"] == "access"
narrowed = token_request({"grant_type": "client_credentials", "scope": "https://api.example.com/read"},
                         auth=machine_auth).json()
assert claims(narrowed["access_token"])["scope"] == "https://api.example.com/read"
assert token_request({"grant_type": "client_credentials", "scope": "openid"}, auth=machine_auth).json()[
    "error"] == "invalid_scope"
assert token_request({"grant_type": "client_credentials", "scope": "https://api.example.com/admin"},
                     auth=machine_auth).json()["error"] == "invalid_scope"
post_auth = token_request({"grant_type": "client_credentials", "client_id": machine["ClientId"],
                           "client_secret": machine["ClientSecret"]})
assert post_auth.status == 200, "client_secret_post works too"
assert token_request({"grant_type": "client_credentials"}, auth=f"{machine['ClientId']}:wrong").status == 401
both = token_request({"grant_type": "client_credentials", "client_secret": machine["ClientSecret"]},
                     auth=machine_auth)
assert both.status == 400 and both.json()["error"] == "invalid_request", "two ways to authenticate"
seen = introspect(granted["access_token"], client=machine)
assert seen["active"] is True and seen["sub"] == machine["ClientId"] and "username" not in seen
assert user_info(granted["access_token"]).status == 403, "a machine token has no user"

# --- domains: Host routing, other pools' domains, customization ------------------------
missing = Browser().request(f"{url}/domain/no-such-domain/oauth2/authorize?client_id=x")
assert missing.status == 404
assert Browser().request(f"{url}/domain/{pool}/oauth2/authorize?client_id=x").status == 404, \
    "a pool id is not a domain"
target, query = authorize_url()
by_host = Browser().request(target.replace(f"{base}/", f"{url}/"),
                            headers={"Host": f"{prefix}.auth.us-east-1.localhost"})
assert by_host.status == 302 and "/login?" in by_host.location, (by_host.status, by_host.location)
other_pool = admin.create_user_pool(PoolName="other")["UserPool"]["Id"]
other_prefix = "other-" + uuid.uuid4().hex[:10]
admin.create_user_pool_domain(UserPoolId=other_pool, Domain=other_prefix)
target, query = authorize_url()
crossed = Browser().request(target.replace(prefix, other_prefix))
assert crossed.status == 400 and "Location" not in crossed.headers, "a client of another pool's domain"
token_elsewhere = Browser().request(f"{url}/domain/{other_prefix}/oauth2/userInfo",
                                    headers={"Authorization": f"Bearer {mfa_tokens['access_token']}"})
assert token_elsewhere.status == 401, "a token is only good at its own pool's domain"

logo = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGD4DwABBAEAwS2OUAAAAABJRU5ErkJggg==")
admin.set_ui_customization(UserPoolId=pool, ClientId=client_id,
                           CSS=".submitButton-customizable { background-color: #aa3311; }", ImageFile=logo)
target, query = authorize_url()
styled = Browser()
page = styled.request(styled.request(target).location)
assert "background-color: #aa3311;" in page.body
logo_url = html.unescape(page.body.split('class="logo-customizable" src="')[1].split('"')[0])
assert Browser().request(logo_url).status == 200

print("oauth ok")
