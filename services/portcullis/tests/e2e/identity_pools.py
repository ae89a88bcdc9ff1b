"""Identity pools end to end with boto3 (`cognito-identity`, `iam`, `sts`) and requests
signed by botocore with the credentials they issue, sent to the decision point.

- identity pools: create / describe / update / list / tags / roles / tag maps / delete,
  with Cognito's errors;
- guests get credentials for the unauthenticated role;
- user-pool sign-in: one identity per user, role rules by group, ABAC by a custom
  attribute (department a may read a's documents, not b's), ServerSideTokenCheck
  refusing a signed-out user;
- developer identities: tokens, lookup, merge, unlink, credentials from the token;
- the basic flow: GetOpenIdToken then STS AssumeRoleWithWebIdentity;
- the decision point refuses tampered, wrong-region and unsigned credentials and
  answers forward-auth subrequests.

Usage: identity_pools.py URL"""

import base64
import concurrent.futures
import json
import time
import urllib.error
import urllib.request

import boto3
import botocore
import botocore.auth
import botocore.awsrequest
import botocore.credentials
from botocore import UNSIGNED
from botocore.config import Config

import contract
from e2e_common import REGION, URL, check, decide, expect_error, idp, send

ONE_TRY = Config(retries={"max_attempts": 1})
admin = boto3.client("cognito-identity", endpoint_url=URL, region_name=REGION, config=ONE_TRY)
public = boto3.client("cognito-identity", endpoint_url=URL, region_name=REGION,
                      config=Config(signature_version=UNSIGNED, retries={"max_attempts": 1}))
iam = boto3.client("iam", endpoint_url=URL, region_name=REGION, config=ONE_TRY)
sts = boto3.client("sts", endpoint_url=URL, region_name=REGION,
                   config=Config(signature_version=UNSIGNED, retries={"max_attempts": 1}))
users = idp()
PASSWORD = "Correct-Horse-9"

# --- a user pool whose users sign in to the identity pool -------------------------------

user_pool = users.create_user_pool(
    PoolName="staff",
    Schema=[{"Name": "department", "AttributeDataType": "String", "Mutable": True}],
)["UserPool"]["Id"]
client_id = users.create_user_pool_client(
    UserPoolId=user_pool, ClientName="app",
    ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
)["UserPoolClient"]["ClientId"]
users.create_group(UserPoolId=user_pool, GroupName="admins")
for name, department in [("alice", "a"), ("bob", "b")]:
    users.admin_create_user(UserPoolId=user_pool, Username=name, MessageAction="SUPPRESS",
                            UserAttributes=[{"Name": "custom:department", "Value": department}])
    users.admin_set_user_password(UserPoolId=user_pool, Username=name, Password=PASSWORD,
                                  Permanent=True)
users.admin_add_user_to_group(UserPoolId=user_pool, Username="alice", GroupName="admins")
PROVIDER = f"cognito-idp.{REGION}.amazonaws.com/{user_pool}"


def sign_in(name):
    result = users.initiate_auth(ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH",
                                 AuthParameters={"USERNAME": name, "PASSWORD": PASSWORD})
    return result["AuthenticationResult"]


# --- roles --------------------------------------------------------------------------------


def trust(pool_id, amr, actions=("sts:AssumeRoleWithWebIdentity", "sts:TagSession")):
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow",
        "Principal": {"Federated": "cognito-identity.amazonaws.com"},
        "Action": list(actions),
        "Condition": {
            "StringEquals": {"cognito-identity.amazonaws.com:aud": pool_id},
            "ForAnyValue:StringLike": {"cognito-identity.amazonaws.com:amr": amr},
        },
    }]})


def allow(sid, action, resource, effect="Allow"):
    return {"Sid": sid, "Effect": effect, "Action": action, "Resource": resource}


def policy(*statements):
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


# --- identity pools: administration ------------------------------------------------------

