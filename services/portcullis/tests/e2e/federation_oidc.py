"""Signing in to a user pool through an OpenID Connect provider (a local stand-in,
`oidc_upstream.py`): the redirect to the provider with state, nonce and PKCE, the
callback at `/oauth2/idpresponse`, the federated user created (`<Provider>_<sub>`,
EXTERNAL_PROVIDER, `identities`, the automatic group) and updated on the next sign-in,
the pool's tokens, a silent second sign-in, refresh and global sign-out; and the
callback's defences: replayed or unbound state, a wrong nonce, a provider's refusal.

With LAMBDA_PORT set, a stand-in of the Lambda Invoke API listens there (the server's
`lambda.endpoint`) and the pre sign-up trigger of a federated user is checked.
With SOCIAL_UPSTREAM_PORT set, the stand-in listens on that port, where the server's
`social.google_jwks_url` and `social.apple_jwks_url` point (`/jwks`), and Google,
Facebook, Login with Amazon and Sign in with Apple sign-ins are checked too.

Usage: federation_oidc.py URL [OTHER_URL]
With OTHER_URL (another gateway of the same cluster) every provider answer is brought
back through it. The server must allow outbound fetches to loopback (`outbound.allow`)."""

import html
import http.server
import json
import os
import sys
import threading
import urllib.parse
import uuid

import boto3
import botocore
from botocore.config import Config

from browser import Browser, Forms, claims, pkce, query_of
from e2e_common import URL, check, expect_error, idp
from oidc_upstream import (APPLE_KEY, APPLE_KEY_ID, APPLE_TEAM, CLIENT_ID, CLIENT_SECRET,
                           Upstream)

CALLBACK = "https://app.example.com/callback"
SIGNED_OUT = "https://app.example.com/signed-out"
OTHER = sys.argv[2] if len(sys.argv) > 2 else URL


class Pool:
    def __init__(self, admin, upstream, mapping=None, **pool_settings):
        suffix = uuid.uuid4().hex[:8]
        self.admin = admin
        self.id = admin.create_user_pool(PoolName=f"federated-{suffix}",
                                         **pool_settings)["UserPool"]["Id"]
        self.prefix = f"fed-{suffix}"
        admin.create_user_pool_domain(Domain=self.prefix, UserPoolId=self.id)
        self.base = f"{URL}/domain/{self.prefix}"
        admin.create_identity_provider(
            UserPoolId=self.id, ProviderName="Upstream", ProviderType="OIDC",
            ProviderDetails={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
                             "authorize_scopes": "openid email profile",
                             "oidc_issuer": upstream.url, "attributes_request_method": "GET"},
            AttributeMapping=mapping or {"email": "email", "email_verified": "email_verified",
                                         "name": "name", "locale": "locale"},
            IdpIdentifiers=["corp.example"])
        self.client = self.make_client(["COGNITO", "Upstream"])

    def make_client(self, providers):
        return self.admin.create_user_pool_client(
            UserPoolId=self.id, ClientName="web", SupportedIdentityProviders=providers,
            CallbackURLs=[CALLBACK], LogoutURLs=[SIGNED_OUT], AllowedOAuthFlows=["code"],
            AllowedOAuthScopes=["openid", "email", "profile", "aws.cognito.signin.user.admin"],
            AllowedOAuthFlowsUserPoolClient=True,
            ExplicitAuthFlows=["ALLOW_REFRESH_TOKEN_AUTH"])["UserPoolClient"]["ClientId"]

    def authorize(self, client=None, **params):
        query = {"client_id": client or self.client, "response_type": "code",
                 "redirect_uri": CALLBACK,
                 "scope": "openid email profile aws.cognito.signin.user.admin",
                 "state": "app-state", **params}
        return f"{self.base}/oauth2/authorize?{urllib.parse.urlencode(query)}"

    def exchange(self, code, verifier, client=None):
        browser = Browser()
        answer = browser.request(f"{self.base}/oauth2/token", {
            "grant_type": "authorization_code", "client_id": client or self.client,
            "code": code, "redirect_uri": CALLBACK, "code_verifier": verifier})
        assert answer.status == 200, answer.body
        return answer.json()


