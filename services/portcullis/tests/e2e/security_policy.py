"""The decision point and the signed APIs against an attacker, with boto3 and requests
signed by botocore:

- a principal tag or a caller's context value pasted into a policy is never a wildcard:
  a user named `*` (whose name is outside IAM's tag character set, so the tag is left
  out) reads nobody's home, and a context value `*` names the folder `*` only;
- forward auth decides on the path the upstream will serve: `/x/../admin/secret`,
  `//admin/secret`, `/%61dmin/secret` and an upper-case host are all the admin area;
  encoded `.` and `/` are refused;
- SigV4: an unsigned `X-Amz-Target` or `Content-Type` is refused (a captured request
  cannot be replayed as another operation), and so is a signature scoped to another
  service.

Usage: security_policy.py URL"""

import json
import urllib.error
import urllib.request

import boto3
import botocore.auth
import botocore.awsrequest
import botocore.credentials
from botocore import UNSIGNED
from botocore.config import Config

from e2e_common import REGION, URL, check, decide, idp, send

ONE_TRY = Config(retries={"max_attempts": 1})
admin = boto3.client("cognito-identity", endpoint_url=URL, region_name=REGION, config=ONE_TRY)
public = boto3.client("cognito-identity", endpoint_url=URL, region_name=REGION,
                      config=Config(signature_version=UNSIGNED, retries={"max_attempts": 1}))
iam = boto3.client("iam", endpoint_url=URL, region_name=REGION, config=ONE_TRY)
users = idp()
PASSWORD = "Correct-Horse-9"

# --- a user pool with a user named `*`, an identity pool tagging by user name -----------

user_pool = users.create_user_pool(PoolName="tenants")["UserPool"]["Id"]
client_id = users.create_user_pool_client(
    UserPoolId=user_pool, ClientName="app", ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH",
                                                               "ALLOW_REFRESH_TOKEN_AUTH"],
)["UserPoolClient"]["ClientId"]
for name in ["*", "alice"]:
    users.admin_create_user(UserPoolId=user_pool, Username=name, MessageAction="SUPPRESS")
    users.admin_set_user_password(UserPoolId=user_pool, Username=name, Password=PASSWORD,
                                  Permanent=True)
PROVIDER = f"cognito-idp.{REGION}.amazonaws.com/{user_pool}"
pool_id = admin.create_identity_pool(
    IdentityPoolName="tenants", AllowUnauthenticatedIdentities=False,
    CognitoIdentityProviders=[{"ProviderName": PROVIDER, "ClientId": client_id}],
)["IdentityPoolId"]
trust = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Federated": "cognito-identity.amazonaws.com"},
    "Action": ["sts:AssumeRoleWithWebIdentity", "sts:TagSession"],
    "Condition": {"StringEquals": {"cognito-identity.amazonaws.com:aud": pool_id},
                  "ForAnyValue:StringLike": {"cognito-identity.amazonaws.com:amr":
                                             "authenticated"}}}]}