pool = admin.create_identity_pool(
    IdentityPoolName="demo pool", AllowUnauthenticatedIdentities=True, AllowClassicFlow=True,
    DeveloperProviderName="login.demo",
    CognitoIdentityProviders=[{"ProviderName": PROVIDER, "ClientId": client_id,
                               "ServerSideTokenCheck": True}],
    IdentityPoolTags={"team": "identity"},
)
pool_id = pool["IdentityPoolId"]
assert pool_id.startswith(f"{REGION}:"), pool_id
assert pool["CognitoIdentityProviders"][0]["ServerSideTokenCheck"] is True
assert pool["IdentityPoolTags"] == {"team": "identity"}
described = admin.describe_identity_pool(IdentityPoolId=pool_id)
assert described["IdentityPoolName"] == "demo pool" and described["AllowClassicFlow"] is True
check("an identity pool is created and described")

missing = f"{REGION}:00000000-0000-0000-0000-000000000000"
message = expect_error("ResourceNotFoundException", admin.describe_identity_pool,
                       IdentityPoolId=missing)
assert message == f"IdentityPool '{missing}' not found.", message
expect_error("InvalidParameterException", admin.create_identity_pool,
             IdentityPoolName="bad/name", AllowUnauthenticatedIdentities=False)
expect_error("InvalidParameterException", admin.create_identity_pool,
             IdentityPoolName="p", AllowUnauthenticatedIdentities=False,
             SupportedLoginProviders={"example.com": "app"})
expect_error("InvalidParameterException", admin.describe_identity_pool, IdentityPoolId="nope")
unsigned_admin = boto3.client("cognito-identity", endpoint_url=URL, region_name=REGION,
                              config=Config(signature_version=UNSIGNED,
                                            retries={"max_attempts": 1}))
expect_error("MissingAuthenticationTokenException", unsigned_admin.list_identity_pools,
             MaxResults=10)
check("unknown pools, invalid names and providers, and unsigned admin calls are refused")

others = [admin.create_identity_pool(IdentityPoolName=f"extra {i}",
                                     AllowUnauthenticatedIdentities=False)["IdentityPoolId"]
          for i in range(3)]
seen, token = [], None
while True:
    page = admin.list_identity_pools(MaxResults=2, **({"NextToken": token} if token else {}))
    assert len(page["IdentityPools"]) <= 2
    seen += [p["IdentityPoolId"] for p in page["IdentityPools"]]
    token = page.get("NextToken")
    if not token:
        break
assert set(others + [pool_id]) <= set(seen) and len(seen) == len(set(seen)), seen
expect_error("InvalidParameterException", admin.list_identity_pools, MaxResults=61)
check("identity pools are listed page by page")

updated = admin.update_identity_pool(
    IdentityPoolId=others[0], IdentityPoolName="renamed", AllowUnauthenticatedIdentities=True,
    IdentityPoolTags={"stage": "test"})
assert updated["IdentityPoolName"] == "renamed" and updated["IdentityPoolTags"] == {"stage": "test"}
arn = f"arn:aws:cognito-identity:{REGION}:000000000000:identitypool/{others[0]}"
admin.tag_resource(ResourceArn=arn, Tags={"owner": "me"})
assert admin.list_tags_for_resource(ResourceArn=arn)["Tags"] == {"stage": "test", "owner": "me"}
admin.untag_resource(ResourceArn=arn, TagKeys=["stage"])
assert admin.list_tags_for_resource(ResourceArn=arn)["Tags"] == {"owner": "me"}
for other in others:
    admin.delete_identity_pool(IdentityPoolId=other)
expect_error("ResourceNotFoundException", admin.describe_identity_pool, IdentityPoolId=others[0])
check("identity pools are updated, tagged, untagged and deleted")

# --- roles, rules and tag maps -----------------------------------------------------------

guest_role = iam.create_role(RoleName="demo-guest", AssumeRolePolicyDocument=trust(
    pool_id, "unauthenticated"))["Role"]["Arn"]