def to_provider(pool, browser, upstream, **params):
    """Starts a sign-in; returns the provider's callback URL (not yet followed)."""
    answer = browser.request(pool.authorize(**params))
    assert answer.status == 302, (answer.status, answer.body)
    assert answer.location.startswith(f"{upstream.url}/authorize?"), answer.location
    query, _ = query_of(answer.location)
    assert query["redirect_uri"] == f"{pool.base}/oauth2/idpresponse", query
    assert query["nonce"] and query["state"] and query["code_challenge"], query
    assert browser.cookie("portcullis-idp-state") == query["state"]
    at_provider = browser.request(answer.location)
    assert at_provider.status == 302, at_provider.body
    return at_provider.location


def back_to_app(pool, browser, callback):
    # The answer comes back through the other gateway (another replica of every service).
    answer = browser.request(OTHER + callback.removeprefix(URL))
    assert answer.status == 302, (answer.status, answer.body)
    assert answer.location.startswith(CALLBACK), answer.location
    query, _ = query_of(answer.location)
    return query


def sign_in(pool, browser, upstream, **params):
    verifier, challenge = pkce()
    callback = to_provider(pool, browser, upstream, code_challenge=challenge,
                           code_challenge_method="S256", identity_provider="Upstream",
                           **params)
    query = back_to_app(pool, browser, callback)
    assert query["state"] == "app-state" and "code" in query, query
    return pool.exchange(query["code"], verifier), callback


def first_sign_in(pool, upstream):
    browser = Browser()
    tokens, _ = sign_in(pool, browser, upstream)
    id_claims = claims(tokens["id_token"])
    username = "Upstream_alice-1"
    assert id_claims["cognito:username"] == username, id_claims
    assert id_claims["email"] == "alice@corp.example" and id_claims["email_verified"] is True
    assert id_claims["name"] == "Alice" and id_claims["locale"] == "en-GB", id_claims
    assert id_claims["cognito:groups"] == [f"{pool.id}_Upstream"], id_claims
    identity = id_claims["identities"][0]
    assert identity["userId"] == "alice-1" and identity["providerName"] == "Upstream", identity
    assert identity["providerType"] == "OIDC" and identity["issuer"] == upstream.url, identity
    assert identity["primary"] == "true" and identity["dateCreated"].isdigit(), identity
    check("OIDC sign-in: the provider's user becomes Upstream_<sub> with the pool's tokens")

    user = pool.admin.admin_get_user(UserPoolId=pool.id, Username=username)
    assert user["UserStatus"] == "EXTERNAL_PROVIDER", user
    attributes = {a["Name"]: a["Value"] for a in user["UserAttributes"]}
    assert attributes["email"] == "alice@corp.example", attributes
    assert '"providerName":"Upstream"' in attributes["identities"], attributes
    group = pool.admin.get_group(UserPoolId=pool.id, GroupName=f"{pool.id}_Upstream")["Group"]
    assert group["Description"] == "Autogenerated group for users who sign in using Upstream"
    check("the federated user: EXTERNAL_PROVIDER, identities, the automatic group")

    # The browser session makes the next authorization silent, for the same provider.
    verifier, challenge = pkce()
    answer = browser.request(pool.authorize(identity_provider="Upstream", code_challenge=challenge,
                                            code_challenge_method="S256"))
    assert answer.status == 302 and answer.location.startswith(CALLBACK), answer.location
    query, _ = query_of(answer.location)
    again = pool.exchange(query["code"], verifier)
    assert claims(again["id_token"])["sub"] == id_claims["sub"]
    check("a second authorization in the same browser is silent")

    answer = browser.request(f"{pool.base}/logout?" + urllib.parse.urlencode(
        {"client_id": pool.client, "logout_uri": SIGNED_OUT}))
    assert answer.status == 302 and answer.location == SIGNED_OUT, answer.location
    answer = browser.request(pool.authorize(identity_provider="Upstream"))
    assert answer.location.startswith(f"{upstream.url}/authorize?"), answer.location
    check("/logout ends the federated browser session: the next sign-in goes to the provider")
    return tokens, user


