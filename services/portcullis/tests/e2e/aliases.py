"""Aliases, through boto3: signing in with a verified email or a preferred user name,
their uniqueness, ForceAliasCreation, and user names that would shadow an alias.
Usage: aliases.py URL OUTBOX_PATH"""

import json
import sys
import uuid

import boto3
import contract  # noqa: F401  (checks every answer against the model)
import botocore
from botocore.config import Config

url, outbox = sys.argv[1], sys.argv[2]
config = Config(retries={"max_attempts": 1})
admin = boto3.client("cognito-idp", endpoint_url=url, region_name="us-east-1", config=config)
public = boto3.client("cognito-idp", endpoint_url=url, region_name="us-east-1",
                      config=config.merge(Config(signature_version=botocore.UNSIGNED)))


def expect_error(code, call, **kwargs):
    try:
        call(**kwargs)
    except botocore.exceptions.ClientError as err:
        got = err.response["Error"]["Code"]
        assert got == code, f"expected {code}, got {got}: {err.response['Error'].get('Message')}"
        return err.response["Error"]["Message"]
    raise AssertionError(f"expected {code}, call succeeded")


def last_code(username):
    with open(outbox) as f:
        messages = [json.loads(line) for line in f if line.strip()]
    mine = [m for m in messages if m["username"] == username and m["pool_id"] == pool_id]
    return mine[-1]["code"]


def sign_in(name, password):
    return public.initiate_auth(ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH",
                                AuthParameters={"USERNAME": name, "PASSWORD": password})


def attributes(name):
    user = admin.admin_get_user(UserPoolId=pool_id, Username=name)
    return {a["Name"]: a["Value"] for a in user["UserAttributes"]}


suffix = uuid.uuid4().hex[:8]
pool_id = admin.create_user_pool(PoolName=f"aliases-{suffix}", AutoVerifiedAttributes=["email"],
                                 AliasAttributes=["email", "preferred_username"],
                                 UsernameConfiguration={"CaseSensitive": False})["UserPool"]["Id"]
client_id = admin.create_user_pool_client(
    UserPoolId=pool_id, ClientName="app",
    ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"])["UserPoolClient"]["ClientId"]
password = "Al1as!Password"

assert "email format" in expect_error("InvalidParameterException", public.sign_up, ClientId=client_id,
                                      Username="pat@example.com", Password=password)
public.sign_up(ClientId=client_id, Username="pat", Password=password,
               UserAttributes=[{"Name": "email", "Value": "Shared@Example.com"}])
# Unverified, the email is no alias yet.
expect_error("UserNotFoundException", sign_in, name="shared@example.com", password=password)
public.confirm_sign_up(ClientId=client_id, Username="pat", ConfirmationCode=last_code("pat"))
tokens = sign_in("SHARED@example.com", password)["AuthenticationResult"]
assert public.get_user(AccessToken=tokens["AccessToken"])["Username"] == "pat"
print("ok - a verified email signs in as an alias, case-insensitively")

public.sign_up(ClientId=client_id, Username="quinn", Password=password,
               UserAttributes=[{"Name": "email", "Value": "shared@example.com"}])
assert "email" in expect_error("AliasExistsException", public.confirm_sign_up, ClientId=client_id,
                               Username="quinn", ConfirmationCode=last_code("quinn"))
assert admin.admin_get_user(UserPoolId=pool_id, Username="quinn")["UserStatus"] == "UNCONFIRMED"
public.resend_confirmation_code(ClientId=client_id, Username="quinn")
public.confirm_sign_up(ClientId=client_id, Username="quinn", ConfirmationCode=last_code("quinn"),
                       ForceAliasCreation=True)
assert attributes("pat")["email_verified"] == "false"
assert attributes("quinn")["email_verified"] == "true"
tokens = sign_in("shared@example.com", password)["AuthenticationResult"]
assert public.get_user(AccessToken=tokens["AccessToken"])["Username"] == "quinn"
sign_in("pat", password)
print("ok - ForceAliasCreation moves a verified email to the new user")

admin.admin_update_user_attributes(UserPoolId=pool_id, Username="pat", UserAttributes=[
    {"Name": "preferred_username", "Value": "Patty"}])
sign_in("patty", password)
expect_error("AliasExistsException", admin.admin_update_user_attributes, UserPoolId=pool_id,
             Username="quinn", UserAttributes=[{"Name": "preferred_username", "Value": "patty"}])
admin.admin_update_user_attributes(UserPoolId=pool_id, Username="pat", UserAttributes=[
    {"Name": "preferred_username", "Value": "pat2"}])
expect_error("UserNotFoundException", sign_in, name="patty", password=password)
admin.admin_update_user_attributes(UserPoolId=pool_id, Username="quinn", UserAttributes=[
    {"Name": "preferred_username", "Value": "patty"}])
tokens = sign_in("patty", password)["AuthenticationResult"]
assert public.get_user(AccessToken=tokens["AccessToken"])["Username"] == "quinn"
print("ok - preferred user names are unique aliases, freed when changed")

admin.admin_delete_user(UserPoolId=pool_id, Username="quinn")
expect_error("UserNotFoundException", sign_in, name="patty", password=password)
expect_error("UserNotFoundException", sign_in, name="shared@example.com", password=password)
print("ok - deleting a user frees its aliases")
