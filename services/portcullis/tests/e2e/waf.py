"""AWS WAF in front of a user pool, through boto3's wafv2 client: IP sets and web ACLs
(create, get, update under the lock token, list, delete, with WAF's errors), association
with the pool, and enforcement: an IP set rule blocking the caller, a URI-path byte match
blocking the hosted sign-in page, and a rate-based rule tripping under a burst and
recovering in the next window. Admin (signed) calls are never inspected.

Usage: waf.py URL [URL2]
With URL2 (another gateway of the same cluster), the burst alternates between the two,
so the rate is counted across replicas.
Admin credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY."""

import sys
import time
import urllib.error
import urllib.request
import uuid

import boto3
import botocore
from botocore import UNSIGNED
from botocore.config import Config
from e2e_common import REGION, URL, check, expect_error, idp

URLS = [URL] + sys.argv[2:3]
PASSWORD = "Correct-Horse-9"
VISIBILITY = {"SampledRequestsEnabled": False, "CloudWatchMetricsEnabled": False,
              "MetricName": "portcullis"}

admin = idp()
waf = boto3.client("wafv2", endpoint_url=URL, region_name=REGION,
                   config=Config(retries={"max_attempts": 1}))
publics = [boto3.client("cognito-idp", endpoint_url=u, region_name=REGION,
                        config=Config(signature_version=UNSIGNED, retries={"max_attempts": 1}))
           for u in URLS]


def rule(name, priority, statement, action="Block"):
    return {"Name": name, "Priority": priority, "Action": {action: {}},
            "Statement": statement, "VisibilityConfig": VISIBILITY}