iam.put_role_policy(RoleName="demo-guest", PolicyName="public-read", PolicyDocument=policy(
    allow("ReadPublic", "demo:Read", "arn:demo:::public/*")))
reader_role = iam.create_role(RoleName="demo-reader", AssumeRolePolicyDocument=trust(
    pool_id, "authenticated"))["Role"]["Arn"]
iam.put_role_policy(RoleName="demo-reader", PolicyName="own-department", PolicyDocument=policy(
    allow("OwnDepartment", "demo:*", "arn:demo:::dept/${aws:PrincipalTag/department}/*"),
    allow("NoDeletes", "demo:Delete", "*", effect="Deny")))
admin_role = iam.create_role(RoleName="demo-admin", AssumeRolePolicyDocument=trust(
    pool_id, "authenticated"))["Role"]["Arn"]
iam.put_role_policy(RoleName="demo-admin", PolicyName="everything", PolicyDocument=policy(
    allow("All", "demo:*", "*")))

mapping_key = f"{PROVIDER}:{client_id}"
admin.set_identity_pool_roles(
    IdentityPoolId=pool_id,
    Roles={"authenticated": reader_role, "unauthenticated": guest_role},
    RoleMappings={mapping_key: {
        "Type": "Rules", "AmbiguousRoleResolution": "AuthenticatedRole",
        "RulesConfiguration": {"Rules": [
            {"Claim": "cognito:groups", "MatchType": "Contains", "Value": "admins",
             "RoleARN": admin_role}]}}})
roles = admin.get_identity_pool_roles(IdentityPoolId=pool_id)
assert roles["Roles"]["authenticated"] == reader_role
assert roles["RoleMappings"][mapping_key]["RulesConfiguration"]["Rules"][0]["RoleARN"] == admin_role
expect_error("InvalidParameterException", admin.set_identity_pool_roles, IdentityPoolId=pool_id,
             Roles={"authenticated": reader_role},
             RoleMappings={mapping_key: {"Type": "Rules", "AmbiguousRoleResolution": "Deny"}})
expect_error("InvalidParameterException", admin.set_identity_pool_roles, IdentityPoolId=pool_id,
             Roles={"admin": reader_role})
tag_map = admin.set_principal_tag_attribute_map(
    IdentityPoolId=pool_id, IdentityProviderName=PROVIDER, UseDefaults=False,
    PrincipalTags={"department": "custom:department"})
assert tag_map["PrincipalTags"] == {"department": "custom:department"}
got = admin.get_principal_tag_attribute_map(IdentityPoolId=pool_id, IdentityProviderName=PROVIDER)
assert got["UseDefaults"] is False and got["PrincipalTags"] == {"department": "custom:department"}
check("roles, a rules mapping and a principal tag map are set and read back")

# --- the decision point ------------------------------------------------------------------


# --- guests ------------------------------------------------------------------------------

guest_id = public.get_id(IdentityPoolId=pool_id)["IdentityId"]
guest = public.get_credentials_for_identity(IdentityId=guest_id)
assert guest["IdentityId"] == guest_id
creds = guest["Credentials"]
assert creds["AccessKeyId"].startswith("ASIA") and len(creds["SecretKey"]) == 40
lifetime = creds["Expiration"].timestamp() - time.time()
assert 3000 < lifetime <= 3600, lifetime
status, answer = decide(creds, "demo:Read", "arn:demo:::public/readme")
assert status == 200 and answer["Decision"] == "Allow", answer
assert answer["RoleArn"] == guest_role and answer["Statement"] == "ReadPublic", answer
status, answer = decide(creds, "demo:Write", "arn:demo:::public/readme")
assert status == 403 and answer["Decision"] == "ImplicitDeny", answer
assert public.get_id(IdentityPoolId=pool_id)["IdentityId"] != guest_id
expect_error("InvalidParameterException", public.get_credentials_for_identity,
             IdentityId=guest_id, CustomRoleArn=reader_role)