def later_sign_ins(pool, upstream, tokens, user):
    upstream.user = {**upstream.user, "email": "alice@new.corp.example", "name": "Alice B"}
    second, _ = sign_in(pool, Browser(), upstream)
    id_claims = claims(second["id_token"])
    assert id_claims["sub"] == claims(tokens["id_token"])["sub"], id_claims
    assert id_claims["email"] == "alice@new.corp.example" and id_claims["name"] == "Alice B"
    users = pool.admin.list_users(UserPoolId=pool.id)["Users"]
    assert len(users) == 1, users
    check("the next sign-in maps the provider's attributes again onto the same user")

    public = boto3.client("cognito-idp", endpoint_url=URL, region_name="us-east-1",
                          config=Config(signature_version=botocore.UNSIGNED,
                                        retries={"max_attempts": 1}))
    refreshed = public.initiate_auth(
        ClientId=pool.client, AuthFlow="REFRESH_TOKEN_AUTH",
        AuthParameters={"REFRESH_TOKEN": second["refresh_token"]})["AuthenticationResult"]
    assert claims(refreshed["IdToken"])["cognito:username"] == "Upstream_alice-1"
    me = public.get_user(AccessToken=refreshed["AccessToken"])
    assert me["Username"] == "Upstream_alice-1", me
    public.global_sign_out(AccessToken=refreshed["AccessToken"])
    expect_error("NotAuthorizedException", public.initiate_auth, ClientId=pool.client,
                 AuthFlow="REFRESH_TOKEN_AUTH",
                 AuthParameters={"REFRESH_TOKEN": second["refresh_token"]})
    check("a federated user's refresh, GetUser and global sign-out")


def defences(pool, upstream):
    browser = Browser()
    _, callback = sign_in(pool, browser, upstream)
    replay = browser.request(callback)
    assert replay.status == 400 and "sign in again" in replay.body.lower(), replay.body
    check("a provider's answer is used once")

    verifier, challenge = pkce()
    callback = to_provider(pool, Browser(), upstream, identity_provider="Upstream",
                           code_challenge=challenge, code_challenge_method="S256")
    elsewhere = Browser().request(callback)
    assert elsewhere.status == 400 and "not started in this browser" in elsewhere.body
    check("an answer brought to another browser is refused (login CSRF)")

    upstream.misbehave = {"nonce"}
    browser = Browser()
    callback = to_provider(pool, browser, upstream, identity_provider="Upstream",
                           code_challenge=challenge, code_challenge_method="S256")
    answer = browser.request(callback)
    assert answer.status == 400 and "invalid answer" in answer.body, answer.body
    upstream.misbehave = {"refuse"}
    browser = Browser()
    answer = browser.request(pool.authorize(identity_provider="Upstream"))
    refusal = browser.request(answer.location)
    query = back_to_app(pool, browser, refusal.location)
    assert query["error"] == "access_denied" and query["state"] == "app-state", query
    upstream.misbehave = set()
    check("an ID token of another sign-in (nonce) and a provider's refusal end the sign-in")


