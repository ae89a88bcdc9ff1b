"""SAML logins in an identity pool, with assertions signed by signxml (an XML signature
implementation independent of the server's) as an identity provider would sign them:

- IAM takes the provider's metadata and refuses a document without a signing key;
- a user signs in with a base64 SAML response: one identity per NameID, credentials for
  the role the assertion offers, `CustomRoleArn` choosing among several;
- without a role in the assertion, the pool's rules decide on its attributes, and they
  become principal tags that policies read;
- altered, re-signed by another key, expired, misaddressed, unsigned and undecodable
  responses are refused, and so is the basic flow.

Usage: saml_logins.py URL"""

import base64
import json

import boto3
from botocore import UNSIGNED
from botocore.config import Config

from e2e_common import REGION, URL, check, decide, expect_error
from saml_idp import IdentityProvider


ONE_TRY = Config(retries={"max_attempts": 1})
admin = boto3.client("cognito-identity", endpoint_url=URL, region_name=REGION, config=ONE_TRY)
public = boto3.client("cognito-identity", endpoint_url=URL, region_name=REGION,
                      config=Config(signature_version=UNSIGNED, retries={"max_attempts": 1}))
iam = boto3.client("iam", endpoint_url=URL, region_name=REGION, config=ONE_TRY)

corp = IdentityProvider("corp")
impostor = IdentityProvider("impostor")

# --- IAM: the provider ------------------------------------------------------------------

message = expect_error("InvalidInput", iam.create_saml_provider, Name="broken",
                       SAMLMetadataDocument=impostor.metadata().replace("KeyDescriptor", "Other"))
assert message == "Could not parse metadata", message
provider = iam.create_saml_provider(Name="corp", SAMLMetadataDocument=corp.metadata())[
    "SAMLProviderArn"]
check("IAM takes SAML metadata with a signing key and refuses a document without one")

# --- the pool and its roles ---------------------------------------------------------------

pool_id = admin.create_identity_pool(IdentityPoolName="corp", AllowUnauthenticatedIdentities=False,
                                     SamlProviderARNs=[provider])["IdentityPoolId"]


