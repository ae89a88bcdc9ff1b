"""Sessions after sign-in, through boto3: refresh (REFRESH_TOKEN_AUTH and
GetTokensFromRefreshToken) keeps `origin_jti` and `auth_time`; RevokeToken revokes one
session (its refresh token and its access tokens) and not the others; GlobalSignOut and
AdminUserGlobalSignOut revoke every session begun before them and none begun after;
refresh-token rotation issues a new refresh token, honours the old one for the grace
period only, and a reuse after it revokes the whole session.

Usage: sessions.py URL STATE_FILE setup|after-restart. `setup` runs everything and leaves
revoked and live tokens in STATE_FILE; `after-restart` (run against the restarted
server) checks the revoked ones are still refused and the live ones still work."""

import json
import sys
import time
import uuid

import boto3
import botocore
import contract  # noqa: F401  (checks every answer against the model)
import jwt
from botocore.config import Config

url, state_file, phase = sys.argv[1], sys.argv[2], sys.argv[3]
config = Config(retries={"max_attempts": 1})
admin = boto3.client("cognito-idp", endpoint_url=url, region_name="us-east-1", config=config)
public = boto3.client("cognito-idp", endpoint_url=url, region_name="us-east-1",
                      config=config.merge(Config(signature_version=botocore.UNSIGNED)))
PASSWORD = "Sess10n!Pass"


def error_of(call, **kwargs):
    try:
        call(**kwargs)
    except botocore.exceptions.ClientError as err:
        return err.response["Error"]["Code"], err.response["Error"]["Message"]
    raise AssertionError(f"{call.__name__} succeeded")


def claims(token):
    return jwt.decode(token, options={"verify_signature": False})


def sign_in(client_id, username):
    return public.initiate_auth(ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH",
                                AuthParameters={"USERNAME": username, "PASSWORD": PASSWORD}
                                )["AuthenticationResult"]


def works(access_token):
    return public.get_user(AccessToken=access_token)["Username"]


def revoked(access_token):
    assert error_of(public.get_user, AccessToken=access_token) == \
        ("NotAuthorizedException", "Access Token has been revoked")


def refresh_revoked(client_id, refresh_token):
    assert error_of(public.initiate_auth, ClientId=client_id, AuthFlow="REFRESH_TOKEN_AUTH",
                    AuthParameters={"REFRESH_TOKEN": refresh_token}) == \
        ("NotAuthorizedException", "Refresh Token has been revoked")


if phase == "after-restart":
    with open(state_file) as f:
        state = json.load(f)
    for token in state["revoked_access"]:
        revoked(token)
    refresh_revoked(state["client_id"], state["revoked_refresh"])
    assert works(state["live_access"]) == "sam"
    public.initiate_auth(ClientId=state["client_id"], AuthFlow="REFRESH_TOKEN_AUTH",
                         AuthParameters={"REFRESH_TOKEN": state["live_refresh"]})
    print("ok - after a restart, revoked tokens are still refused and live ones work")
    sys.exit(0)

pool_id = admin.create_user_pool(PoolName=f"sessions-{uuid.uuid4().hex[:8]}")["UserPool"]["Id"]
flows = ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
client_id = admin.create_user_pool_client(UserPoolId=pool_id, ClientName="app",
                                          ExplicitAuthFlows=flows)["UserPoolClient"]["ClientId"]
for name in ("sam", "kim"):
    admin.admin_create_user(UserPoolId=pool_id, Username=name, MessageAction="SUPPRESS")
    admin.admin_set_user_password(UserPoolId=pool_id, Username=name, Password=PASSWORD,
                                  Permanent=True)

# Refresh keeps the session's identity.
first = sign_in(client_id, "sam")
time.sleep(1.1)
again = public.initiate_auth(ClientId=client_id, AuthFlow="REFRESH_TOKEN_AUTH",
                             AuthParameters={"REFRESH_TOKEN": first["RefreshToken"]}
                             )["AuthenticationResult"]
assert "RefreshToken" not in again, "no rotation: no new refresh token"
fetched = public.get_tokens_from_refresh_token(ClientId=client_id,
                                               RefreshToken=first["RefreshToken"]
                                               )["AuthenticationResult"]
