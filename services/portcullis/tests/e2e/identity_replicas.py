"""Identity pools across gateway replicas of a cluster: an identity made through one
replica is found through the other, credentials minted by one broker replica are
verified by the other's decision point without any shared lookup, and a developer
login (and a SAML login of a provider registered through one replica) racing on both
replicas makes one identity.

Usage: identity_replicas.py URL URL
Admin credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY. Exits non-zero
on the first failed check.
"""

import concurrent.futures
import json
import sys
import urllib.error
import urllib.request
import uuid

import boto3
import botocore.auth
import botocore.awsrequest
import botocore.credentials
import botocore.exceptions
from botocore import UNSIGNED
from botocore.config import Config

from saml_idp import IdentityProvider

URLS = sys.argv[1:3]
ONE_TRY = Config(retries={"max_attempts": 1})
admin = [boto3.client("cognito-identity", endpoint_url=u, region_name="us-east-1",
                      config=ONE_TRY) for u in URLS]
public = [boto3.client("cognito-identity", endpoint_url=u, region_name="us-east-1",
                       config=Config(signature_version=UNSIGNED, retries={"max_attempts": 1}))
          for u in URLS]
iam = boto3.client("iam", endpoint_url=URLS[0], region_name="us-east-1", config=ONE_TRY)

pool_id = admin[0].create_identity_pool(
    IdentityPoolName="replicas", AllowUnauthenticatedIdentities=True,
    DeveloperProviderName="login.replicas")["IdentityPoolId"]
role = f"replicas-{uuid.uuid4().hex[:12]}"
trust = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Federated": "cognito-identity.amazonaws.com"},
    "Action": "sts:AssumeRoleWithWebIdentity",
    "Condition": {"StringEquals": {"cognito-identity.amazonaws.com:aud": pool_id}}}]})
arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust)["Role"]["Arn"]
iam.put_role_policy(RoleName=role, PolicyName="read", PolicyDocument=json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "demo:Read", "Resource": "*"}]}))
admin[1].set_identity_pool_roles(IdentityPoolId=pool_id,
                                 Roles={"authenticated": arn, "unauthenticated": arn})

guest = public[0].get_id(IdentityPoolId=pool_id)["IdentityId"]
assert admin[1].describe_identity(IdentityId=guest)["IdentityId"] == guest
listed = [i["IdentityId"] for i in admin[1].list_identities(
    IdentityPoolId=pool_id, MaxResults=10)["Identities"]]
assert guest in listed, listed
print("ok - an identity made through one replica is described and listed by the other",
      flush=True)

creds = public[1].get_credentials_for_identity(IdentityId=guest)["Credentials"]


def decide(url, action):
    body = json.dumps({"Action": action, "Resource": "arn:demo:::x"}).encode()
    request = botocore.awsrequest.AWSRequest(method="POST", url=url + "/authorize", data=body,
                                             headers={"Content-Type": "application/json"})
    botocore.auth.SigV4Auth(botocore.credentials.Credentials(
        creds["AccessKeyId"], creds["SecretKey"], creds["SessionToken"]),
        "execute-api", "us-east-1").add_auth(request)
    prepared = urllib.request.Request(request.url, data=request.body, method="POST",
                                      headers=dict(request.headers))
    try:
        with urllib.request.urlopen(prepared) as response:
            return response.status
    except urllib.error.HTTPError as err:
        return err.code


assert decide(URLS[0], "demo:Read") == 200
assert decide(URLS[0], "demo:Write") == 403
assert decide(URLS[1], "demo:Read") == 200
print("ok - credentials minted by one replica are verified by the other's decision point",
      flush=True)

with concurrent.futures.ThreadPoolExecutor(8) as threads:
    ids = set(threads.map(
        lambda i: admin[i % 2].get_open_id_token_for_developer_identity(
            IdentityPoolId=pool_id, Logins={"login.replicas": "racer"})["IdentityId"],
        range(8)))
assert len(ids) == 1, ids
print("ok - first logins racing on two replicas make one identity", flush=True)

corp = IdentityProvider("replicas")
provider = iam.create_saml_provider(Name=f"replicas-{uuid.uuid4().hex[:8]}",
                                    SAMLMetadataDocument=corp.metadata())["SAMLProviderArn"]
admin[1].update_identity_pool(IdentityPoolId=pool_id, IdentityPoolName="replicas",
                              AllowUnauthenticatedIdentities=True,
                              DeveloperProviderName="login.replicas",
                              SamlProviderARNs=[provider])
response = corp.response("erin", {})
with concurrent.futures.ThreadPoolExecutor(8) as threads:
    ids = set(threads.map(
        lambda i: public[i % 2].get_id(IdentityPoolId=pool_id,
                                       Logins={provider: response})["IdentityId"],
        range(8)))
assert len(ids) == 1, ids
(saml_identity,) = ids
got = public[0].get_credentials_for_identity(IdentityId=saml_identity,
                                             Logins={provider: response})
assert got["IdentityId"] == saml_identity
try:
    public[1].get_credentials_for_identity(IdentityId=saml_identity, Logins={provider: response})
    raise AssertionError("a SAML response bought credentials twice")
except botocore.exceptions.ClientError as err:
    assert err.response["Error"]["Code"] == "NotAuthorizedException", err.response
print("ok - a SAML provider registered through one replica signs in through both, "
      "racing first logins making one identity, and a response buys credentials once "
      "across replicas", flush=True)