role = iam.create_role(RoleName="tenant", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
iam.put_role_policy(RoleName="tenant", PolicyName="own", PolicyDocument=json.dumps({
    "Version": "2012-10-17", "Statement": [
        {"Sid": "OwnHome", "Effect": "Allow", "Action": "docs:Read",
         "Resource": "arn:docs:::home/${aws:PrincipalTag/owner}/*"},
        {"Sid": "AskedFolder", "Effect": "Allow", "Action": "docs:List",
         "Resource": "arn:docs:::shared/${docs:folder}/*"},
        {"Sid": "Web", "Effect": "Allow", "Action": "http:GET", "Resource": "*"},
        {"Sid": "NoAdmin", "Effect": "Deny", "Action": "http:*",
         "Resource": "app.example/admin/*"}]}))
admin.set_identity_pool_roles(IdentityPoolId=pool_id, Roles={"authenticated": role})
admin.set_principal_tag_attribute_map(IdentityPoolId=pool_id, IdentityProviderName=PROVIDER,
                                      UseDefaults=False,
                                      PrincipalTags={"owner": "cognito:username"})


def credentials(name):
    token = users.initiate_auth(ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH",
                                AuthParameters={"USERNAME": name, "PASSWORD": PASSWORD},
                                )["AuthenticationResult"]["IdToken"]
    logins = {PROVIDER: token}
    identity = public.get_id(IdentityPoolId=pool_id, Logins=logins)["IdentityId"]
    return public.get_credentials_for_identity(IdentityId=identity,
                                               Logins=logins)["Credentials"]


star, alice = credentials("*"), credentials("alice")

# --- substituted values match literally -----------------------------------------------

status, answer = decide(alice, "docs:Read", "arn:docs:::home/alice/doc")
assert status == 200 and answer["Statement"] == "OwnHome", answer
status, answer = decide(star, "docs:Read", "arn:docs:::home/alice/doc")
assert status == 403 and answer["Decision"] == "ImplicitDeny", answer
# `*` is outside IAM's tag value characters: the session has no `owner` tag at all, so
# the statement does not apply even to a home literally named `*`.
status, answer = decide(star, "docs:Read", "arn:docs:::home/*/doc")
assert status == 403 and answer["Decision"] == "ImplicitDeny", answer
check("a user named * gets no wildcard tag: nobody's home is theirs")

status, answer = decide(alice, "docs:List", "arn:docs:::shared/alice/doc",
                        context={"docs:folder": "*"})
assert status == 403 and answer["Decision"] == "ImplicitDeny", answer
status, answer = decide(alice, "docs:List", "arn:docs:::shared/*/doc",
                        context={"docs:folder": "*"})
assert status == 200 and answer["Statement"] == "AskedFolder", answer
status, answer = decide(alice, "docs:List", "arn:docs:::shared/team/doc",
                        context={"docs:folder": "team"})
assert status == 200, answer
check("a context value * in a policy variable names the folder * and nothing else")

# --- forward auth decides on the normalised path --------------------------------------


def forward(creds, path, host="app.example"):
    """The proxy's subrequest for `GET http://<host><path>` signed by `creds`."""
    # The Host header as sent (botocore would otherwise sign the lower-cased URL host).
    original = botocore.awsrequest.AWSRequest(method="GET", url=f"http://{host}{path}",
                                              headers={"Host": host})
    botocore.auth.SigV4Auth(botocore.credentials.Credentials(
        creds["AccessKeyId"], creds["SecretKey"], creds["SessionToken"]),
        "execute-api", REGION).add_auth(original)
    headers = {k: v for k, v in original.headers.items() if k.lower() != "host"}
    headers.update({"X-Forwarded-Method": "GET", "X-Forwarded-Uri": path,
                    "X-Forwarded-Host": host})
    proxied = urllib.request.Request(URL + "/authorize/forward", method="GET", headers=headers)
    try:
        with urllib.request.urlopen(proxied) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


status, answer = forward(alice, "/public/page?next=/admin/x")
assert status == 200 and answer["Statement"] == "Web", answer
for path in ["/admin/secret", "/x/../admin/secret", "//admin/secret", "/x/./../admin/secret",
             "/%61dmin/secret"]:
    status, answer = forward(alice, path)
    assert status == 403 and answer["Decision"] == "ExplicitDeny", (path, answer)
    assert answer["Statement"] == "NoAdmin", (path, answer)
status, answer = forward(alice, "/admin/secret", host="APP.EXAMPLE")
assert status == 403 and answer["Statement"] == "NoAdmin", answer
check("forward auth: dot segments, // , escapes and host case all reach the deny")

for path in ["/x/%2e%2e/admin/secret", "/admin%2fsecret", "/x/%2E./admin"]:
    status, answer = forward(alice, path)
    assert status == 400 and answer["Decision"] == "Error", (path, answer)
    assert "X-Forwarded-Uri" in answer["message"], answer
check("forward auth refuses encoded dots and slashes")

# --- SigV4: what says which operation must be signed, for the right service -----------

admin_credentials = boto3.session.Session().get_credentials()


class LeavingOut(botocore.auth.SigV4Auth):
    """botocore's signer, leaving some headers out of SignedHeaders."""

    def __init__(self, credentials, service, region, leave_out=()):
        super().__init__(credentials, service, region)
        self.leave_out = leave_out

    def headers_to_sign(self, request):
        headers = super().headers_to_sign(request)
        for name in self.leave_out:
            del headers[name]
        return headers


def api(target, body, service, leave_out=(), content_type="application/x-amz-json-1.1"):
    request = botocore.awsrequest.AWSRequest(
        method="POST", url=URL + "/", data=json.dumps(body).encode(),
        headers={"Content-Type": content_type, "X-Amz-Target": target})
    LeavingOut(admin_credentials, service, REGION, leave_out).add_auth(request)
    return send(request)


LIST_POOLS = "AWSCognitoIdentityProviderService.ListUserPools"
status, answer = api(LIST_POOLS, {"MaxResults": 5}, "cognito-idp")
assert status == 200 and "UserPools" in answer, answer
for name, spelled in [("x-amz-target", "X-Amz-Target"), ("content-type", "Content-Type")]:
    status, answer = api(LIST_POOLS, {"MaxResults": 5}, "cognito-idp", leave_out=[name])
    assert status == 400 and answer["__type"] == "IncompleteSignatureException", answer
    assert answer["message"] == \
        f"'{spelled}' must be a 'SignedHeader' in the AWS Authorization.", answer
check("an unsigned X-Amz-Target or Content-Type is refused")

status, answer = api(LIST_POOLS, {"MaxResults": 5}, "cognito-identity")
assert status == 400 and answer["__type"] == "InvalidSignatureException", answer
assert answer["message"] == "Credential should be scoped to correct service: 'cognito-idp'.", \
    answer
status, answer = api("AWSCognitoIdentityService.ListIdentityPools", {"MaxResults": 5},
                     "cognito-idp")
assert status == 400 and answer["__type"] == "InvalidSignatureException", answer
assert answer["message"] == \
    "Credential should be scoped to correct service: 'cognito-identity'.", answer
status, answer = api("AWSCognitoIdentityService.ListIdentityPools", {"MaxResults": 5},
                     "cognito-identity")
assert status == 200 and "IdentityPools" in answer, answer
check("a signature scoped to another service is refused by the user-pool and identity APIs")

# The decision point: an unsigned Content-Type is refused there too.
body = json.dumps({"Action": "docs:Read", "Resource": "arn:docs:::home/alice/doc"}).encode()
request = botocore.awsrequest.AWSRequest(method="POST", url=URL + "/authorize", data=body,
                                         headers={"Content-Type": "application/json"})
LeavingOut(botocore.credentials.Credentials(alice["AccessKeyId"], alice["SecretKey"],
                                            alice["SessionToken"]),
           "execute-api", REGION, ["content-type"]).add_auth(request)
prepared = urllib.request.Request(request.url, data=request.body, method="POST",
                                  headers=dict(request.headers))
try:
    urllib.request.urlopen(prepared)
    raise AssertionError("an unsigned Content-Type was accepted by /authorize")
except urllib.error.HTTPError as err:
    answer = json.loads(err.read())
    assert err.code == 401 and "Content-Type" in answer["message"], answer
check("the decision point refuses an unsigned Content-Type")
