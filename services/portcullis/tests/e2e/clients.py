"""App clients through boto3: update, delete, list, and secret rotation, with errors.

Usage: clients.py URL
Admin credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY. Exits non-zero
on the first failed check.
"""

import base64
import hashlib
import hmac
import json
import sys
import urllib.request
import uuid

import boto3
import contract  # checks every answer against the model
import botocore
import botocore.auth
import botocore.awsrequest
from botocore.config import Config

URL = sys.argv[1]
REGION = "us-east-1"


def idp(signed=True):
    config = Config(retries={"max_attempts": 1})
    if not signed:
        config = config.merge(Config(signature_version=botocore.UNSIGNED))
    return boto3.client("cognito-idp", endpoint_url=URL, region_name=REGION, config=config)


def expect_error(code, call, *args, **kwargs):
    try:
        call(*args, **kwargs)
    except botocore.exceptions.ClientError as err:
        got = err.response["Error"]["Code"]
        message = err.response["Error"].get("Message", "")
        assert got == code, f"expected {code}, got {got}: {message}"
        assert err.response["ResponseMetadata"]["HTTPStatusCode"] < 500, err.response
        return message
    raise AssertionError(f"expected {code}, call succeeded")


def raw(target, body):
    """A signed request with a body botocore would refuse to send (wrong types, missing
    or too-short members), to see the server's own answer."""
    session = boto3.session.Session()
    credentials = session.get_credentials()
    request = botocore.awsrequest.AWSRequest(
        method="POST", url=URL + "/", data=json.dumps(body).encode(),
        headers={"Content-Type": "application/x-amz-json-1.1",
                 "X-Amz-Target": f"AWSCognitoIdentityProviderService.{target}"})
    botocore.auth.SigV4Auth(credentials, "cognito-idp", REGION).add_auth(request)
    prepared = urllib.request.Request(URL + "/", data=request.body, method="POST",
                                      headers=dict(request.headers))
    try:
        urllib.request.urlopen(prepared)
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())
    raise AssertionError(f"{target} {body} was accepted")


def check(label):
    print(f"ok - {label}", flush=True)