assert "RefreshToken" not in fetched
for refreshed in (again, fetched):
    for kind in ("AccessToken", "IdToken"):
        before, after = claims(first[kind]), claims(refreshed[kind])
        assert after["origin_jti"] == before["origin_jti"], kind
        assert after["auth_time"] == before["auth_time"], kind
        assert after["iat"] > before["iat"], kind
assert works(again["AccessToken"]) == "sam"
print("ok - refresh keeps origin_jti and auth_time")

# RevokeToken: one session, not the others.
second = sign_in(client_id, "sam")
kims = sign_in(client_id, "kim")
public.revoke_token(ClientId=client_id, Token=first["RefreshToken"])
for token in (first["AccessToken"], again["AccessToken"], fetched["AccessToken"]):
    revoked(token)
refresh_revoked(client_id, first["RefreshToken"])
assert error_of(public.get_tokens_from_refresh_token, ClientId=client_id,
                RefreshToken=first["RefreshToken"]) == \
    ("NotAuthorizedException", "Refresh Token has been revoked")
assert works(second["AccessToken"]) == "sam"
assert works(kims["AccessToken"]) == "kim"
# Revoking again, or a token that never existed, is not an error.
public.revoke_token(ClientId=client_id, Token=first["RefreshToken"])
public.revoke_token(ClientId=client_id, Token="not-a-refresh-token")
assert error_of(public.revoke_token, ClientId=client_id, Token=second["AccessToken"])[0] == \
    "UnsupportedTokenTypeException"
print("ok - RevokeToken revokes one session: its refresh token and its access tokens")

# GlobalSignOut: every session begun before it; a new sign-in works at once.
third = sign_in(client_id, "sam")
public.global_sign_out(AccessToken=second["AccessToken"])
for token in (second["AccessToken"], third["AccessToken"]):
    revoked(token)
refresh_revoked(client_id, third["RefreshToken"])
assert error_of(public.global_sign_out, AccessToken=second["AccessToken"]) == \
    ("NotAuthorizedException", "Access Token has been revoked")
fourth = sign_in(client_id, "sam")
assert works(fourth["AccessToken"]) == "sam"
assert works(kims["AccessToken"]) == "kim", "other users are not signed out"
print("ok - GlobalSignOut revokes every earlier session and none after it")

admin.admin_user_global_sign_out(UserPoolId=pool_id, Username="sam")
revoked(fourth["AccessToken"])
refresh_revoked(client_id, fourth["RefreshToken"])
assert error_of(admin.admin_user_global_sign_out, UserPoolId=pool_id, Username="nobody")[0] == \
    "UserNotFoundException"
fifth = sign_in(client_id, "sam")
assert works(fifth["AccessToken"]) == "sam"
print("ok - AdminUserGlobalSignOut")

# Every token-authorised operation refuses a revoked token.
for call, kwargs in [
    (public.update_user_attributes, {"UserAttributes": [{"Name": "name", "Value": "Sam"}]}),
    (public.change_password, {"PreviousPassword": PASSWORD, "ProposedPassword": "N3w!Passw0rd"}),
    (public.get_user_attribute_verification_code, {"AttributeName": "email"}),
    (public.delete_user, {}),
]:
    assert error_of(call, AccessToken=fourth["AccessToken"], **kwargs) == \
        ("NotAuthorizedException", "Access Token has been revoked"), call.__name__
print("ok - token-authorised operations refuse a revoked token")

# Clients: token revocation can be off; a client with a secret must give it.
off = admin.create_user_pool_client(UserPoolId=pool_id, ClientName="no-revocation",
                                    ExplicitAuthFlows=flows, EnableTokenRevocation=False
                                    )["UserPoolClient"]["ClientId"]
assert error_of(public.revoke_token, ClientId=off, Token=fifth["RefreshToken"])[0] == \
    "UnsupportedOperationException"
secret_client = admin.create_user_pool_client(UserPoolId=pool_id, ClientName="secret",
                                              GenerateSecret=True, ExplicitAuthFlows=flows
                                              )["UserPoolClient"]
