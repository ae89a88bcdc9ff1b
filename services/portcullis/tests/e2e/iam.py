"""The IAM subset (roles, inline policies, OpenID Connect and SAML providers) through
boto3's `iam` client, and `sts.get_caller_identity`, with IAM's errors.

Usage: iam.py URL
Admin credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY. Exits non-zero
on the first failed check.
"""

import json
import urllib.error
import urllib.parse
import urllib.request

import boto3
from botocore.config import Config
from e2e_common import REGION, URL, check, expect_error
from saml_idp import IdentityProvider

ACCOUNT = "000000000000"
TRUST = {
    "Version": "2012-10-17",
    "Statement": [{
        "Effect": "Allow",
        "Principal": {"Federated": "cognito-identity.amazonaws.com"},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {"cognito-identity.amazonaws.com:aud": "us-east-1:x"}},
    }],
}
READ = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}],
}


def client(service):
    return boto3.client(service, endpoint_url=URL, region_name=REGION,
                        config=Config(retries={"max_attempts": 1}))


iam = client("iam")
sts = client("sts")

# Roles.
created = iam.create_role(RoleName="Reader", AssumeRolePolicyDocument=json.dumps(TRUST),
                          Description="reads <things> & more",
                          Tags=[{"Key": "team", "Value": "identity"}])["Role"]
assert created["Arn"] == f"arn:aws:iam::{ACCOUNT}:role/Reader", created
assert created["Path"] == "/" and created["MaxSessionDuration"] == 3600, created
assert created["RoleId"].startswith("AROA") and len(created["RoleId"]) == 21, created
assert created["AssumeRolePolicyDocument"] == TRUST, created
assert created["Description"] == "reads <things> & more", created
assert created["Tags"] == [{"Key": "team", "Value": "identity"}], created
check("create_role answers the role with its ARN, id and trust policy")

got = iam.get_role(RoleName="Reader")["Role"]
assert got["RoleId"] == created["RoleId"] and got["CreateDate"] == created["CreateDate"], got
assert iam.get_role(RoleName="reader")["Role"]["RoleName"] == "Reader"
check("get_role finds a role by its name, without regard to case")

message = expect_error("EntityAlreadyExists", iam.create_role, RoleName="READER",
                       AssumeRolePolicyDocument=json.dumps(TRUST))
assert message == "Role with name READER already exists.", message
message = expect_error("NoSuchEntity", iam.get_role, RoleName="Nobody")
assert message == "The role with name Nobody cannot be found.", message
expect_error("MalformedPolicyDocument", iam.create_role, RoleName="Broken",
             AssumeRolePolicyDocument="{not json")
message = expect_error("MalformedPolicyDocument", iam.create_role, RoleName="NoPrincipal",
                       AssumeRolePolicyDocument=json.dumps(READ))
assert message == "Missing required field Principal", message
expect_error("ValidationError", iam.create_role, RoleName="Long",
             AssumeRolePolicyDocument=json.dumps(TRUST), MaxSessionDuration=100000)
check("duplicate, missing, malformed and invalid roles are refused as IAM does")

iam.create_role(RoleName="Writer", Path="/app/", MaxSessionDuration=7200,
                AssumeRolePolicyDocument=json.dumps(TRUST))
iam.create_role(RoleName="Admin", Path="/app/ops/", AssumeRolePolicyDocument=json.dumps(TRUST))
names = [r["RoleName"] for r in iam.list_roles()["Roles"]]
assert names == ["Admin", "Reader", "Writer"], names
app = iam.list_roles(PathPrefix="/app/")["Roles"]
assert [r["RoleName"] for r in app] == ["Admin", "Writer"], app
assert app[1]["Arn"] == f"arn:aws:iam::{ACCOUNT}:role/app/Writer", app
assert app[1]["MaxSessionDuration"] == 7200, app
first = iam.list_roles(MaxItems=2)
assert first["IsTruncated"] and [r["RoleName"] for r in first["Roles"]] == ["Admin", "Reader"]
rest = iam.list_roles(MaxItems=2, Marker=first["Marker"])
assert not rest["IsTruncated"] and [r["RoleName"] for r in rest["Roles"]] == ["Writer"], rest
paged = [r["RoleName"] for page in iam.get_paginator("list_roles").paginate(
    PaginationConfig={"PageSize": 1}) for r in page["Roles"]]
