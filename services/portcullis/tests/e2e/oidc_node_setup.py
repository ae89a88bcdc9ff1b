"""Setup for the Node OIDC tests (oidc.mjs with openid-client, browser.mjs with a real
browser): a pool with optional TOTP MFA, a public code-flow client, a confidential one
(client_secret_basic), a user without MFA, a user with TOTP MFA set up and a user with a
temporary password; and a pool that requires MFA and allows no self sign-up, with a user
who has no MFA yet. Prints, as JSON: {"issuer", "pool_id", "public_client_id",
"confidential_client_id", "confidential_client_secret", "callbacks", "logout_urls",
"password", "user", "mfa_user", "totp_secret", "totp_spent_step", "new_password_user",
"temporary_password", "mfa_required": {"issuer", "client_id", "user"}}; totp_spent_step
is the RFC 6238 time step whose code the setup used (a code is not accepted twice).
With PRE_TOKEN_ARN in the environment, the first pool's pre token generation trigger
(V2) is that function, and the JSON says "pre_token": true.
Usage: oidc_node_setup.py URL CALLBACK_URL [CALLBACK_URL ...]"""

import json
import os
import sys
import time
import urllib.parse
import uuid

import boto3
import botocore
import pyotp
from botocore.config import Config

url = sys.argv[1]
callbacks = sys.argv[2:]
assert callbacks, __doc__
config = Config(retries={"max_attempts": 1})
admin = boto3.client("cognito-idp", endpoint_url=url, region_name="us-east-1", config=config)
public = boto3.client("cognito-idp", endpoint_url=url, region_name="us-east-1",
                      config=config.merge(Config(signature_version=botocore.UNSIGNED)))
PASSWORD = "Node-0idc!Passw0rd"
TEMPORARY = "Temp-0idc!Passw0rd"

pre_token = os.environ.get("PRE_TOKEN_ARN")
triggers = {"LambdaConfig": {"PreTokenGenerationConfig": {
    "LambdaVersion": "V2_0", "LambdaArn": pre_token}}} if pre_token else {}
pool_id = admin.create_user_pool(
    PoolName=f"node-oidc-{uuid.uuid4().hex[:8]}", AutoVerifiedAttributes=["email"],
    Schema=[{"Name": "email", "AttributeDataType": "String", "Mutable": True, "Required": False}],
    **triggers,
)["UserPool"]["Id"]
admin.create_user_pool_domain(UserPoolId=pool_id, Domain=f"node-{uuid.uuid4().hex[:12]}")
admin.set_user_pool_mfa_config(UserPoolId=pool_id, MfaConfiguration="OPTIONAL",
                               SoftwareTokenMfaConfiguration={"Enabled": True})
oauth = {
    "AllowedOAuthFlows": ["code"], "AllowedOAuthFlowsUserPoolClient": True,
    "CallbackURLs": callbacks, "SupportedIdentityProviders": ["COGNITO"],
    "LogoutURLs": [urllib.parse.urljoin(callback, "signed-out") for callback in callbacks],
}
# With the pre token function, the public client also allows the implicit grant, whose
# tokens the function shapes as well.
flows = {"AllowedOAuthFlows": ["code", "implicit"]} if pre_token else {}
public_client = admin.create_user_pool_client(
    UserPoolId=pool_id, ClientName="spa", EnableTokenRevocation=True,
    AllowedOAuthScopes=["openid", "email", "profile"],
    ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    **{**oauth, **flows},
)["UserPoolClient"]
confidential = admin.create_user_pool_client(
    UserPoolId=pool_id, ClientName="server", GenerateSecret=True, EnableTokenRevocation=True,
    AllowedOAuthScopes=["openid", "email"], **oauth,
)["UserPoolClient"]


def make_user(name):
    admin.admin_create_user(UserPoolId=pool_id, Username=name, MessageAction="SUPPRESS",
                            UserAttributes=[{"Name": "email", "Value": f"{name}@example.com"},
                                            {"Name": "email_verified", "Value": "true"}])
    admin.admin_set_user_password(UserPoolId=pool_id, Username=name, Password=PASSWORD,
                                  Permanent=True)


make_user("olive")
make_user("tom")
# Nell has a temporary password: her first sign-in asks for a new one.
admin.admin_create_user(UserPoolId=pool_id, Username="nell", TemporaryPassword=TEMPORARY,
                        MessageAction="SUPPRESS",
                        UserAttributes=[{"Name": "email", "Value": "nell@example.com"},
                                        {"Name": "email_verified", "Value": "true"}])
# Tom signs in through the API once to set up TOTP, as an app would.
signed = public.initiate_auth(ClientId=public_client["ClientId"], AuthFlow="USER_PASSWORD_AUTH",
                              AuthParameters={"USERNAME": "tom", "PASSWORD": PASSWORD},
                              )["AuthenticationResult"]
secret = public.associate_software_token(AccessToken=signed["AccessToken"])["SecretCode"]
# The code of the previous time step (within the allowed drift), so that the current
# step's code is still unused when the browser test signs in.
spent = time.time() - 30
public.verify_software_token(AccessToken=signed["AccessToken"], UserCode=pyotp.TOTP(secret).at(spent))
public.set_user_mfa_preference(AccessToken=signed["AccessToken"],
                               SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": True})

# A second pool requires MFA: Max has none yet, so his first sign-in sets up TOTP. Only
# an administrator creates its users.
strict_pool = admin.create_user_pool(
    PoolName=f"node-oidc-mfa-{uuid.uuid4().hex[:8]}",
    AdminCreateUserConfig={"AllowAdminCreateUserOnly": True},
)["UserPool"]["Id"]
admin.create_user_pool_domain(UserPoolId=strict_pool, Domain=f"node-mfa-{uuid.uuid4().hex[:12]}")
admin.set_user_pool_mfa_config(UserPoolId=strict_pool, MfaConfiguration="ON",
                               SoftwareTokenMfaConfiguration={"Enabled": True})
strict_client = admin.create_user_pool_client(
    UserPoolId=strict_pool, ClientName="spa", AllowedOAuthScopes=["openid"], **oauth,
)["UserPoolClient"]["ClientId"]
admin.admin_create_user(UserPoolId=strict_pool, Username="max", MessageAction="SUPPRESS")
admin.admin_set_user_password(UserPoolId=strict_pool, Username="max", Password=PASSWORD,
                              Permanent=True)

print(json.dumps({
    "issuer": f"{url}/{pool_id}", "pool_id": pool_id,
    "public_client_id": public_client["ClientId"],
    "confidential_client_id": confidential["ClientId"],
    "confidential_client_secret": confidential["ClientSecret"],
    "callbacks": callbacks, "logout_urls": oauth["LogoutURLs"], "password": PASSWORD, "user": "olive", "mfa_user": "tom",
    "new_password_user": "nell", "temporary_password": TEMPORARY,
    "mfa_required": {"issuer": f"{url}/{strict_pool}", "client_id": strict_client, "user": "max"},
    "totp_secret": secret, "totp_spent_step": int(spent) // 30,
    "pre_token": bool(pre_token),
}))