assert error_of(public.revoke_token, ClientId=secret_client["ClientId"],
                Token=fifth["RefreshToken"])[0] == "UnauthorizedException"
assert error_of(public.get_tokens_from_refresh_token, ClientId=secret_client["ClientId"],
                RefreshToken=fifth["RefreshToken"], ClientSecret="w" * 52)[0] == \
    "NotAuthorizedException"
# A refresh token only works with the client it was issued to.
assert error_of(public.get_tokens_from_refresh_token, ClientId=secret_client["ClientId"],
                ClientSecret=secret_client["ClientSecret"],
                RefreshToken=fifth["RefreshToken"]) == \
    ("NotAuthorizedException", "Invalid Refresh Token")
print("ok - EnableTokenRevocation, client secrets, refresh tokens bound to their client")

# Rotation without a grace period: the old token is rotated out at once; reusing it
# revokes the session.
rotating = admin.create_user_pool_client(
    UserPoolId=pool_id, ClientName="rotating", ExplicitAuthFlows=flows,
    RefreshTokenRotation={"Feature": "ENABLED", "RetryGracePeriodSeconds": 0},
)["UserPoolClient"]["ClientId"]
r0 = sign_in(rotating, "kim")
assert error_of(public.initiate_auth, ClientId=rotating, AuthFlow="REFRESH_TOKEN_AUTH",
                AuthParameters={"REFRESH_TOKEN": r0["RefreshToken"]})[0] == \
    "InvalidParameterException"
r1 = public.get_tokens_from_refresh_token(ClientId=rotating, RefreshToken=r0["RefreshToken"]
                                          )["AuthenticationResult"]
assert r1["RefreshToken"] != r0["RefreshToken"]
assert claims(r1["AccessToken"])["origin_jti"] == claims(r0["AccessToken"])["origin_jti"]
r2 = public.get_tokens_from_refresh_token(ClientId=rotating, RefreshToken=r1["RefreshToken"]
                                          )["AuthenticationResult"]
assert works(r2["AccessToken"]) == "kim"
assert error_of(public.get_tokens_from_refresh_token, ClientId=rotating,
                RefreshToken=r0["RefreshToken"])[0] == "RefreshTokenReuseException"
revoked(r2["AccessToken"])
assert error_of(public.get_tokens_from_refresh_token, ClientId=rotating,
                RefreshToken=r2["RefreshToken"]) == \
    ("NotAuthorizedException", "Refresh Token has been revoked")
print("ok - rotation: a new refresh token each time; reuse revokes the session")

# Rotation with a grace period: the old token works again within it.
graceful = admin.create_user_pool_client(
    UserPoolId=pool_id, ClientName="graceful", ExplicitAuthFlows=flows,
    RefreshTokenRotation={"Feature": "ENABLED", "RetryGracePeriodSeconds": 2},
)["UserPoolClient"]["ClientId"]
g0 = sign_in(graceful, "kim")
g1 = public.get_tokens_from_refresh_token(ClientId=graceful, RefreshToken=g0["RefreshToken"]
                                          )["AuthenticationResult"]
retry = public.get_tokens_from_refresh_token(ClientId=graceful, RefreshToken=g0["RefreshToken"]
                                             )["AuthenticationResult"]
assert retry["RefreshToken"] not in (g0["RefreshToken"], g1["RefreshToken"])
time.sleep(2.5)
assert error_of(public.get_tokens_from_refresh_token, ClientId=graceful,
                RefreshToken=g0["RefreshToken"])[0] == "RefreshTokenReuseException"
revoked(g1["AccessToken"])
print("ok - rotation grace period: a retry within it works, a reuse after it revokes")

with open(state_file, "w") as f:
    json.dump({
        "client_id": client_id,
        "revoked_access": [first["AccessToken"], fourth["AccessToken"]],
        "revoked_refresh": fourth["RefreshToken"],
        "live_access": fifth["AccessToken"],
        "live_refresh": fifth["RefreshToken"],
    }, f)