check("a guest gets credentials for the unauthenticated role, allowed public reads only")

# --- user pool sign-in: rules pick the role, principal tags decide -----------------------

alice, bob = sign_in("alice"), sign_in("bob")
alice_id = public.get_id(IdentityPoolId=pool_id, Logins={PROVIDER: alice["IdToken"]})["IdentityId"]
again = public.get_id(IdentityPoolId=pool_id, Logins={PROVIDER: sign_in("alice")["IdToken"]})
assert again["IdentityId"] == alice_id, "one identity per user"
bob_id = public.get_id(IdentityPoolId=pool_id, Logins={PROVIDER: bob["IdToken"]})["IdentityId"]
assert bob_id != alice_id
described = admin.describe_identity(IdentityId=alice_id)
assert described["Logins"] == [PROVIDER], described
check("each user pool user has one identity, whatever the token")

alice_creds = public.get_credentials_for_identity(
    IdentityId=alice_id, Logins={PROVIDER: alice["IdToken"]})["Credentials"]
bob_creds = public.get_credentials_for_identity(
    IdentityId=bob_id, Logins={PROVIDER: bob["IdToken"]})["Credentials"]
status, answer = decide(alice_creds, "demo:Delete", "arn:demo:::dept/b/plan")
assert status == 200 and answer["RoleArn"] == admin_role, answer
status, answer = decide(bob_creds, "demo:Read", "arn:demo:::dept/b/plan")
assert status == 200 and answer["RoleArn"] == reader_role, answer
assert answer["Policy"] == "own-department" and answer["Statement"] == "OwnDepartment", answer
status, answer = decide(bob_creds, "demo:Read", "arn:demo:::dept/a/plan")
assert status == 403 and answer["Decision"] == "ImplicitDeny", answer
status, answer = decide(bob_creds, "demo:Delete", "arn:demo:::dept/b/plan")
assert status == 403 and answer["Decision"] == "ExplicitDeny", answer
assert answer["Statement"] == "NoDeletes", answer
status, answer = decide(bob_creds, "demo:Read", "arn:demo:::dept/a/plan",
                        context={"aws:PrincipalTag/department": "a"})
assert status == 403, "a caller cannot set principal tags through the context"
check("a rule gives admins their role; department b reads b's documents and not a's")

expect_error("NotAuthorizedException", public.get_credentials_for_identity, IdentityId=bob_id)
expect_error("NotAuthorizedException", public.get_credentials_for_identity, IdentityId=alice_id,
             Logins={PROVIDER: bob["IdToken"]})
expect_error("NotAuthorizedException", public.get_id, IdentityPoolId=pool_id,
             Logins={PROVIDER: alice["IdToken"][:-4] + "AAAA"})
expect_error("NotAuthorizedException", public.get_id, IdentityPoolId=pool_id,
             Logins={"cognito-idp.us-east-1.amazonaws.com/us-east-1_Other": alice["IdToken"]})
check("logins that are missing, someone else's, tampered or from another provider are refused")

users.global_sign_out(AccessToken=bob["AccessToken"])
message = expect_error("NotAuthorizedException", public.get_credentials_for_identity,
                       IdentityId=bob_id, Logins={PROVIDER: bob["IdToken"]})
assert "revoked" in message, message
fresh = sign_in("bob")
public.get_credentials_for_identity(IdentityId=bob_id, Logins={PROVIDER: fresh["IdToken"]})
check("ServerSideTokenCheck refuses a signed-out user's token and accepts a new sign-in")

# --- the decision point refuses bad credentials ------------------------------------------

