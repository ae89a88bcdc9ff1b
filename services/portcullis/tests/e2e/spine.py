"""The spine path, driven through boto3 exactly as a Cognito user would drive it.

Usage: spine.py URL [URL...]
With several gateway URLs (a cluster), each step goes to the next URL in turn, so a
sign-in is served by a different replica than the sign-up. Admin credentials come from
AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY. Exits non-zero on the first failed check.
"""

import json
import sys
import time
import urllib.request
import uuid

import boto3
import contract  # noqa: F401  (checks every answer against the model)
import botocore
import jwt
from botocore.config import Config

URLS = sys.argv[1:]
REGION = "us-east-1"
_turn = 0


def idp(signed=True):
    """A client for the next gateway replica."""
    global _turn
    url = URLS[_turn % len(URLS)]
    _turn += 1
    config = Config(retries={"max_attempts": 1})
    if not signed:
        config = config.merge(Config(signature_version=botocore.UNSIGNED))
    return boto3.client("cognito-idp", endpoint_url=url, region_name=REGION, config=config)


def expect_error(code, call, *args, **kwargs):
    try:
        call(*args, **kwargs)
    except botocore.exceptions.ClientError as err:
        got = err.response["Error"]["Code"]
        assert got == code, f"expected {code}, got {got}: {err.response['Error'].get('Message')}"
        assert err.response["ResponseMetadata"]["HTTPStatusCode"] < 500, err.response
        return err.response["Error"].get("Message", "")
    raise AssertionError(f"expected {code}, call succeeded")


def check(label):
    print(f"ok - {label}", flush=True)