def secret_hash(secret, username, client_id):
    digest = hmac.new(secret.encode(), (username + client_id).encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def main():
    suffix = uuid.uuid4().hex[:8]
    admin = idp()
    pool_id = admin.create_user_pool(
        PoolName=f"clients-{suffix}",
        Policies={"PasswordPolicy": {"MinimumLength": 8, "RequireNumbers": False,
                                     "RequireLowercase": False, "RequireUppercase": False,
                                     "RequireSymbols": False}},
        Schema=[{"Name": "tenant", "AttributeDataType": "String"}],
    )["UserPool"]["Id"]
    missing_pool = f"{REGION}_doesNotExist"

    # --- create with every member, describe returns every member ------------------
    created = admin.create_user_pool_client(
        UserPoolId=pool_id, ClientName="full", GenerateSecret=True,
        RefreshTokenValidity=10, AccessTokenValidity=2, IdTokenValidity=3,
        TokenValidityUnits={"AccessToken": "hours", "IdToken": "hours", "RefreshToken": "days"},
        ReadAttributes=["email", "custom:tenant"], WriteAttributes=["email"],
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        SupportedIdentityProviders=["COGNITO"],
        CallbackURLs=["https://app.example.com/cb", "http://localhost:3000/cb"],
        LogoutURLs=["https://app.example.com/bye"],
        DefaultRedirectURI="https://app.example.com/cb",
        AllowedOAuthFlows=["code"], AllowedOAuthScopes=["openid", "email"],
        AllowedOAuthFlowsUserPoolClient=True,
        AnalyticsConfiguration={"ApplicationId": "abcdef0123", "UserDataShared": True},
        PreventUserExistenceErrors="ENABLED", EnableTokenRevocation=True,
        EnablePropagateAdditionalUserContextData=False, AuthSessionValidity=7,
        RefreshTokenRotation={"Feature": "DISABLED", "RetryGracePeriodSeconds": 10},
    )["UserPoolClient"]
    client_id, first_secret = created["ClientId"], created["ClientSecret"]
    described = admin.describe_user_pool_client(UserPoolId=pool_id, ClientId=client_id)["UserPoolClient"]
    for member in ["UserPoolId", "ClientName", "ClientId", "ClientSecret", "LastModifiedDate",
                   "CreationDate", "RefreshTokenValidity", "AccessTokenValidity", "IdTokenValidity",
                   "TokenValidityUnits", "ReadAttributes", "WriteAttributes", "ExplicitAuthFlows",
                   "SupportedIdentityProviders", "CallbackURLs", "LogoutURLs", "DefaultRedirectURI",
                   "AllowedOAuthFlows", "AllowedOAuthScopes", "AllowedOAuthFlowsUserPoolClient",
                   "AnalyticsConfiguration", "PreventUserExistenceErrors", "EnableTokenRevocation",
                   "EnablePropagateAdditionalUserContextData", "AuthSessionValidity",
                   "RefreshTokenRotation"]:
        assert member in described, f"{member} missing from {described}"
    assert described["AccessTokenValidity"] == 2 and described["TokenValidityUnits"]["AccessToken"] == "hours"
    assert described["AnalyticsConfiguration"] == {"ApplicationId": "abcdef0123", "UserDataShared": True}
    assert described["RefreshTokenRotation"] == {"Feature": "DISABLED", "RetryGracePeriodSeconds": 10}
    assert described["AuthSessionValidity"] == 7
    assert described["ClientSecret"] == first_secret
    check("CreateUserPoolClient takes and DescribeUserPoolClient returns every member")

    # --- validation on create --------------------------------------------------------
    bad_creates = [
        ("InvalidParameterException", dict(ReadAttributes=["custom:nope"]), "Invalid read attributes"),
        ("InvalidParameterException", dict(WriteAttributes=["sub"]), "Invalid write attributes"),
        ("InvalidParameterException", dict(AccessTokenValidity=4, TokenValidityUnits={"AccessToken": "minutes"}), "5 minutes"),
        ("InvalidParameterException", dict(IdTokenValidity=2, TokenValidityUnits={"IdToken": "days"}), "1 day"),
        ("InvalidParameterException", dict(RefreshTokenValidity=59, TokenValidityUnits={"RefreshToken": "minutes"}), "60 minutes"),
        ("InvalidParameterException", dict(RefreshTokenValidity=3651, TokenValidityUnits={"RefreshToken": "days"}), "10 years"),
        ("InvalidParameterException", dict(AuthSessionValidity=16), "authSessionValidity"),
        ("InvalidOAuthFlowException", dict(AllowedOAuthFlows=["code"], AllowedOAuthScopes=["openid"],
                                           AllowedOAuthFlowsUserPoolClient=True), "CallbackUrls can not be empty"),
        ("InvalidOAuthFlowException", dict(AllowedOAuthFlows=["client_credentials"],
                                           AllowedOAuthScopes=["openid"], AllowedOAuthFlowsUserPoolClient=True),
         "client secret"),
        ("ScopeDoesNotExistException", dict(AllowedOAuthFlows=["code"], AllowedOAuthScopes=["api/read"],
                                            CallbackURLs=["https://a.example/cb"],
                                            AllowedOAuthFlowsUserPoolClient=True), "api/read"),
        ("InvalidParameterException", dict(CallbackURLs=["http://insecure.example.com/cb"]), "localhost"),
        ("InvalidParameterException", dict(SupportedIdentityProviders=["Google"]), "does not exist"),
    ]
    for code, members, fragment in bad_creates:
        message = expect_error(code, admin.create_user_pool_client, UserPoolId=pool_id, ClientName="bad", **members)
        assert fragment in message, (members, message)
    # Values outside the model's enums are refused by the server (botocore does not check).
    for members, fragment in [(dict(ExplicitAuthFlows=["ALLOW_EVERYTHING"]), "explicitAuthFlows"),
                              (dict(PreventUserExistenceErrors="SOMETIMES"), "preventUserExistenceErrors"),
                              (dict(AllowedOAuthFlows=["password"]), "allowedOAuthFlows")]:
        message = expect_error("InvalidParameterException", admin.create_user_pool_client,
                               UserPoolId=pool_id, ClientName="bad", **members)
        assert fragment in message, message
    expect_error("ResourceNotFoundException", admin.create_user_pool_client, UserPoolId=missing_pool, ClientName="x")
    check("create validates attributes, validity ranges, flows, OAuth and URLs")

    # --- update: omitted members return to their defaults --------------------------------
    updated = admin.update_user_pool_client(
        UserPoolId=pool_id, ClientId=client_id, ClientName="renamed",
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )["UserPoolClient"]
    assert updated["ClientName"] == "renamed"
    assert updated["ClientSecret"] == first_secret, "a secret survives an update"
    assert updated["AccessTokenValidity"] == 60 and updated["TokenValidityUnits"]["AccessToken"] == "minutes"
    assert updated["RefreshTokenValidity"] == 30
    assert "ReadAttributes" not in updated and "CallbackURLs" not in updated
    assert "AllowedOAuthFlows" not in updated and "AnalyticsConfiguration" not in updated
    assert updated["PreventUserExistenceErrors"] == "LEGACY" and updated["AuthSessionValidity"] == 3
    assert updated["CreationDate"] == described["CreationDate"]
    assert updated["LastModifiedDate"] >= described["LastModifiedDate"]
    again = admin.describe_user_pool_client(UserPoolId=pool_id, ClientId=client_id)["UserPoolClient"]
    assert again["ClientName"] == "renamed" and "ReadAttributes" not in again
    kept_name = admin.update_user_pool_client(UserPoolId=pool_id, ClientId=client_id, AuthSessionValidity=5,
                                              ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"])["UserPoolClient"]
    assert kept_name["ClientName"] == "renamed" and kept_name["AuthSessionValidity"] == 5
    message = expect_error("InvalidParameterException", admin.update_user_pool_client, UserPoolId=pool_id,
                           ClientId=client_id, WriteAttributes=["custom:nope"])
    assert "Invalid write attributes" in message, message
    expect_error("InvalidParameterException", admin.update_user_pool_client, UserPoolId=pool_id,
                 ClientId=client_id, AccessTokenValidity=2, TokenValidityUnits={"AccessToken": "days"})
    expect_error("InvalidOAuthFlowException", admin.update_user_pool_client, UserPoolId=pool_id,
                 ClientId=client_id, AllowedOAuthFlows=["implicit"], AllowedOAuthScopes=["openid"],
                 AllowedOAuthFlowsUserPoolClient=True)
    message = expect_error("ResourceNotFoundException", admin.update_user_pool_client,
                           UserPoolId=pool_id, ClientId="a" * 26, ClientName="x")
    assert message == f"User pool client {'a' * 26} does not exist.", message
    expect_error("ResourceNotFoundException", admin.update_user_pool_client,
                 UserPoolId=missing_pool, ClientId=client_id)
    # A client of one pool is not found through another.
    other_pool = admin.create_user_pool(PoolName=f"other-{suffix}")["UserPool"]["Id"]
    expect_error("ResourceNotFoundException", admin.update_user_pool_client,
                 UserPoolId=other_pool, ClientId=client_id)
    check("UpdateUserPoolClient resets what is left out and validates like create")

    # --- list, with pagination ------------------------------------------------------------
    names = {client_id: "renamed"}
    for i in range(4):
        c = admin.create_user_pool_client(UserPoolId=pool_id, ClientName=f"app-{i}")["UserPoolClient"]
        names[c["ClientId"]] = f"app-{i}"
    seen, token, pages = {}, None, 0
    while True:
        kwargs = {"UserPoolId": pool_id, "MaxResults": 2}
        if token:
            kwargs["NextToken"] = token
        page = admin.list_user_pool_clients(**kwargs)
        pages += 1
        assert len(page["UserPoolClients"]) <= 2
        for c in page["UserPoolClients"]:
            assert set(c) == {"ClientId", "UserPoolId", "ClientName"}, c
            assert c["UserPoolId"] == pool_id
            seen[c["ClientId"]] = c["ClientName"]
        token = page.get("NextToken")
        if not token:
            break
    assert seen == names, (seen, names)
    assert pages == 3, pages
    everything = admin.list_user_pool_clients(UserPoolId=pool_id, MaxResults=60)
    assert len(everything["UserPoolClients"]) == 5 and "NextToken" not in everything
    assert admin.list_user_pool_clients(UserPoolId=other_pool, MaxResults=10)["UserPoolClients"] == []
    expect_error("InvalidParameterException", admin.list_user_pool_clients, UserPoolId=pool_id, MaxResults=61)
    status, payload = raw("ListUserPoolClients", {"UserPoolId": pool_id, "MaxResults": 0})
    assert payload["__type"] == "InvalidParameterException", payload
    expect_error("ResourceNotFoundException", admin.list_user_pool_clients, UserPoolId=missing_pool, MaxResults=10)
    check("ListUserPoolClients pages through a pool's clients")

    # --- secret rotation --------------------------------------------------------------------
    public = idp(signed=False)
    username, password = f"rota-{suffix}", "rotation-pass"
    public.sign_up(ClientId=client_id, Username=username, Password=password,
                   SecretHash=secret_hash(first_secret, username, client_id))
    admin.admin_confirm_sign_up(UserPoolId=pool_id, Username=username)

    def sign_in(secret):
        return public.initiate_auth(
            ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": username, "PASSWORD": password,
                            "SECRET_HASH": secret_hash(secret, username, client_id)})

    listed = admin.list_user_pool_client_secrets(UserPoolId=pool_id, ClientId=client_id)["ClientSecrets"]
    assert len(listed) == 1 and "ClientSecretValue" not in listed[0], listed
    first_id = listed[0]["ClientSecretId"]
    assert listed[0]["ClientSecretCreateDate"]

    added = admin.add_user_pool_client_secret(UserPoolId=pool_id, ClientId=client_id)["ClientSecretDescriptor"]
    second_secret, second_id = added["ClientSecretValue"], added["ClientSecretId"]
    assert second_id != first_id and second_secret != first_secret and added["ClientSecretCreateDate"]
    listed = admin.list_user_pool_client_secrets(UserPoolId=pool_id, ClientId=client_id)["ClientSecrets"]
    assert [s["ClientSecretId"] for s in listed] == [first_id, second_id], listed
    assert all("ClientSecretValue" not in s for s in listed)
    described = admin.describe_user_pool_client(UserPoolId=pool_id, ClientId=client_id)["UserPoolClient"]
    assert described["ClientSecret"] == first_secret, "describe shows the primary secret"

    assert sign_in(first_secret)["AuthenticationResult"]["AccessToken"]
    assert sign_in(second_secret)["AuthenticationResult"]["AccessToken"]
    expect_error("NotAuthorizedException", sign_in, "not-the-secret-of-this-client-at-all")
    check("SECRET_HASH is accepted with either current secret")

    expect_error("LimitExceededException", admin.add_user_pool_client_secret, UserPoolId=pool_id, ClientId=client_id)
    admin.delete_user_pool_client_secret(UserPoolId=pool_id, ClientId=client_id, ClientSecretId=first_id)
    listed = admin.list_user_pool_client_secrets(UserPoolId=pool_id, ClientId=client_id)["ClientSecrets"]
    assert [s["ClientSecretId"] for s in listed] == [second_id], listed
    expect_error("NotAuthorizedException", sign_in, first_secret)
    assert sign_in(second_secret)["AuthenticationResult"]["AccessToken"]
    described = admin.describe_user_pool_client(UserPoolId=pool_id, ClientId=client_id)["UserPoolClient"]
    assert described["ClientSecret"] == second_secret, "the remaining secret is now the primary"
    check("a deleted secret no longer signs in; the other does")

    expect_error("InvalidParameterException", admin.delete_user_pool_client_secret,
                 UserPoolId=pool_id, ClientId=client_id, ClientSecretId=second_id)
    expect_error("ResourceNotFoundException", admin.delete_user_pool_client_secret,
                 UserPoolId=pool_id, ClientId=client_id, ClientSecretId=first_id)
    custom = "my_own_secret_value_0123456789+abc"
    added = admin.add_user_pool_client_secret(UserPoolId=pool_id, ClientId=client_id,
                                              ClientSecret=custom)["ClientSecretDescriptor"]
    assert "ClientSecretValue" not in added, "a caller's own secret is not echoed"
    assert sign_in(custom)["AuthenticationResult"]["AccessToken"]
    status, payload = raw("AddUserPoolClientSecret", {"UserPoolId": pool_id, "ClientId": client_id,
                                                      "ClientSecret": "tooshort"})
    assert payload["__type"] == "InvalidParameterException", payload
    public_client = list(names)[1]
    expect_error("InvalidParameterException", admin.add_user_pool_client_secret,
                 UserPoolId=pool_id, ClientId=public_client)
    assert admin.list_user_pool_client_secrets(UserPoolId=pool_id, ClientId=public_client)["ClientSecrets"] == []
    expect_error("ResourceNotFoundException", admin.list_user_pool_client_secrets,
                 UserPoolId=pool_id, ClientId="b" * 26)
    expect_error("ResourceNotFoundException", admin.add_user_pool_client_secret,
                 UserPoolId=missing_pool, ClientId=client_id)
    check("secret limits, last-secret rule, custom secrets and errors")

    # --- delete ---------------------------------------------------------------------------------
    admin.delete_user_pool_client(UserPoolId=pool_id, ClientId=client_id)
    message = expect_error("ResourceNotFoundException", admin.describe_user_pool_client,
                           UserPoolId=pool_id, ClientId=client_id)
    assert message == f"User pool client {client_id} does not exist.", message
    expect_error("ResourceNotFoundException", admin.delete_user_pool_client, UserPoolId=pool_id, ClientId=client_id)
    expect_error("ResourceNotFoundException", admin.list_user_pool_client_secrets, UserPoolId=pool_id, ClientId=client_id)
    expect_error("ResourceNotFoundException", sign_in, second_secret)
    remaining = admin.list_user_pool_clients(UserPoolId=pool_id, MaxResults=60)["UserPoolClients"]
    assert client_id not in [c["ClientId"] for c in remaining] and len(remaining) == 4
    expect_error("ResourceNotFoundException", admin.delete_user_pool_client, UserPoolId=missing_pool, ClientId=public_client)
    check("DeleteUserPoolClient: the client is gone everywhere")

    # --- missing members and wrong JSON types ----------------------------------------------------
    for target, body in [("UpdateUserPoolClient", {"UserPoolId": pool_id, "ClientId": public_client, "AuthSessionValidity": "five"}),
                         ("ListUserPoolClients", {"UserPoolId": pool_id, "MaxResults": "ten"}),
                         ("AddUserPoolClientSecret", {"UserPoolId": pool_id, "ClientId": 7})]:
        status, payload = raw(target, body)
        assert status == 400 and payload["__type"] == "SerializationException", payload
    for target, body in [("UpdateUserPoolClient", {"UserPoolId": pool_id}),
                         ("DeleteUserPoolClient", {"ClientId": public_client}),
                         ("ListUserPoolClients", {}),
                         ("DeleteUserPoolClientSecret", {"UserPoolId": pool_id, "ClientId": public_client})]:
        status, payload = raw(target, body)
        assert status == 400 and payload["__type"] == "InvalidParameterException", payload
        assert "Member must not be null" in payload["message"], payload
    check("missing members and wrong JSON types")

    contract.assert_returned("UserPoolClientType")
    contract.assert_returned("UserPoolClientDescription")
    check("every member of UserPoolClientType is returned")


if __name__ == "__main__":
    main()