tampered = dict(bob_creds, SessionToken=bob_creds["SessionToken"][:-6] + "AAAAAA")
status, answer = decide(tampered, "demo:Read", "arn:demo:::dept/b/plan")
assert status == 401 and answer["Decision"] == "Unauthenticated", answer
status, answer = decide(dict(bob_creds, SecretKey="x" * 40), "demo:Read", "arn:demo:::dept/b/x")
assert status == 401, answer
status, answer = decide(bob_creds, "demo:Read", "arn:demo:::dept/b/plan", region="eu-west-1")
assert status == 401 and "region" in answer["message"], answer
swapped = dict(bob_creds, AccessKeyId=alice_creds["AccessKeyId"])
status, answer = decide(swapped, "demo:Read", "arn:demo:::dept/b/plan")
assert status == 401, answer
status, answer = send(botocore.awsrequest.AWSRequest(
    method="POST", url=URL + "/authorize", data=b'{"Action":"demo:Read","Resource":"*"}'))
assert status == 401, answer
check("tampered, wrong-secret, wrong-region, swapped and unsigned credentials get 401")

# Forward auth: the proxy passes the original request's signed headers.
original = botocore.awsrequest.AWSRequest(method="GET", url="http://files.internal/dept/b/plan")
botocore.auth.SigV4Auth(botocore.credentials.Credentials(
    bob_creds["AccessKeyId"], bob_creds["SecretKey"], bob_creds["SessionToken"]),
    "execute-api", REGION).add_auth(original)
iam.put_role_policy(RoleName="demo-reader", PolicyName="http", PolicyDocument=policy(
    allow("GetOwn", "http:GET", "files.internal/dept/${aws:PrincipalTag/department}/*")))


def forward(request):
    headers = {k: v for k, v in request.headers.items() if k.lower() != "host"}
    headers.update({"X-Forwarded-Method": request.method, "X-Forwarded-Uri": "/dept/b/plan",
                    "X-Forwarded-Host": "files.internal"})
    proxied = urllib.request.Request(URL + "/authorize/forward", method="GET", headers=headers)
    try:
        with urllib.request.urlopen(proxied) as response:
            return response.status, dict(response.headers)
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers)


status, headers = forward(original)
assert status == 200 and headers.get("x-portcullis-identity-id") == bob_id, (status, headers)
forged = botocore.awsrequest.AWSRequest(method="GET", url="http://files.internal/dept/b/plan")
forged.headers = dict(original.headers)
forged.headers["X-Amz-Date"] = "20200101T000000Z"
assert forward(forged)[0] == 401
check("forward auth lets a signed request through a proxy and refuses a forged one")

# --- developer identities ----------------------------------------------------------------

one = admin.get_open_id_token_for_developer_identity(
    IdentityPoolId=pool_id, Logins={"login.demo": "dev-1"}, PrincipalTags={"department": "a"},
    TokenDuration=600)
two = admin.get_open_id_token_for_developer_identity(
    IdentityPoolId=pool_id, Logins={"login.demo": "dev-2"})
assert one["IdentityId"] != two["IdentityId"]
assert admin.get_open_id_token_for_developer_identity(
    IdentityPoolId=pool_id, Logins={"login.demo": "dev-1"})["IdentityId"] == one["IdentityId"]
claims = json.loads(base64.urlsafe_b64decode(one["Token"].split(".")[1] + "=="))
assert claims["aud"] == pool_id and claims["sub"] == one["IdentityId"], claims
assert claims["amr"][:2] == ["authenticated", "login.demo"], claims
assert claims["exp"] - claims["iat"] == 600
dev_creds = public.get_credentials_for_identity(
    IdentityId=one["IdentityId"],
    Logins={"cognito-identity.amazonaws.com": one["Token"]})["Credentials"]
status, answer = decide(dev_creds, "demo:Read", "arn:demo:::dept/a/plan")
assert status == 200, "the developer's principal tags reach the credentials"
expect_error("NotAuthorizedException", public.get_credentials_for_identity,
             IdentityId=two["IdentityId"],
             Logins={"cognito-identity.amazonaws.com": one["Token"]})