def routing(pool, upstream):
    browser = Browser()
    answer = browser.request(pool.authorize(idp_identifier="corp.example"))
    assert answer.location.startswith(f"{upstream.url}/authorize?"), answer.location
    answer = Browser().request(pool.authorize(idp_identifier="elsewhere.example"))
    assert answer.status == 400, answer.status
    only_upstream = pool.make_client(["Upstream"])
    answer = Browser().request(pool.authorize(client=only_upstream))
    assert answer.location.startswith(f"{upstream.url}/authorize?"), answer.location
    cognito_only = pool.make_client(["COGNITO"])
    answer = Browser().request(pool.authorize(client=cognito_only, identity_provider="Upstream"))
    query, _ = query_of(answer.location)
    assert query["error"] == "invalid_request", query
    check("idp_identifier, a client's only provider, and a provider the client does not allow")

    # The sign-in page: the pool's form and a button per provider; a corporate email
    # whose domain names a provider.
    browser = Browser()
    page = browser.request(f"{pool.base}/login?" + urllib.parse.urlencode(
        {"client_id": pool.client, "response_type": "code", "redirect_uri": CALLBACK,
         "state": "app-state"}))
    assert page.status == 200 and 'name="password"' in page.body, page.status
    forms = Forms(page.body).forms
    corporate = next(f for f in forms if "idp_identifier" in f["fields"])
    assert corporate["action"].endswith("/oauth2/authorize"), corporate
    answer = browser.request(corporate["action"] + "?" + urllib.parse.urlencode(
        {**corporate["fields"], "idp_identifier": "alice@corp.example"}))
    assert answer.location.startswith(f"{upstream.url}/authorize?"), answer.location
    button = html.unescape(page.body.split('class="idpButton-customizable" href="')[1]
                           .split('"')[0])
    assert "identity_provider=Upstream" in button, button
    answer = browser.request(button)
    assert answer.location.startswith(f"{upstream.url}/authorize?"), answer.location
    pool.admin.create_identity_provider(
        UserPoolId=pool.id, ProviderName="Partner", ProviderType="OIDC",
        ProviderDetails={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
                         "authorize_scopes": "openid", "oidc_issuer": upstream.url,
                         "attributes_request_method": "GET"})
    two = pool.make_client(["Upstream", "Partner"])
    answer = Browser().request(pool.authorize(client=two))
    assert answer.status == 302 and "/login?" in answer.location, answer.location
    page = Browser().request(answer.location)
    assert 'name="password"' not in page.body, page.body
    assert page.body.count('class="idpButton-customizable"') == 2, page.body
    check("the sign-in page offers the client's providers and routes a corporate email")


def pool_rules(admin, upstream):
    """A pool's required attributes must come from the provider; a federated user's
    email is not an alias, so a native user with the same one keeps it."""
    pool = Pool(admin, upstream, mapping={"email": "email"}, UsernameAttributes=["email"],
                Schema=[{"Name": "nickname", "AttributeDataType": "String",
                         "Required": True, "Mutable": True}])
    browser = Browser()
    verifier, challenge = pkce()
    callback = to_provider(pool, browser, upstream, identity_provider="Upstream",
                           code_challenge=challenge, code_challenge_method="S256")
    query = back_to_app(pool, browser, callback)
    assert query["error"] == "invalid_request" and "nickname" in query["error_description"], query
    assert pool.admin.list_users(UserPoolId=pool.id)["Users"] == []
    check("a sign-in whose mapping misses a required attribute creates no user")

    pool.admin.admin_create_user(
        UserPoolId=pool.id, Username=upstream.user["email"], MessageAction="SUPPRESS",
        UserAttributes=[{"Name": "email", "Value": upstream.user["email"]},
                        {"Name": "email_verified", "Value": "true"},
                        {"Name": "nickname", "Value": "native"}])
    pool.admin.update_identity_provider(
        UserPoolId=pool.id, ProviderName="Upstream",
        AttributeMapping={"email": "email", "nickname": "name"})
    tokens, _ = sign_in(pool, Browser(), upstream)
    assert claims(tokens["id_token"])["nickname"] == upstream.user["name"]
    users = pool.admin.list_users(UserPoolId=pool.id)["Users"]
    assert sorted(u["UserStatus"] for u in users) == ["EXTERNAL_PROVIDER",
                                                      "FORCE_CHANGE_PASSWORD"], users
    native = pool.admin.admin_get_user(UserPoolId=pool.id, Username=upstream.user["email"])
    assert native["UserStatus"] == "FORCE_CHANGE_PASSWORD", native
    check("with the attribute mapped it works, beside a native user with the same email")