def sign_in(client_id, user, public=None):
    return (public or publics[0]).initiate_auth(
        ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": user, "PASSWORD": PASSWORD})


def blocked(call, *args, **kwargs):
    try:
        call(*args, **kwargs)
    except botocore.exceptions.ClientError as err:
        assert err.response["Error"]["Code"] == "ForbiddenException", err.response
        assert err.response["ResponseMetadata"]["HTTPStatusCode"] == 403, err.response
        return True
    return False


def acl_lock(name, acl_id):
    return waf.get_web_acl(Name=name, Scope="REGIONAL", Id=acl_id)["LockToken"]


def main():
    suffix = uuid.uuid4().hex[:8]
    pool = admin.create_user_pool(PoolName=f"waf-{suffix}")["UserPool"]
    pool_id, pool_arn = pool["Id"], pool["Arn"]
    client_id = admin.create_user_pool_client(
        UserPoolId=pool_id, ClientName="app", ExplicitAuthFlows=[
            "ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        AllowedOAuthFlowsUserPoolClient=True, AllowedOAuthFlows=["code"],
        AllowedOAuthScopes=["openid"], CallbackURLs=["https://app.example.com/cb"],
        SupportedIdentityProviders=["COGNITO"])["UserPoolClient"]["ClientId"]
    domain = f"waf-{suffix}"
    admin.create_user_pool_domain(Domain=domain, UserPoolId=pool_id)
    user = "wendy"
    admin.admin_create_user(UserPoolId=pool_id, Username=user, MessageAction="SUPPRESS")
    admin.admin_set_user_password(UserPoolId=pool_id, Username=user, Password=PASSWORD,
                                  Permanent=True)
    assert "AuthenticationResult" in sign_in(client_id, user)

    # IP sets.
    office = waf.create_ip_set(Name=f"office-{suffix}", Scope="REGIONAL",
                               IPAddressVersion="IPV4", Addresses=["127.0.0.0/8"],
                               Description="loopback")["Summary"]
    assert office["ARN"].startswith(f"arn:aws:wafv2:{REGION}:") and "/ipset/" in office["ARN"]
    got = waf.get_ip_set(Name=office["Name"], Scope="REGIONAL", Id=office["Id"])
    assert got["IPSet"]["Addresses"] == ["127.0.0.0/8"], got
    assert got["IPSet"]["IPAddressVersion"] == "IPV4" and got["LockToken"] == office["LockToken"]
    expect_error("WAFDuplicateItemException", waf.create_ip_set, Name=office["Name"],
                 Scope="REGIONAL", IPAddressVersion="IPV4", Addresses=[])
    message = expect_error("WAFInvalidParameterException", waf.create_ip_set,
                           Name=f"bad-{suffix}", Scope="REGIONAL", IPAddressVersion="IPV4",
                           Addresses=["10.0.0.1"])
    assert "field: IP_ADDRESS" in message, message
    expect_error("WAFInvalidParameterException", waf.create_ip_set, Name=f"cf-{suffix}",
                 Scope="CLOUDFRONT", IPAddressVersion="IPV4", Addresses=[])
    expect_error("WAFOptimisticLockException", waf.update_ip_set, Name=office["Name"],
                 Scope="REGIONAL", Id=office["Id"], Addresses=["127.0.0.0/8"],
                 LockToken=str(uuid.uuid4()))
    expect_error("WAFNonexistentItemException", waf.get_ip_set, Name=office["Name"],
                 Scope="REGIONAL", Id=str(uuid.uuid4()))
    next_lock = waf.update_ip_set(Name=office["Name"], Scope="REGIONAL", Id=office["Id"],
                                  Addresses=["127.0.0.0/8", "192.0.2.0/24"],
                                  LockToken=office["LockToken"])["NextLockToken"]
    assert next_lock != office["LockToken"]
    names = [s["Name"] for s in waf.list_ip_sets(Scope="REGIONAL")["IPSets"]]
    assert office["Name"] in names, names
    check("IP sets: create, get, update under the lock token, list, WAF's errors")

    # A web ACL blocking the IP set.
    acl_name = f"front-{suffix}"
    rules = [rule("blocked-ips", 0, {"IPSetReferenceStatement": {"ARN": office["ARN"]}})]
    acl = waf.create_web_acl(Name=acl_name, Scope="REGIONAL", DefaultAction={"Allow": {}},
                             Rules=rules, VisibilityConfig=VISIBILITY)["Summary"]
    fetched = waf.get_web_acl(Name=acl_name, Scope="REGIONAL", Id=acl["Id"])["WebACL"]
    assert fetched["Rules"] == rules and fetched["DefaultAction"] == {"Allow": {}}, fetched
    expect_error("WAFInvalidParameterException", waf.create_web_acl, Name=f"sqli-{suffix}",
                 Scope="REGIONAL", DefaultAction={"Allow": {}}, VisibilityConfig=VISIBILITY,
                 Rules=[rule("sqli", 0, {"SqliMatchStatement": {
                     "FieldToMatch": {"UriPath": {}},
                     "TextTransformations": [{"Priority": 0, "Type": "NONE"}]}})])
    expect_error("WAFAssociatedItemException", waf.delete_ip_set, Name=office["Name"],
                 Scope="REGIONAL", Id=office["Id"], LockToken=next_lock)
    assert "WebACL" not in waf.get_web_acl_for_resource(ResourceArn=pool_arn)
    waf.associate_web_acl(WebACLArn=acl["ARN"], ResourceArn=pool_arn)
    assert waf.get_web_acl_for_resource(ResourceArn=pool_arn)["WebACL"]["Name"] == acl_name
    assert blocked(sign_in, client_id, user)
    assert blocked(publics[0].sign_up, ClientId=client_id, Username="eve", Password=PASSWORD)
    assert admin.admin_get_user(UserPoolId=pool_id, Username=user)["Username"] == user
    expect_error("WAFAssociatedItemException", waf.delete_web_acl, Name=acl_name,
                 Scope="REGIONAL", Id=acl["Id"], LockToken=acl_lock(acl_name, acl["Id"]))
    check("an associated web ACL blocks the IP set's callers; signed calls pass")

    # A URI-path byte match blocks the hosted sign-in page, not the API.
    waf.update_web_acl(
        Name=acl_name, Scope="REGIONAL", Id=acl["Id"], DefaultAction={"Allow": {}},
        VisibilityConfig=VISIBILITY, LockToken=acl_lock(acl_name, acl["Id"]),
        Rules=[rule("no-login-page", 0, {"ByteMatchStatement": {
            "SearchString": b"/login", "FieldToMatch": {"UriPath": {}},
            "PositionalConstraint": "EXACTLY",
            "TextTransformations": [{"Priority": 0, "Type": "LOWERCASE"}]}})])
    page = f"{URL}/domain/{domain}/login?client_id={client_id}&response_type=code" \
           "&redirect_uri=https://app.example.com/cb"
    try:
        urllib.request.urlopen(page)
        raise AssertionError("the login page was served")
    except urllib.error.HTTPError as err:
        assert err.code == 403, err.code
    assert "AuthenticationResult" in sign_in(client_id, user)
    check("a URI-path byte match blocks the hosted page it names")

    # A rate-based rule: 10 requests a minute from one address.
    waf.update_web_acl(
        Name=acl_name, Scope="REGIONAL", Id=acl["Id"], DefaultAction={"Allow": {}},
        VisibilityConfig=VISIBILITY, LockToken=acl_lock(acl_name, acl["Id"]),
        Rules=[rule("burst", 0, {"RateBasedStatement": {
            "Limit": 10, "EvaluationWindowSec": 60, "AggregateKeyType": "IP"}})])
    # Start the burst early in a window, so that it falls in one.
    if time.time() % 60 > 40:
        time.sleep(60 - time.time() % 60 + 0.5)
    outcomes = [blocked(sign_in, client_id, user, publics[i % len(publics)])
                for i in range(12)]
    assert outcomes == [False] * 10 + [True, True], outcomes
    time.sleep(60 - time.time() % 60 + 0.5)
    assert "AuthenticationResult" in sign_in(client_id, user)
    check("a rate-based rule blocks a burst and lets the next window through")

    waf.disassociate_web_acl(ResourceArn=pool_arn)
    assert "WebACL" not in waf.get_web_acl_for_resource(ResourceArn=pool_arn)
    waf.delete_web_acl(Name=acl_name, Scope="REGIONAL", Id=acl["Id"],
                       LockToken=acl_lock(acl_name, acl["Id"]))
    lock = waf.get_ip_set(Name=office["Name"], Scope="REGIONAL", Id=office["Id"])["LockToken"]
    waf.delete_ip_set(Name=office["Name"], Scope="REGIONAL", Id=office["Id"], LockToken=lock)
    names = [s["Name"] for s in waf.list_ip_sets(Scope="REGIONAL")["IPSets"]]
    assert office["Name"] not in names, names
    check("disassociated, deleted, listed no more")


main()