def main():
    suffix = uuid.uuid4().hex[:8]

    # --- admin: pools and clients -------------------------------------------------
    pool = idp().create_user_pool(
        PoolName=f"spine-{suffix}",
        Policies={"PasswordPolicy": {"MinimumLength": 8, "RequireNumbers": True,
                                     "RequireLowercase": True, "RequireUppercase": False,
                                     "RequireSymbols": False}},
        Schema=[{"Name": "email", "AttributeDataType": "String", "Required": True, "Mutable": True},
                {"Name": "tenant", "AttributeDataType": "String"}],
    )["UserPool"]
    pool_id = pool["Id"]
    assert pool_id.startswith(f"{REGION}_"), pool_id
    assert isinstance(pool["CreationDate"].timestamp(), float)
    assert pool["Policies"]["PasswordPolicy"]["MinimumLength"] == 8
    assert any(a["Name"] == "custom:tenant" for a in pool["SchemaAttributes"])
    check("CreateUserPool")

    described = idp().describe_user_pool(UserPoolId=pool_id)["UserPool"]
    assert described["Id"] == pool_id and described["Name"] == f"spine-{suffix}"
    assert described["Arn"].endswith(f"userpool/{pool_id}")
    check("DescribeUserPool")

    listed = idp().list_user_pools(MaxResults=60)["UserPools"]
    assert pool_id in [p["Id"] for p in listed], listed
    check("ListUserPools (on the other replica too)")

    client = idp().create_user_pool_client(
        UserPoolId=pool_id, ClientName="web",
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )["UserPoolClient"]
    client_id = client["ClientId"]
    assert len(client_id) == 26 and client_id.isalnum() and client_id.islower(), client_id
    assert "ClientSecret" not in client
    described = idp().describe_user_pool_client(UserPoolId=pool_id, ClientId=client_id)["UserPoolClient"]
    assert described["ClientName"] == "web"
    assert described["ExplicitAuthFlows"] == ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
    check("CreateUserPoolClient / DescribeUserPoolClient")

    secret_client = idp().create_user_pool_client(
        UserPoolId=pool_id, ClientName="server", GenerateSecret=True,
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )["UserPoolClient"]
    assert len(secret_client["ClientSecret"]) >= 40
    again = idp().describe_user_pool_client(UserPoolId=pool_id, ClientId=secret_client["ClientId"])
    assert again["UserPoolClient"]["ClientSecret"] == secret_client["ClientSecret"]
    check("client secrets")

    # --- errors on the admin path --------------------------------------------------
    expect_error("ResourceNotFoundException", idp().describe_user_pool, UserPoolId=f"{REGION}_doesNotExist")
    expect_error("InvalidParameterException", idp().describe_user_pool, UserPoolId="not a pool id")
    expect_error("ResourceNotFoundException", idp().describe_user_pool_client,
                 UserPoolId=pool_id, ClientId="a" * 26)
    bad = boto3.client("cognito-idp", endpoint_url=URLS[0], region_name=REGION,
                       aws_access_key_id="AKIDNOTKNOWN", aws_secret_access_key="x",
                       config=Config(retries={"max_attempts": 1}))
    expect_error("UnrecognizedClientException", bad.list_user_pools, MaxResults=1)
    unsigned = idp(signed=False)
    expect_error("MissingAuthenticationTokenException", unsigned.list_user_pools, MaxResults=1)
    check("admin errors (not found, invalid, unsigned, unknown key)")

    # --- sign up -------------------------------------------------------------------
    public = idp(signed=False)
    username = f"alice-{suffix}"
    email = f"alice-{suffix}@example.com"
    password = "correct horse 42"
    expect_error("InvalidPasswordException", public.sign_up, ClientId=client_id, Username=username,
                 Password="short", UserAttributes=[{"Name": "email", "Value": email}])
    expect_error("InvalidParameterException", public.sign_up, ClientId=client_id, Username=username,
                 Password=password)
    signed_up = public.sign_up(ClientId=client_id, Username=username, Password=password,
                               UserAttributes=[{"Name": "email", "Value": email},
                                               {"Name": "custom:tenant", "Value": "acme"}])
    assert signed_up["UserConfirmed"] is False
    sub = signed_up["UserSub"]
    uuid.UUID(sub)
    expect_error("UsernameExistsException", idp(signed=False).sign_up, ClientId=client_id,
                 Username=username, Password=password, UserAttributes=[{"Name": "email", "Value": email}])
    check("SignUp (policy, schema, duplicates)")

    # --- sign in before confirmation --------------------------------------------------
    auth = {"USERNAME": username, "PASSWORD": password}
    expect_error("UserNotConfirmedException", idp(signed=False).initiate_auth,
                 ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH", AuthParameters=auth)
    expect_error("NotAuthorizedException", idp(signed=False).initiate_auth, ClientId=client_id,
                 AuthFlow="USER_PASSWORD_AUTH", AuthParameters={"USERNAME": username, "PASSWORD": "wrong pw 42"})
    expect_error("UserNotFoundException", idp(signed=False).initiate_auth, ClientId=client_id,
                 AuthFlow="USER_PASSWORD_AUTH", AuthParameters={"USERNAME": "nobody", "PASSWORD": password})
    check("sign-in refused before confirmation")

    user = idp().admin_get_user(UserPoolId=pool_id, Username=username)
    assert user["UserStatus"] == "UNCONFIRMED" and user["Enabled"] is True
    attrs = {a["Name"]: a["Value"] for a in user["UserAttributes"]}
    assert attrs["sub"] == sub and attrs["email"] == email and attrs["custom:tenant"] == "acme", attrs
    expect_error("UserNotFoundException", idp().admin_get_user, UserPoolId=pool_id, Username="nobody")
    check("AdminGetUser")

    idp().admin_confirm_sign_up(UserPoolId=pool_id, Username=username)
    assert idp().admin_get_user(UserPoolId=pool_id, Username=username)["UserStatus"] == "CONFIRMED"
    expect_error("NotAuthorizedException", idp().admin_confirm_sign_up, UserPoolId=pool_id, Username=username)
    check("AdminConfirmSignUp")

    # --- sign in, read profile, refresh ------------------------------------------------
    result = idp(signed=False).initiate_auth(ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH",
                                             AuthParameters=auth)["AuthenticationResult"]
    assert result["TokenType"] == "Bearer" and result["ExpiresIn"] == 3600
    access, id_token, refresh = result["AccessToken"], result["IdToken"], result["RefreshToken"]
    check("InitiateAuth USER_PASSWORD_AUTH")

    issuer = f"{URLS[0]}/{pool_id}"
    discovery = json.load(urllib.request.urlopen(f"{URLS[-1]}/{pool_id}/.well-known/openid-configuration"))
    assert discovery["issuer"] == issuer, discovery
    jwks = jwt.PyJWKClient(discovery["jwks_uri"])
    id_claims = jwt.decode(id_token, jwks.get_signing_key_from_jwt(id_token).key, algorithms=["RS256"],
                           audience=client_id, issuer=issuer)
    assert id_claims["sub"] == sub and id_claims["token_use"] == "id"
    assert id_claims["cognito:username"] == username and id_claims["email"] == email
    assert id_claims["email_verified"] is False if "email_verified" in id_claims else True
    assert jwt.get_unverified_header(id_token)["kid"]
    access_claims = jwt.decode(access, jwks.get_signing_key_from_jwt(access).key, algorithms=["RS256"],
                               issuer=issuer, options={"verify_aud": False})
    assert access_claims["client_id"] == client_id and access_claims["token_use"] == "access"
    assert access_claims["scope"] == "aws.cognito.signin.user.admin"
    assert access_claims["username"] == username
    assert access_claims["origin_jti"] == id_claims["origin_jti"]
    check("tokens verify against the pool's JWKS with Cognito's claims")

    me = idp(signed=False).get_user(AccessToken=access)
    assert me["Username"] == username
    assert {a["Name"]: a["Value"] for a in me["UserAttributes"]}["email"] == email
    expect_error("NotAuthorizedException", idp(signed=False).get_user, AccessToken=id_token)
    expect_error("NotAuthorizedException", idp(signed=False).get_user, AccessToken=access[:-4] + "AAAA")
    check("GetUser with the access token")

    refreshed = idp(signed=False).initiate_auth(ClientId=client_id, AuthFlow="REFRESH_TOKEN_AUTH",
                                                AuthParameters={"REFRESH_TOKEN": refresh})["AuthenticationResult"]
    assert "RefreshToken" not in refreshed
    new_claims = jwt.decode(refreshed["AccessToken"], options={"verify_signature": False})
    assert new_claims["origin_jti"] == access_claims["origin_jti"]
    assert new_claims["auth_time"] == access_claims["auth_time"]
    assert idp(signed=False).get_user(AccessToken=refreshed["AccessToken"])["Username"] == username
    expect_error("NotAuthorizedException", idp(signed=False).initiate_auth, ClientId=client_id,
                 AuthFlow="REFRESH_TOKEN_AUTH", AuthParameters={"REFRESH_TOKEN": "not-a-token"})
    check("REFRESH_TOKEN_AUTH keeps origin_jti and auth_time")

    # --- a client with a secret needs SECRET_HASH --------------------------------------
    import base64, hashlib, hmac
    sid, ssecret = secret_client["ClientId"], secret_client["ClientSecret"]
    expect_error("NotAuthorizedException", idp(signed=False).initiate_auth, ClientId=sid,
                 AuthFlow="USER_PASSWORD_AUTH", AuthParameters=auth)
    digest = hmac.new(ssecret.encode(), (username + sid).encode(), hashlib.sha256).digest()
    with_hash = dict(auth, SECRET_HASH=base64.b64encode(digest).decode())
    assert idp(signed=False).initiate_auth(ClientId=sid, AuthFlow="USER_PASSWORD_AUTH",
                                           AuthParameters=with_hash)["AuthenticationResult"]["IdToken"]
    check("SECRET_HASH")

    # --- protocol errors ----------------------------------------------------------------
    for body, target in [(b"{not json", "SignUp"), (b"[]", "SignUp"), (b"{}", "NoSuchOperation")]:
        request = urllib.request.Request(URLS[0] + "/", data=body, method="POST", headers={
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": f"AWSCognitoIdentityProviderService.{target}"})
        try:
            urllib.request.urlopen(request)
            raise AssertionError("malformed request accepted")
        except urllib.error.HTTPError as err:
            assert err.code == 400, err.code
            payload = json.loads(err.read())
            assert "__type" in payload, payload
            assert err.headers["x-amzn-RequestId"] and err.headers["x-amzn-ErrorType"]
    expect_error("InvalidParameterException", idp(signed=False).initiate_auth, ClientId=client_id,
                 AuthFlow="NOT_A_FLOW", AuthParameters=auth)
    check("malformed JSON, unknown operation and bad enum values are 400s")

    print(json.dumps({"pool_id": pool_id, "client_id": client_id, "username": username}))


if __name__ == "__main__":
    main()