assert paged == ["Admin", "Reader", "Writer"], paged
check("list_roles filters by path prefix and pages with Marker and MaxItems")

# Inline policies and the trust policy.
iam.put_role_policy(RoleName="Reader", PolicyName="read", PolicyDocument=json.dumps(READ))
iam.put_role_policy(RoleName="Reader", PolicyName="also", PolicyDocument=json.dumps(READ))
policy = iam.get_role_policy(RoleName="Reader", PolicyName="read")
assert policy["PolicyDocument"] == READ and policy["RoleName"] == "Reader", policy
listed = iam.list_role_policies(RoleName="Reader")
assert listed["PolicyNames"] == ["also", "read"] and not listed["IsTruncated"], listed
one = iam.list_role_policies(RoleName="Reader", MaxItems=1)
assert one["PolicyNames"] == ["also"] and one["IsTruncated"], one
assert iam.list_role_policies(RoleName="Reader", Marker=one["Marker"])["PolicyNames"] == ["read"]
expect_error("MalformedPolicyDocument", iam.put_role_policy, RoleName="Reader",
             PolicyName="bad", PolicyDocument='{"Statement": [{"Effect": "Perhaps"}]}')
message = expect_error("MalformedPolicyDocument", iam.put_role_policy, RoleName="Reader",
                       PolicyName="trust", PolicyDocument=json.dumps(TRUST))
assert message == "Policy document should not specify a principal.", message
expect_error("NoSuchEntity", iam.put_role_policy, RoleName="Nobody", PolicyName="p",
             PolicyDocument=json.dumps(READ))
message = expect_error("NoSuchEntity", iam.get_role_policy, RoleName="Reader", PolicyName="zzz")
assert message == "The role policy with name zzz cannot be found.", message
check("inline policies are put, read, listed and validated")

trust = dict(TRUST, Statement=[dict(TRUST["Statement"][0], Condition={})])
iam.update_assume_role_policy(RoleName="Reader", PolicyDocument=json.dumps(trust))
assert iam.get_role(RoleName="Reader")["Role"]["AssumeRolePolicyDocument"] == trust
expect_error("MalformedPolicyDocument", iam.update_assume_role_policy, RoleName="Reader",
             PolicyDocument="[]")
check("update_assume_role_policy replaces the trust policy")

message = expect_error("DeleteConflict", iam.delete_role, RoleName="Reader")
assert message == "Cannot delete entity, must delete policies first.", message
iam.delete_role_policy(RoleName="Reader", PolicyName="read")
iam.delete_role_policy(RoleName="Reader", PolicyName="also")
expect_error("NoSuchEntity", iam.delete_role_policy, RoleName="Reader", PolicyName="read")
iam.delete_role(RoleName="Reader")
expect_error("NoSuchEntity", iam.get_role, RoleName="Reader")
expect_error("NoSuchEntity", iam.delete_role, RoleName="Reader")
assert [r["RoleName"] for r in iam.list_roles()["Roles"]] == ["Admin", "Writer"]
check("a role with policies cannot be deleted; without them it is gone")

# OpenID Connect providers.
thumbprint = "9e99a48a9960b14926bb7f3b02e22da2b0ab7280"
oidc_arn = iam.create_open_id_connect_provider(
    Url="https://issuer.example.com/tenant", ClientIDList=["app-1", "app-2"],
    ThumbprintList=[thumbprint])["OpenIDConnectProviderArn"]