# Racing first logins of one user make one identity.
with concurrent.futures.ThreadPoolExecutor(8) as pool_of_threads:
    raced = set(pool_of_threads.map(
        lambda _: admin.get_open_id_token_for_developer_identity(
            IdentityPoolId=pool_id, Logins={"login.demo": "dev-race"})["IdentityId"],
        range(8)))
assert len(raced) == 1, raced
found = admin.lookup_developer_identity(IdentityPoolId=pool_id, DeveloperUserIdentifier="dev-2")
assert found["IdentityId"] == two["IdentityId"] and found["DeveloperUserIdentifierList"] == ["dev-2"]
merged = admin.merge_developer_identities(
    SourceUserIdentifier="dev-2", DestinationUserIdentifier="dev-1",
    DeveloperProviderName="login.demo", IdentityPoolId=pool_id)
assert merged["IdentityId"] == one["IdentityId"]
found = admin.lookup_developer_identity(IdentityPoolId=pool_id, IdentityId=one["IdentityId"],
                                        MaxResults=10)
assert found["DeveloperUserIdentifierList"] == ["dev-1", "dev-2"], found
expect_error("ResourceNotFoundException", admin.describe_identity, IdentityId=two["IdentityId"])
admin.unlink_developer_identity(IdentityId=one["IdentityId"], IdentityPoolId=pool_id,
                                DeveloperProviderName="login.demo",
                                DeveloperUserIdentifier="dev-2")
expect_error("ResourceNotFoundException", admin.lookup_developer_identity,
             IdentityPoolId=pool_id, DeveloperUserIdentifier="dev-2")
short = admin.get_open_id_token_for_developer_identity(
    IdentityPoolId=pool_id, Logins={"login.demo": "dev-3"}, TokenDuration=1)
time.sleep(2.5)
message = expect_error("NotAuthorizedException", public.get_credentials_for_identity,
                       IdentityId=short["IdentityId"],
                       Logins={"cognito-identity.amazonaws.com": short["Token"]})
assert "expired" in message, message
check("developer identities get tokens, are looked up, merged and unlinked; expired tokens fail")

# --- the basic flow ----------------------------------------------------------------------

open_id = public.get_open_id_token(IdentityId=bob_id, Logins={PROVIDER: fresh["IdToken"]})
assumed = sts.assume_role_with_web_identity(RoleArn=reader_role, RoleSessionName="bob-session",
                                            WebIdentityToken=open_id["Token"],
                                            DurationSeconds=900)
assert assumed["SubjectFromWebIdentityToken"] == bob_id
assert assumed["AssumedRoleUser"]["Arn"].endswith("assumed-role/demo-reader/bob-session")
lifetime = assumed["Credentials"]["Expiration"].timestamp() - time.time()
assert 800 < lifetime <= 900, lifetime
status, _ = decide(assumed["Credentials"], "demo:Read", "arn:demo:::dept/b/plan")
assert status == 403, "a token from GetOpenIdToken carries no tags of the user pool"
expect_error("AccessDenied", sts.assume_role_with_web_identity, RoleArn=guest_role,
             RoleSessionName="session", WebIdentityToken=open_id["Token"])
expect_error("InvalidIdentityToken", sts.assume_role_with_web_identity, RoleArn=reader_role,
             RoleSessionName="session", WebIdentityToken=open_id["Token"][:-4] + "AAAA")
guest_token = public.get_open_id_token(IdentityId=guest_id)["Token"]
guest_sts = sts.assume_role_with_web_identity(RoleArn=guest_role, RoleSessionName="guest",
                                              WebIdentityToken=guest_token)
status, _ = decide(guest_sts["Credentials"], "demo:Read", "arn:demo:::public/readme")
assert status == 200
check("the basic flow: an OpenID token is traded for role credentials at STS")