def role(name):
    trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Federated": "cognito-identity.amazonaws.com"},
        "Action": ["sts:AssumeRoleWithWebIdentity", "sts:TagSession"],
        "Condition": {"StringEquals": {"cognito-identity.amazonaws.com:aud": pool_id},
                      "ForAnyValue:StringLike": {"cognito-identity.amazonaws.com:amr":
                                                 "authenticated"}}}]}
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    iam.put_role_policy(RoleName=name, PolicyName="work", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Sid": name, "Effect": "Allow", "Action": "corp:*", "Resource": "*"}]}))
    return arn


default_role, reader, writer, engineering = (role(n) for n in
                                             ("default", "reader", "writer", "engineering"))
admin.set_identity_pool_roles(IdentityPoolId=pool_id, Roles={"authenticated": default_role})


def role_attribute(*roles):
    # Either order of the pair, as identity providers write it.
    pairs = [f"{r},{provider}" for r in roles[:1]] + [f"{provider},{r}" for r in roles[1:]]
    return {"https://aws.amazon.com/SAML/Attributes/Role": pairs}


def sign_in(response, custom_role=None):
    logins = {provider: response}
    identity = public.get_id(IdentityPoolId=pool_id, Logins=logins)["IdentityId"]
    extra = {"CustomRoleArn": custom_role} if custom_role else {}
    got = public.get_credentials_for_identity(IdentityId=identity, Logins=logins, **extra)
    return identity, got["Credentials"]


def role_of(credentials):
    status, answer = decide(credentials, "corp:Read", "*")
    assert status == 200, answer
    return answer["RoleArn"]


# --- signing in -----------------------------------------------------------------------------

alice, creds = sign_in(corp.response("alice", role_attribute(reader)))
assert role_of(creds) == reader
again, _ = sign_in(corp.response("alice", role_attribute(reader)))
assert again == alice
bob, _ = sign_in(corp.response("bob", role_attribute(reader)))
assert bob != alice
described = admin.describe_identity(IdentityId=alice)
assert described["Logins"] == [provider], described
check("a signed SAML response signs in: one identity per NameID, the role it offers")

both = corp.response("alice", role_attribute(reader, writer))
message = expect_error("InvalidParameterException", sign_in, both)
assert "CustomRoleArn" in message, message
_, creds = sign_in(both, custom_role=writer)
assert role_of(creds) == writer
expect_error("InvalidParameterException", sign_in, both, custom_role=engineering)
# A role paired with another provider is not offered.
offers = role_attribute(reader)
offers["https://aws.amazon.com/SAML/Attributes/Role"].append(
    f"{engineering},arn:aws:iam::000000000000:saml-provider/elsewhere")
_, creds = sign_in(corp.response("alice", offers))
assert role_of(creds) == reader
check("CustomRoleArn chooses among the roles an assertion offers, and only among them")

admin.set_identity_pool_roles(
    IdentityPoolId=pool_id, Roles={"authenticated": default_role},
    RoleMappings={provider: {"Type": "Rules", "AmbiguousRoleResolution": "AuthenticatedRole",
                             "RulesConfiguration": {"Rules": [
                                 {"Claim": "department", "MatchType": "Equals",
                                  "Value": "engineering", "RoleARN": engineering}]}}})
admin.set_principal_tag_attribute_map(IdentityPoolId=pool_id, IdentityProviderName=provider,
                                      PrincipalTags={"department": "department"})
iam.put_role_policy(RoleName="engineering", PolicyName="own-documents", PolicyDocument=json.dumps({
    "Version": "2012-10-17", "Statement": [{
        "Sid": "OwnDepartment", "Effect": "Allow", "Action": "docs:Read",
        "Resource": "arn:docs:::${aws:PrincipalTag/department}/*"}]}))
_, creds = sign_in(corp.response("carol", {"department": ["engineering"]}))
assert role_of(creds) == engineering
status, answer = decide(creds, "docs:Read", "arn:docs:::engineering/plan")
assert status == 200 and answer["Statement"] == "OwnDepartment", answer
status, answer = decide(creds, "docs:Read", "arn:docs:::sales/plan")
assert status == 403, answer
_, creds = sign_in(corp.response("dave", {"department": ["sales"]}))
assert role_of(creds) == default_role
check("without an offered role, the pool's rules decide on the assertion's attributes, "
      "which become principal tags")

# --- refusals ---------------------------------------------------------------------------------


def refused(response, fragment):
    message = expect_error("NotAuthorizedException", public.get_id, IdentityPoolId=pool_id,
                           Logins={provider: response})
    assert fragment in message, message


refused(corp.response("alice", {}, alter=lambda x: x.replace(">alice<", ">mallory<")),
        "changed after it was signed")
refused(impostor.response("alice", role_attribute(reader)),
        "not from a signing key of the identity provider")
refused(corp.response("alice", {}, ttl=-600), "expired")
refused(corp.response("alice", {}, audience="https://sp.elsewhere.example"), "another audience")
refused(corp.response("alice", {}, signed=False), "not signed")
refused("not base64 at all!", "not base64-encoded XML")
refused(base64.b64encode(b"<a><b></a>").decode(), "not well-formed")
check("altered, foreign, expired, misaddressed, unsigned and garbled responses are refused")

other_pool = admin.create_identity_pool(IdentityPoolName="other",
                                        AllowUnauthenticatedIdentities=False)["IdentityPoolId"]
expect_error("NotAuthorizedException", public.get_id, IdentityPoolId=other_pool,
             Logins={provider: corp.response("alice", {})})
message = expect_error("InvalidParameterException", public.get_open_id_token, IdentityId=alice,
                       Logins={provider: corp.response("alice", role_attribute(reader))})
assert "enhanced flow" in message, message
check("a pool without the provider refuses its assertions; the basic flow refuses SAML")

once = corp.response("erin", role_attribute(reader))
erin, creds = sign_in(once)
assert role_of(creds) == reader
# GetId with the same response still finds the identity (the enhanced flow passes one
# response to both calls), but it buys credentials only once, on every replica.
assert public.get_id(IdentityPoolId=pool_id, Logins={provider: once})["IdentityId"] == erin
message = expect_error("NotAuthorizedException", public.get_credentials_for_identity,
                       IdentityId=erin, Logins={provider: once})
assert "already been used" in message, message
check("a SAML response buys credentials once")