def linking(admin, upstream):
    """AdminLinkProviderForUser: a provider's user signs in as a native user;
    AdminDisableProviderForUser undoes it, or stops a provider's own user."""
    pool = Pool(admin, upstream)
    admin.admin_create_user(UserPoolId=pool.id, Username="ada", MessageAction="SUPPRESS",
                            UserAttributes=[{"Name": "email", "Value": "ada@corp.example"}])
    # Until the user has a password of their own, a linked provider cannot sign them in.
    upstream.user = {"sub": "ada-upstream", "email": "ada@corp.example", "name": "Ada"}
    source = {"ProviderName": "Upstream", "ProviderAttributeName": "Cognito_Subject",
              "ProviderAttributeValue": "ada-upstream"}
    destination = {"ProviderName": "Cognito", "ProviderAttributeValue": "ada"}
    admin.admin_link_provider_for_user(UserPoolId=pool.id, DestinationUser=destination,
                                       SourceUser=source)
    message = expect_error("InvalidParameterException", admin.admin_link_provider_for_user,
                           UserPoolId=pool.id, DestinationUser=destination, SourceUser=source)
    assert message == "SourceUser is already linked to DestinationUser", message
    message = expect_error("InvalidParameterException", admin.admin_link_provider_for_user,
                           UserPoolId=pool.id, DestinationUser=destination,
                           SourceUser={"ProviderName": "Cognito",
                                       "ProviderAttributeName": "Cognito_Subject",
                                       "ProviderAttributeValue": "x"})
    assert message.startswith("Invalid SourceUser"), message
    expect_error("UserNotFoundException", admin.admin_link_provider_for_user,
                 UserPoolId=pool.id, SourceUser={**source, "ProviderAttributeValue": "other"},
                 DestinationUser={"ProviderName": "Cognito", "ProviderAttributeValue": "nobody"})
    expect_error("ResourceNotFoundException", admin.admin_link_provider_for_user,
                 UserPoolId=pool.id, DestinationUser=destination,
                 SourceUser={**source, "ProviderName": "Elsewhere"})

    browser = Browser()
    callback = to_provider(pool, browser, upstream, identity_provider="Upstream",
                           code_challenge=pkce()[1], code_challenge_method="S256")
    refused = browser.request(OTHER + callback.removeprefix(URL))
    assert refused.status == 400 and "cannot sign in" in refused.body, refused.status
    admin.admin_set_user_password(UserPoolId=pool.id, Username="ada",
                                  Password="Linked!Passw0rd", Permanent=True)
    tokens, _ = sign_in(pool, Browser(), upstream)
    id_claims = claims(tokens["id_token"])
    assert id_claims["cognito:username"] == "ada", id_claims
    linked = [i for i in id_claims["identities"] if i["providerName"] == "Upstream"]
    assert linked and linked[0]["primary"] == "false", id_claims
    assert "cognito:groups" not in id_claims, id_claims
    assert [u["Username"] for u in admin.list_users(UserPoolId=pool.id)["Users"]] == ["ada"]
    check("a linked provider's user signs in as the native user, outside the provider's group")

    upstream.user = {"sub": "bob-upstream", "email": "bob@corp.example", "name": "Bob"}
    sign_in(pool, Browser(), upstream)
    message = expect_error("InvalidParameterException", admin.admin_link_provider_for_user,
                           UserPoolId=pool.id, DestinationUser=destination,
                           SourceUser={**source, "ProviderAttributeValue": "bob-upstream"})
    assert message.startswith("Merging is not currently supported"), message
    check("a provider's user that already signed in cannot be linked")

    admin.admin_create_user(UserPoolId=pool.id, Username="carol", MessageAction="SUPPRESS")
    admin.admin_set_user_password(UserPoolId=pool.id, Username="carol",
                                  Password="Linked!Passw0rd", Permanent=True)
    admin.admin_link_provider_for_user(
        UserPoolId=pool.id, DestinationUser={"ProviderName": "Cognito",
                                             "ProviderAttributeValue": "carol"},
        SourceUser={"ProviderName": "Upstream", "ProviderAttributeName": "email",
                    "ProviderAttributeValue": "carol@corp.example"})
    upstream.user = {"sub": "carol-upstream", "email": "carol@corp.example", "name": "Carol"}
    tokens, _ = sign_in(pool, Browser(), upstream)
    assert claims(tokens["id_token"])["cognito:username"] == "carol"
    check("a link by a mapped attribute's value (email)")

    # The provider Cognito: the native user's own password no longer signs in.
    passwords = admin.create_user_pool_client(
        UserPoolId=pool.id, ClientName="passwords",
        ExplicitAuthFlows=["ALLOW_ADMIN_USER_PASSWORD_AUTH"])["UserPoolClient"]["ClientId"]

    def password_sign_in(password):
        return admin.admin_initiate_auth(
            UserPoolId=pool.id, ClientId=passwords, AuthFlow="ADMIN_USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": "carol", "PASSWORD": password})

    assert "AuthenticationResult" in password_sign_in("Linked!Passw0rd")
    native = {"ProviderName": "Cognito", "ProviderAttributeName": "Cognito_Subject",
              "ProviderAttributeValue": "carol"}
    message = expect_error("InvalidParameterException", admin.admin_disable_provider_for_user,
                           UserPoolId=pool.id, User={**native, "ProviderAttributeName": "email"})
    assert message == "ProviderAttributeName must be Cognito_Subject for the provider Cognito.", message
    expect_error("UserNotFoundException", admin.admin_disable_provider_for_user,
                 UserPoolId=pool.id, User={**native, "ProviderAttributeValue": "nobody"})
    admin.admin_disable_provider_for_user(UserPoolId=pool.id, User=native)
    message = expect_error("NotAuthorizedException", password_sign_in, "Linked!Passw0rd")
    assert message == "Incorrect username or password.", message
    tokens, _ = sign_in(pool, Browser(), upstream)
    assert claims(tokens["id_token"])["cognito:username"] == "carol", "the link stopped too"
    assert admin.admin_get_user(UserPoolId=pool.id, Username="carol")["UserStatus"] == "CONFIRMED"
    admin.admin_set_user_password(UserPoolId=pool.id, Username="carol",
                                  Password="Another!Passw0rd", Permanent=True)
    assert "AuthenticationResult" in password_sign_in("Another!Passw0rd")
    check("AdminDisableProviderForUser with the provider Cognito: the password no longer signs "
          "in, the linked provider still does, a new password does again")

    admin.admin_disable_provider_for_user(UserPoolId=pool.id, User=source)
    upstream.user = {"sub": "ada-upstream", "email": "ada@corp.example", "name": "Ada"}
    tokens, _ = sign_in(pool, Browser(), upstream)
    assert claims(tokens["id_token"])["cognito:username"] == "Upstream_ada-upstream"
    ada = admin.admin_get_user(UserPoolId=pool.id, Username="ada")
    assert "identities" not in {a["Name"] for a in ada["UserAttributes"]}, ada
    admin.admin_disable_provider_for_user(
        UserPoolId=pool.id, User={**source, "ProviderAttributeValue": "bob-upstream"})
    upstream.user = {"sub": "bob-upstream", "email": "bob@corp.example", "name": "Bob"}
    browser = Browser()
    callback = to_provider(pool, browser, upstream, identity_provider="Upstream",
                           code_challenge=pkce()[1], code_challenge_method="S256")
    query = back_to_app(pool, browser, callback)
    assert query["error"] == "invalid_request" and "disabled" in query["error_description"]
    expect_error("UserNotFoundException", admin.admin_disable_provider_for_user,
                 UserPoolId=pool.id, User={**source, "ProviderAttributeValue": "nobody"})
    check("AdminDisableProviderForUser unlinks a user, or stops a provider's own user")