# A guest's own token, presented as a login, proves nothing more than being a guest:
# never the authenticated role, and no upgraded token to take to STS.
guest_login = {"cognito-identity.amazonaws.com": guest_token}
message = expect_error("NotAuthorizedException", public.get_credentials_for_identity,
                       IdentityId=guest_id, Logins=guest_login)
assert "not for an authenticated identity" in message, message
for call, args in ((public.get_open_id_token, {"IdentityId": guest_id}),
                   (public.get_id, {"IdentityPoolId": pool_id})):
    expect_error("NotAuthorizedException", call, Logins=guest_login, **args)
expect_error("AccessDenied", sts.assume_role_with_web_identity, RoleArn=reader_role,
             RoleSessionName="guest", WebIdentityToken=guest_token)
# The provider name is only for GetCredentialsForIdentity, even with an authenticated
# developer token.
developer = admin.get_open_id_token_for_developer_identity(
    IdentityPoolId=pool_id, Logins={"login.demo": "dev-basic"})
expect_error("NotAuthorizedException", public.get_open_id_token,
             IdentityId=developer["IdentityId"],
             Logins={"cognito-identity.amazonaws.com": developer["Token"]})
check("a guest's token never buys the authenticated role")

# --- unlinking and deleting identities ---------------------------------------------------

public.unlink_identity(IdentityId=alice_id, Logins={PROVIDER: alice["IdToken"]},
                       LoginsToRemove=[PROVIDER])
assert admin.describe_identity(IdentityId=alice_id)["Logins"] == []
new_alice = public.get_id(IdentityPoolId=pool_id, Logins={PROVIDER: alice["IdToken"]})
assert new_alice["IdentityId"] != alice_id, "an unlinked login leads to a new identity"
listed, token = [], None
while True:
    page = admin.list_identities(IdentityPoolId=pool_id, MaxResults=3,
                                 **({"NextToken": token} if token else {}))
    listed += [i["IdentityId"] for i in page["Identities"]]
    token = page.get("NextToken")
    if not token:
        break
assert {guest_id, alice_id, bob_id, one["IdentityId"]} <= set(listed), listed
deleted = admin.delete_identities(IdentityIdsToDelete=[guest_id, bob_id])
assert deleted["UnprocessedIdentityIds"] == []
expect_error("ResourceNotFoundException", admin.describe_identity, IdentityId=bob_id)
assert public.get_id(IdentityPoolId=pool_id, Logins={PROVIDER: fresh["IdToken"]})[
    "IdentityId"] != bob_id
check("identities are unlinked, listed page by page and deleted")

# A role that may be assumed but not tagged cannot take principal tags.
untagged = iam.create_role(RoleName="demo-untagged", AssumeRolePolicyDocument=trust(
    pool_id, "authenticated", actions=["sts:AssumeRoleWithWebIdentity"]))["Role"]["Arn"]
admin.set_identity_pool_roles(IdentityPoolId=pool_id,
                              Roles={"authenticated": untagged, "unauthenticated": guest_role})
tagged_token = admin.get_open_id_token_for_developer_identity(
    IdentityPoolId=pool_id, Logins={"login.demo": "dev-1"}, PrincipalTags={"department": "a"})
expect_error("InvalidIdentityPoolConfigurationException", public.get_credentials_for_identity,
             IdentityId=tagged_token["IdentityId"],
             Logins={"cognito-identity.amazonaws.com": tagged_token["Token"]})
untagged_token = admin.get_open_id_token_for_developer_identity(
    IdentityPoolId=pool_id, Logins={"login.demo": "dev-1"})
public.get_credentials_for_identity(
    IdentityId=untagged_token["IdentityId"],
    Logins={"cognito-identity.amazonaws.com": untagged_token["Token"]})
check("principal tags need a role that trusts sts:TagSession")

contract.assert_returned("IdentityPool", absent_ok=(), service="cognito-identity")
print(json.dumps(contract.checked))