assert oidc_arn == f"arn:aws:iam::{ACCOUNT}:oidc-provider/issuer.example.com/tenant", oidc_arn
provider = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=oidc_arn)
assert provider["Url"] == "issuer.example.com/tenant", provider
assert provider["ClientIDList"] == ["app-1", "app-2"], provider
assert provider["ThumbprintList"] == [thumbprint], provider
listed = iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]
assert listed == [{"Arn": oidc_arn}], listed
expect_error("EntityAlreadyExists", iam.create_open_id_connect_provider,
             Url="https://issuer.example.com/tenant", ClientIDList=["x"],
             ThumbprintList=[thumbprint])
expect_error("ValidationError", iam.create_open_id_connect_provider,
             Url="http://insecure.example.com", ClientIDList=["x"], ThumbprintList=[thumbprint])
iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=oidc_arn)
expect_error("NoSuchEntity", iam.get_open_id_connect_provider, OpenIDConnectProviderArn=oidc_arn)
assert iam.list_open_id_connect_providers()["OpenIDConnectProviderList"] == []
check("OpenID Connect providers are created, read, listed and deleted")

# SAML providers.
metadata = IdentityProvider("corp").metadata()
saml_arn = iam.create_saml_provider(Name="corp-idp", SAMLMetadataDocument=metadata)[
    "SAMLProviderArn"]
assert saml_arn == f"arn:aws:iam::{ACCOUNT}:saml-provider/corp-idp", saml_arn
got = iam.get_saml_provider(SAMLProviderArn=saml_arn)
assert got["SAMLMetadataDocument"] == metadata and got["ValidUntil"] > got["CreateDate"], got
listed = iam.list_saml_providers()["SAMLProviderList"]
assert [p["Arn"] for p in listed] == [saml_arn], listed
expect_error("EntityAlreadyExists", iam.create_saml_provider, Name="corp-idp",
             SAMLMetadataDocument=metadata)
iam.delete_saml_provider(SAMLProviderArn=saml_arn)
expect_error("NoSuchEntity", iam.get_saml_provider, SAMLProviderArn=saml_arn)
assert iam.list_saml_providers()["SAMLProviderList"] == []
check("SAML providers are created, read, listed and deleted")

# Signing.
identity = sts.get_caller_identity()
assert identity["Account"] == ACCOUNT and identity["Arn"] == f"arn:aws:iam::{ACCOUNT}:root"
check("sts get_caller_identity answers the admin's account")


def unsigned(action, **params):
    body = urllib.parse.urlencode(dict(Action=action, Version="2010-05-08", **params)).encode()
    request = urllib.request.Request(
        URL + "/", data=body, method="POST",
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    try:
        urllib.request.urlopen(request)
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()
    raise AssertionError(f"unsigned {action} was accepted")


status, body = unsigned("ListRoles")
assert status == 403 and "<Code>MissingAuthenticationToken</Code>" in body, (status, body)
assert "<Type>Sender</Type>" in body and "<RequestId>" in body, body
check("an unsigned IAM request is refused with MissingAuthenticationToken")

wrong = boto3.client("iam", endpoint_url=URL, region_name=REGION,
                     aws_access_key_id="PCAKNOBODY", aws_secret_access_key="nope",
                     config=Config(retries={"max_attempts": 1}))
try:
    wrong.list_roles()
    raise AssertionError("unknown access key accepted")
except wrong.exceptions.ClientError as err:
    assert err.response["Error"]["Code"] == "InvalidClientTokenId", err.response
check("an unknown access key is refused with InvalidClientTokenId")

status, body = unsigned("AssumeRoleWithWebIdentity", RoleArn=f"arn:aws:iam::{ACCOUNT}:role/app/Writer",
                        RoleSessionName="s", WebIdentityToken="not-a-token")
assert status == 400 and "<Code>InvalidIdentityToken</Code>" in body, (status, body)
check("sts assume_role_with_web_identity is unsigned and refuses a bad token")