class Functions:
    """The Lambda Invoke API, unsigned: a pre sign-up function that refuses users of
    `blocked.example` and verifies everyone else's email, and an inbound federation
    function that gives users of `rename.example` another email."""

    def __init__(self, port):
        functions = self
        self.events = []

        def of(source):
            return [e for e in functions.events if e["triggerSource"] == source]
        self.of = of

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                event = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                functions.events.append(event)
                headers = {}
                if event["triggerSource"] == "InboundFederation_ExternalProvider":
                    email = event["request"]["attributes"]["idToken"].get("email", "")
                    mapped = ({"email": "renamed@corp.example"}
                              if email.endswith("@rename.example") else {})
                    body = {**event, "response": {"userAttributesToMap": mapped}}
                elif event["request"]["userAttributes"].get("email", "").endswith(
                        "@blocked.example"):
                    body = {"errorType": "Error", "errorMessage": "not welcome"}
                    headers["X-Amz-Function-Error"] = "Unhandled"
                else:
                    body = {**event, "response": {**event["response"], "autoVerifyEmail": True}}
                data = json.dumps(body).encode()
                self.send_response(200)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()


def pre_sign_up(admin, upstream):
    functions = Functions(int(os.environ["LAMBDA_PORT"]))
    pool = Pool(admin, upstream, mapping={"email": "email"})
    admin.update_user_pool(UserPoolId=pool.id, LambdaConfig={
        "PreSignUp": "arn:aws:lambda:us-east-1:123456789012:function:pre-sign-up",
        "InboundFederation": {
            "LambdaArn": "arn:aws:lambda:us-east-1:123456789012:function:inbound",
            "LambdaVersion": "V1_0"}})
    upstream.user = {"sub": "welcome-1", "email": "w@corp.example", "name": "W"}
    tokens, _ = sign_in(pool, Browser(), upstream)
    assert claims(tokens["id_token"])["email_verified"] is True
    event = functions.of("PreSignUp_ExternalProvider")[-1]
    assert event["userName"] == "Upstream_welcome-1", event
    assert event["callerContext"]["clientId"] == pool.client, event
    assert event["request"]["userAttributes"] == {"email": "w@corp.example"}, event
    sign_in(pool, Browser(), upstream)
    assert len(functions.of("PreSignUp_ExternalProvider")) == 1, functions.events
    check("pre sign-up runs once, before a provider's user is created, and can verify")

    inbound = functions.of("InboundFederation_ExternalProvider")
    assert len(inbound) == 2, functions.events
    event = inbound[-1]
    assert event["userName"] == "Upstream_welcome-1", event
    request = event["request"]
    assert request["providerName"] == "Upstream" and request["providerType"] == "OIDC", event
    assert request["attributes"]["idToken"]["sub"] == "welcome-1", event
    assert request["attributes"]["idToken"]["email_verified"] == "true", event
    assert request["attributes"]["userInfo"]["locale"] == "en-GB", event
    assert request["attributes"]["tokenResponse"]["token_type"] == "Bearer", event
    upstream.user = {"sub": "renamed-1", "email": "r@rename.example", "name": "R"}
    tokens, _ = sign_in(pool, Browser(), upstream)
    assert claims(tokens["id_token"])["email"] == "renamed@corp.example"
    check("inbound federation sees the provider's answer at every sign-in and can remap")

    upstream.user = {"sub": "blocked-1", "email": "b@blocked.example", "name": "B"}
    browser = Browser()
    callback = to_provider(pool, browser, upstream, identity_provider="Upstream",
                           code_challenge=pkce()[1], code_challenge_method="S256")
    query = back_to_app(pool, browser, callback)
    assert query["error"] == "invalid_request", query
    assert query["error_description"] == "PreSignUp failed with error not welcome.", query
    assert sorted(u["Username"] for u in admin.list_users(UserPoolId=pool.id)["Users"]) == \
        ["Upstream_renamed-1", "Upstream_welcome-1"]
    check("a pre sign-up refusal ends the sign-in at the app and creates nobody")


def social(pool, upstream):
    """Google, Facebook, Login with Amazon and Sign in with Apple, each at the stand-in:
    the endpoints in the provider's details, the keys where the server's `social.*`
    settings say."""
    common = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    providers = {
        "Google": {**common, "authorize_scopes": "openid email profile",
                   "authorize_url": f"{upstream.url}/google/authorize",
                   "token_url": f"{upstream.url}/google/token",
                   "oidc_issuer": f"{upstream.url}/google"},
        "Facebook": {**common, "authorize_scopes": "public_profile, email",
                     "authorize_url": f"{upstream.url}/facebook/authorize",
                     "token_url": f"{upstream.url}/facebook/token",
                     "attributes_url": f"{upstream.url}/facebook/me?fields="},
        "LoginWithAmazon": {**common, "authorize_scopes": "profile",
                            "authorize_url": f"{upstream.url}/amazon/authorize",
                            "token_url": f"{upstream.url}/amazon/token",
                            "attributes_url": f"{upstream.url}/amazon/profile"},
        "SignInWithApple": {"client_id": CLIENT_ID, "team_id": APPLE_TEAM,
                            "key_id": APPLE_KEY_ID, "private_key": APPLE_KEY,
                            "authorize_scopes": "email name",
                            "authorize_url": f"{upstream.url}/apple/authorize",
                            "token_url": f"{upstream.url}/apple/token",
                            "oidc_issuer": f"{upstream.url}/apple"},
    }
    for name, details in providers.items():
        pool.admin.create_identity_provider(
            UserPoolId=pool.id, ProviderName=name, ProviderType=name, ProviderDetails=details,
            AttributeMapping={"email": "email", **({"name": "name"} if name in
                                                    ("Facebook", "LoginWithAmazon") else {})})
    client = pool.make_client(list(providers))
    upstream.user = {"sub": "social-7", "email": "sam@mail.example", "name": "Sam"}
    for name in providers:
        browser = Browser()
        verifier, challenge = pkce()
        answer = browser.request(pool.authorize(client=client, identity_provider=name,
                                                code_challenge=challenge,
                                                code_challenge_method="S256"))
        assert answer.status == 302, (name, answer.status, answer.body)
        at_provider = browser.request(answer.location)
        if name == "SignInWithApple":
            # Apple posts its answer: the page's form, submitted as a browser would.
            form = Forms(at_provider.body).forms[0]
            target = OTHER + form["action"].removeprefix(URL)
            back = browser.request(target, form["fields"])
        else:
            back = browser.request(OTHER + at_provider.location.removeprefix(URL))
        assert back.status in (302, 303), (name, back.status, back.body)
        query, _ = query_of(back.location)
        assert "code" in query, (name, query)
        tokens = pool.exchange(query["code"], verifier, client=client)
        id_claims = claims(tokens["id_token"])
        assert id_claims["cognito:username"] == f"{name}_social-7", id_claims
        assert id_claims["email"] == "sam@mail.example", id_claims
        assert id_claims["identities"][0]["providerType"] == name, id_claims
        if name in ("Facebook", "LoginWithAmazon"):
            assert id_claims["name"] == "Sam", id_claims
            assert id_claims["identities"][0]["issuer"] is None, id_claims
        check(f"{name}: signed in through the stand-in as {name}_<id>")


def main():
    admin = idp()
    upstream = Upstream(port=int(os.environ.get("SOCIAL_UPSTREAM_PORT", "0")))
    pool = Pool(admin, upstream)
    tokens, user = first_sign_in(pool, upstream)
    later_sign_ins(pool, upstream, tokens, user)
    defences(pool, upstream)
    routing(pool, upstream)
    pool_rules(admin, upstream)
    linking(admin, upstream)
    if os.environ.get("LAMBDA_PORT"):
        pre_sign_up(admin, upstream)
    if os.environ.get("SOCIAL_UPSTREAM_PORT"):
        social(pool, upstream)


if __name__ == "__main__":
    main()
