"""User pool administration through boto3: every pool member in and out, UpdateUserPool,
DeleteUserPool, AddCustomAttributes, GetSigningCertificate, tags and log delivery, with
their error paths.

Usage: pools.py URL
Admin credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY. Exits non-zero on
the first failed check.
"""

import base64
import json
import sys
import urllib.request
import uuid

import boto3
import contract  # checks every answer against the model
import botocore
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import padding

URL = sys.argv[1]
REGION = "us-east-1"
LAMBDA = "arn:aws:lambda:us-east-1:123456789012:function:trigger"
KMS = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def idp(validate=True):
    config = Config(retries={"max_attempts": 1}, parameter_validation=validate)
    return boto3.client("cognito-idp", endpoint_url=URL, region_name=REGION, config=config)


def expect_error(code, call, *args, **kwargs):
    try:
        call(*args, **kwargs)
    except botocore.exceptions.ClientError as err:
        got = err.response["Error"]["Code"]
        message = err.response["Error"].get("Message", "")
        assert got == code, f"expected {code}, got {got}: {message}"
        return message
    raise AssertionError(f"expected {code}, call succeeded")


def signed_raw(target, body):
    """Sends a signed body boto3 would refuse to build (unknown members, members of the
    wrong JSON type); returns the HTTP status and the decoded answer."""
    request = AWSRequest(method="POST", url=URL + "/", data=json.dumps(body), headers={
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": f"AWSCognitoIdentityProviderService.{target}"})
    SigV4Auth(boto3.Session().get_credentials(), "cognito-idp", REGION).add_auth(request)
    prepared = request.prepare()
    data = prepared.body if isinstance(prepared.body, bytes) else prepared.body.encode()
    raw = urllib.request.Request(prepared.url, data=data, method="POST", headers=dict(prepared.headers))
    try:
        with urllib.request.urlopen(raw) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def expect_raw_error(code, target, body):
    status, payload = signed_raw(target, body)
    assert status == 400 and payload.get("__type") == code, (status, payload)
    return payload.get("message", "")


def check(label):
    print(f"ok - {label}", flush=True)


FULL = dict(
    Policies={
        "PasswordPolicy": {"MinimumLength": 10, "RequireUppercase": True, "RequireLowercase": False,
                           "RequireNumbers": True, "RequireSymbols": False, "PasswordHistorySize": 5,
                           "TemporaryPasswordValidityDays": 3},
        "SignInPolicy": {"AllowedFirstAuthFactors": ["PASSWORD", "EMAIL_OTP"]},
    },
    DeletionProtection="ACTIVE",
    LambdaConfig={
        "PreSignUp": LAMBDA, "CustomMessage": LAMBDA, "PostConfirmation": LAMBDA,
        "PreAuthentication": LAMBDA, "PostAuthentication": LAMBDA, "DefineAuthChallenge": LAMBDA,
        "CreateAuthChallenge": LAMBDA, "VerifyAuthChallengeResponse": LAMBDA,
        "PreTokenGeneration": LAMBDA, "UserMigration": LAMBDA,
        "PreTokenGenerationConfig": {"LambdaVersion": "V2_0", "LambdaArn": LAMBDA},
        "CustomSMSSender": {"LambdaVersion": "V1_0", "LambdaArn": LAMBDA},
        "CustomEmailSender": {"LambdaVersion": "V1_0", "LambdaArn": LAMBDA},
        "KMSKeyID": KMS,
    },
    AutoVerifiedAttributes=["email"],
    AliasAttributes=["email", "preferred_username"],
    SmsVerificationMessage="Your code is {####}",
    EmailVerificationMessage="Verify with {####} please",
    EmailVerificationSubject="Verify",
    VerificationMessageTemplate={"EmailMessageByLink": "Click {##here##}", "EmailSubjectByLink": "Link",
                                 "DefaultEmailOption": "CONFIRM_WITH_LINK"},
    SmsAuthenticationMessage="Sign-in code {####}",
    MfaConfiguration="OPTIONAL",
    UserAttributeUpdateSettings={"AttributesRequireVerificationBeforeUpdate": ["email"]},
    DeviceConfiguration={"ChallengeRequiredOnNewDevice": True, "DeviceOnlyRememberedOnUserPrompt": False},
    EmailConfiguration={"SourceArn": "arn:aws:ses:us-east-1:123456789012:identity/a@example.com",
                        "ReplyToEmailAddress": "reply@example.com", "EmailSendingAccount": "DEVELOPER",
                        "From": "Team <a@example.com>", "ConfigurationSet": "set-1"},
    SmsConfiguration={"SnsCallerArn": "arn:aws:iam::123456789012:role/sns", "ExternalId": "ext-1",
                      "SnsRegion": "us-east-1"},
    UserPoolTags={"team": "identity", "env": "test"},
    AdminCreateUserConfig={"AllowAdminCreateUserOnly": True, "UnusedAccountValidityDays": 5,
                           "InviteMessageTemplate": {"SMSMessage": "Hi {username} {####}",
                                                     "EmailMessage": "Hello {username}, {####}",
                                                     "EmailSubject": "Welcome"}},
    Schema=[{"Name": "email", "AttributeDataType": "String", "Required": True, "Mutable": True},
            {"Name": "tenant", "AttributeDataType": "String", "Mutable": True,
             "StringAttributeConstraints": {"MinLength": "1", "MaxLength": "64"}}],
    UserPoolAddOns={"AdvancedSecurityMode": "AUDIT"},
    UsernameConfiguration={"CaseSensitive": False},
    AccountRecoverySetting={"RecoveryMechanisms": [{"Priority": 1, "Name": "verified_email"}]},
    UserPoolTier="PLUS",
)


def main():
    suffix = uuid.uuid4().hex[:8]
    admin = idp()
    loose = idp(validate=False)

    # --- CreateUserPool / DescribeUserPool: every member in and out ------------------
    pool = admin.create_user_pool(PoolName=f"full-{suffix}", **FULL)["UserPool"]
    pool_id = pool["Id"]
    described = admin.describe_user_pool(UserPoolId=pool_id)["UserPool"]
    for p in (pool, described):
        assert p["Policies"]["PasswordPolicy"] == FULL["Policies"]["PasswordPolicy"], p["Policies"]
        assert p["Policies"]["SignInPolicy"] == FULL["Policies"]["SignInPolicy"]
        assert p["DeletionProtection"] == "ACTIVE"
        assert p["LambdaConfig"] == FULL["LambdaConfig"], p["LambdaConfig"]
        assert p["AutoVerifiedAttributes"] == ["email"]
        assert p["AliasAttributes"] == ["email", "preferred_username"]
        assert p["SmsVerificationMessage"] == "Your code is {####}"
        assert p["EmailVerificationMessage"] == "Verify with {####} please"
        assert p["EmailVerificationSubject"] == "Verify"
        assert p["VerificationMessageTemplate"] == {
            "SmsMessage": "Your code is {####}", "EmailMessage": "Verify with {####} please",
            "EmailSubject": "Verify", "EmailMessageByLink": "Click {##here##}",
            "EmailSubjectByLink": "Link", "DefaultEmailOption": "CONFIRM_WITH_LINK"}, p["VerificationMessageTemplate"]
        assert p["SmsAuthenticationMessage"] == "Sign-in code {####}"
        assert p["MfaConfiguration"] == "OPTIONAL"
        assert p["UserAttributeUpdateSettings"] == FULL["UserAttributeUpdateSettings"]
        assert p["DeviceConfiguration"] == FULL["DeviceConfiguration"]
        assert p["EmailConfiguration"] == FULL["EmailConfiguration"]
        assert p["SmsConfiguration"] == FULL["SmsConfiguration"]
        assert p["UserPoolTags"] == FULL["UserPoolTags"]
        assert p["AdminCreateUserConfig"] == FULL["AdminCreateUserConfig"]
        assert p["UserPoolAddOns"] == {"AdvancedSecurityMode": "AUDIT"}
        assert p["UsernameConfiguration"] == {"CaseSensitive": False}
        assert p["AccountRecoverySetting"] == FULL["AccountRecoverySetting"]
        assert p["UserPoolTier"] == "PLUS"
        assert p["Status"] == "Enabled"
        assert p["EstimatedNumberOfUsers"] == 0
        assert p["Arn"] == f"arn:aws:cognito-idp:{REGION}:000000000000:userpool/{pool_id}"
        assert "Domain" not in p and "CustomDomain" not in p
        tenant = next(a for a in p["SchemaAttributes"] if a["Name"] == "custom:tenant")
        assert tenant["StringAttributeConstraints"] == {"MinLength": "1", "MaxLength": "64"}
        assert p["CreationDate"] and p["LastModifiedDate"]
    check("CreateUserPool / DescribeUserPool: every member in and out")

    plain = admin.create_user_pool(PoolName=f"plain-{suffix}")["UserPool"]
    assert plain["Policies"]["PasswordPolicy"] == {
        "MinimumLength": 8, "RequireUppercase": True, "RequireLowercase": True, "RequireNumbers": True,
        "RequireSymbols": True, "PasswordHistorySize": 0, "TemporaryPasswordValidityDays": 7}
    assert plain["Policies"]["SignInPolicy"] == {"AllowedFirstAuthFactors": ["PASSWORD"]}
    assert plain["LambdaConfig"] == {}
    assert plain["VerificationMessageTemplate"] == {"DefaultEmailOption": "CONFIRM_WITH_CODE"}
    assert plain["EmailConfiguration"] == {"EmailSendingAccount": "COGNITO_DEFAULT"}
    assert plain["UserAttributeUpdateSettings"] == {"AttributesRequireVerificationBeforeUpdate": []}
    assert plain["AccountRecoverySetting"] == {"RecoveryMechanisms": [
        {"Priority": 1, "Name": "verified_phone_number"}, {"Priority": 2, "Name": "verified_email"}]}
    assert plain["DeletionProtection"] == "INACTIVE" and plain["MfaConfiguration"] == "OFF"
    assert plain["UserPoolTier"] == "ESSENTIALS" and plain["UserPoolTags"] == {}
    for absent in ["SmsConfiguration", "DeviceConfiguration", "UserPoolAddOns", "SmsVerificationMessage"]:
        assert absent not in plain, absent
    plain_id = plain["Id"]
    check("CreateUserPool defaults")

    # --- validation -------------------------------------------------------------------
    message = expect_error("InvalidParameterException", admin.create_user_pool, PoolName="bad",
                           SmsVerificationMessage="no code here")
    assert message.startswith("1 validation error detected: Value 'no code here' at 'smsVerificationMessage'"), message
    expect_error("InvalidParameterException", admin.create_user_pool, PoolName="bad",
                 EmailVerificationMessage="no code in this one")
    expect_error("InvalidParameterException", loose.create_user_pool, PoolName="bad", MfaConfiguration="MAYBE")
    expect_error("InvalidParameterException", loose.create_user_pool, PoolName="bad",
                 LambdaConfig={"PreSignUp": "not-an-arn-but-long-enough"})
    expect_error("InvalidParameterException", loose.create_user_pool, PoolName="bad",
                 Policies={"PasswordPolicy": {"PasswordHistorySize": 25}})
    expect_error("InvalidParameterException", admin.create_user_pool, PoolName="bad",
                 UserAttributeUpdateSettings={"AttributesRequireVerificationBeforeUpdate": ["email"]})
    expect_error("InvalidParameterException", loose.create_user_pool)
    expect_raw_error("SerializationException", "CreateUserPool", {"PoolName": "bad", "LambdaConfig": {"PreSignUp": 7}})
    expect_raw_error("SerializationException", "CreateUserPool", {"PoolName": "bad", "UserPoolTags": ["a"]})
    expect_raw_error("SerializationException", "CreateUserPool", {"PoolName": ["bad"]})
    check("CreateUserPool validation")

    # --- UpdateUserPool ----------------------------------------------------------------
    before = admin.describe_user_pool(UserPoolId=pool_id)["UserPool"]
    admin.update_user_pool(UserPoolId=pool_id, DeletionProtection="ACTIVE", AutoVerifiedAttributes=["email"],
                           MfaConfiguration="OFF", PoolName=f"renamed-{suffix}")
    after = admin.describe_user_pool(UserPoolId=pool_id)["UserPool"]
    assert after["Name"] == f"renamed-{suffix}"
    assert after["DeletionProtection"] == "ACTIVE"
    assert after["LambdaConfig"] == {}, "members left out are reset"
    assert after["Policies"]["PasswordPolicy"]["MinimumLength"] == 8
    assert after["MfaConfiguration"] == "OFF"
    assert after["VerificationMessageTemplate"] == {"DefaultEmailOption": "CONFIRM_WITH_CODE"}
    assert after["AdminCreateUserConfig"] == {"AllowAdminCreateUserOnly": False, "UnusedAccountValidityDays": 7}
    assert "SmsConfiguration" not in after and "UserPoolAddOns" not in after
    assert after["UserPoolTags"] == FULL["UserPoolTags"], "tags are kept when not given"
    assert after["UserPoolTier"] == "PLUS", "the tier is kept when not given"
    assert after["AliasAttributes"] == before["AliasAttributes"]
    assert after["SchemaAttributes"] == before["SchemaAttributes"]
    assert after["UsernameConfiguration"] == {"CaseSensitive": False}
    assert after["CreationDate"] == before["CreationDate"]
    assert after["LastModifiedDate"] >= before["LastModifiedDate"]
    listed = {p["Id"]: p for p in admin.list_user_pools(MaxResults=60)["UserPools"]}
    assert listed[pool_id]["Name"] == f"renamed-{suffix}", listed[pool_id]
    check("UpdateUserPool resets what it leaves out and keeps name, tier and tags")

    # Immutable members are not part of UpdateUserPool; sent anyway, they change nothing.
    status, payload = signed_raw("UpdateUserPool", {
        "UserPoolId": pool_id, "DeletionProtection": "ACTIVE", "AutoVerifiedAttributes": ["email"],
        "Schema": [{"Name": "sneaky", "AttributeDataType": "String"}], "UsernameAttributes": ["email"],
        "AliasAttributes": ["phone_number"], "UsernameConfiguration": {"CaseSensitive": True}})
    assert status == 200 and payload == {}, (status, payload)
    same = admin.describe_user_pool(UserPoolId=pool_id)["UserPool"]
    assert same["SchemaAttributes"] == before["SchemaAttributes"]
    assert same["AliasAttributes"] == before["AliasAttributes"] and "UsernameAttributes" not in same
    assert same["UsernameConfiguration"] == {"CaseSensitive": False}
    check("UpdateUserPool cannot change Schema, UsernameAttributes, AliasAttributes, UsernameConfiguration")

    admin.update_user_pool(UserPoolId=plain_id, **{k: v for k, v in FULL.items() if k not in
                                                 ("AliasAttributes", "Schema", "UsernameConfiguration")})
    updated = admin.describe_user_pool(UserPoolId=plain_id)["UserPool"]
    assert updated["LambdaConfig"] == FULL["LambdaConfig"]
    assert updated["SmsConfiguration"] == FULL["SmsConfiguration"]
    assert updated["AdminCreateUserConfig"] == FULL["AdminCreateUserConfig"]
    assert updated["Name"] == f"plain-{suffix}"
    check("UpdateUserPool sets every updatable member")

    expect_error("ResourceNotFoundException", admin.update_user_pool, UserPoolId=f"{REGION}_doesNotExist")
    expect_error("InvalidParameterException", loose.update_user_pool)
    expect_error("InvalidParameterException", admin.update_user_pool, UserPoolId=pool_id,
                 SmsAuthenticationMessage="missing the code")
    expect_raw_error("SerializationException", "UpdateUserPool", {"UserPoolId": pool_id, "AutoVerifiedAttributes": "email"})
    expect_raw_error("SerializationException", "UpdateUserPool", {"UserPoolId": pool_id, "DeviceConfiguration": {"ChallengeRequiredOnNewDevice": "yes"}})
    check("UpdateUserPool errors")

    # --- AddCustomAttributes -------------------------------------------------------------
    admin.add_custom_attributes(UserPoolId=plain_id, CustomAttributes=[
        {"Name": "plan", "AttributeDataType": "String", "Mutable": True},
        {"Name": "seats", "AttributeDataType": "Number", "NumberAttributeConstraints": {"MinValue": "1"}}])
    schema = {a["Name"]: a for a in admin.describe_user_pool(UserPoolId=plain_id)["UserPool"]["SchemaAttributes"]}
    assert schema["custom:plan"]["AttributeDataType"] == "String"
    assert schema["custom:seats"]["NumberAttributeConstraints"] == {"MinValue": "1"}
    message = expect_error("InvalidParameterException", admin.add_custom_attributes, UserPoolId=plain_id,
                           CustomAttributes=[{"Name": "plan", "AttributeDataType": "String"}])
    assert message == "Existing attribute already has name custom:plan.", message
    message = expect_error("InvalidParameterException", admin.add_custom_attributes, UserPoolId=plain_id,
                           CustomAttributes=[{"Name": "must", "AttributeDataType": "String", "Required": True}])
    assert message == "Required custom attributes are not supported currently.", message
    expect_error("InvalidParameterException", loose.add_custom_attributes, UserPoolId=plain_id,
                 CustomAttributes=[{"Name": "x", "AttributeDataType": "Blob"}])
    expect_error("InvalidParameterException", loose.add_custom_attributes, UserPoolId=plain_id)
    expect_raw_error("SerializationException", "AddCustomAttributes", {"UserPoolId": plain_id, "CustomAttributes": {"Name": "x"}})
    expect_error("ResourceNotFoundException", admin.add_custom_attributes, UserPoolId=f"{REGION}_doesNotExist",
                 CustomAttributes=[{"Name": "x", "AttributeDataType": "String"}])
    for start in (2, 27):
        admin.add_custom_attributes(UserPoolId=plain_id, CustomAttributes=[
            {"Name": f"a{i}", "AttributeDataType": "String"} for i in range(start, min(start + 25, 50))])
    customs = [a for a in admin.describe_user_pool(UserPoolId=plain_id)["UserPool"]["SchemaAttributes"]
               if a["Name"].startswith("custom:")]
    assert len(customs) == 50, len(customs)
    expect_error("InvalidParameterException", admin.add_custom_attributes, UserPoolId=plain_id,
                 CustomAttributes=[{"Name": "fifty_one", "AttributeDataType": "String"}])
    check("AddCustomAttributes (prefix, duplicates, required, 51st attribute, errors)")

    # --- GetSigningCertificate -------------------------------------------------------------
    cert = admin.get_signing_certificate(UserPoolId=pool_id)["Certificate"]
    assert cert == admin.get_signing_certificate(UserPoolId=pool_id)["Certificate"], "stable per pool"
    parsed = x509.load_der_x509_certificate(base64.b64decode(cert))
    assert pool_id in parsed.subject.rfc4514_string()
    parsed.public_key().verify(parsed.signature, parsed.tbs_certificate_bytes, padding.PKCS1v15(),
                               parsed.signature_hash_algorithm)
    assert cert != admin.get_signing_certificate(UserPoolId=plain_id)["Certificate"]
    expect_error("ResourceNotFoundException", admin.get_signing_certificate, UserPoolId=f"{REGION}_doesNotExist")
    expect_error("InvalidParameterException", loose.get_signing_certificate)
    check("GetSigningCertificate: a self-signed X.509 certificate per pool")

    # --- tags -------------------------------------------------------------------------------
    arn = after["Arn"]
    admin.tag_resource(ResourceArn=arn, Tags={"owner": "alice", "env": "prod"})
    tags = admin.list_tags_for_resource(ResourceArn=arn)["Tags"]
    assert tags == {"team": "identity", "env": "prod", "owner": "alice"}, tags
    admin.untag_resource(ResourceArn=arn, TagKeys=["team", "absent"])
    assert admin.list_tags_for_resource(ResourceArn=arn)["Tags"] == {"env": "prod", "owner": "alice"}
    assert admin.describe_user_pool(UserPoolId=pool_id)["UserPool"]["UserPoolTags"] == {"env": "prod", "owner": "alice"}
    missing_arn = f"arn:aws:cognito-idp:{REGION}:000000000000:userpool/{REGION}_doesNotExist"
    for call, kwargs in [(admin.list_tags_for_resource, {}), (admin.tag_resource, {"Tags": {"a": "b"}}),
                         (admin.untag_resource, {"TagKeys": ["a"]})]:
        expect_error("ResourceNotFoundException", call, ResourceArn=missing_arn, **kwargs)
    expect_error("ResourceNotFoundException", admin.list_tags_for_resource,
                 ResourceArn="arn:aws:s3:us-east-1:000000000000:bucket/some-bucket")
    expect_error("InvalidParameterException", loose.list_tags_for_resource, ResourceArn="not an arn at all, really")
    expect_error("InvalidParameterException", loose.tag_resource, ResourceArn=arn)
    expect_raw_error("SerializationException", "TagResource", {"ResourceArn": arn, "Tags": ["a"]})
    expect_raw_error("SerializationException", "UntagResource", {"ResourceArn": arn, "TagKeys": "a"})
    expect_raw_error("SerializationException", "ListTagsForResource", {"ResourceArn": 1})
    check("TagResource / UntagResource / ListTagsForResource")

    # --- log delivery -------------------------------------------------------------------------
    empty = admin.get_log_delivery_configuration(UserPoolId=pool_id)["LogDeliveryConfiguration"]
    assert empty == {"UserPoolId": pool_id, "LogConfigurations": []}, empty
    configs = [
        {"LogLevel": "ERROR", "EventSource": "userNotification",
         "CloudWatchLogsConfiguration": {"LogGroupArn": "arn:aws:logs:us-east-1:123456789012:log-group:g"}},
        {"LogLevel": "INFO", "EventSource": "userAuthEvents",
         "FirehoseConfiguration": {"StreamArn": "arn:aws:firehose:us-east-1:123456789012:deliverystream/s"},
         "S3Configuration": {"BucketArn": "arn:aws:s3:::bucket"}},
    ]
    set_result = admin.set_log_delivery_configuration(UserPoolId=pool_id, LogConfigurations=configs)
    assert set_result["LogDeliveryConfiguration"] == {"UserPoolId": pool_id, "LogConfigurations": configs}
    got = admin.get_log_delivery_configuration(UserPoolId=pool_id)["LogDeliveryConfiguration"]
    assert got == {"UserPoolId": pool_id, "LogConfigurations": configs}, got
    expect_error("InvalidParameterException", loose.set_log_delivery_configuration, UserPoolId=pool_id,
                 LogConfigurations=[{"LogLevel": "DEBUG", "EventSource": "userNotification"}])
    expect_error("InvalidParameterException", loose.set_log_delivery_configuration, UserPoolId=pool_id,
                 LogConfigurations=configs + configs[:1])
    expect_error("InvalidParameterException", loose.set_log_delivery_configuration, UserPoolId=pool_id)
    expect_raw_error("SerializationException", "SetLogDeliveryConfiguration", {"UserPoolId": pool_id, "LogConfigurations": "ERROR"})
    expect_raw_error("SerializationException", "GetLogDeliveryConfiguration", {"UserPoolId": [pool_id]})
    expect_error("ResourceNotFoundException", admin.get_log_delivery_configuration,
                 UserPoolId=f"{REGION}_doesNotExist")
    check("SetLogDeliveryConfiguration / GetLogDeliveryConfiguration")

    # --- DeleteUserPool --------------------------------------------------------------------------
    client_id = admin.create_user_pool_client(UserPoolId=pool_id, ClientName="app")["UserPoolClient"]["ClientId"]
    message = expect_error("InvalidParameterException", admin.delete_user_pool, UserPoolId=pool_id)
    assert message == ("The user pool cannot be deleted because deletion protection is activated. "
                       "Deletion protection must be inactivated first."), message
    admin.update_user_pool(UserPoolId=pool_id, DeletionProtection="INACTIVE", AutoVerifiedAttributes=["email"])
    admin.delete_user_pool(UserPoolId=pool_id)
    expect_error("ResourceNotFoundException", admin.describe_user_pool, UserPoolId=pool_id)
    assert pool_id not in [p["Id"] for p in admin.list_user_pools(MaxResults=60)["UserPools"]]
    expect_error("ResourceNotFoundException", admin.describe_user_pool_client, UserPoolId=pool_id, ClientId=client_id)
    public = boto3.client("cognito-idp", endpoint_url=URL, region_name=REGION,
                          config=Config(signature_version=botocore.UNSIGNED, retries={"max_attempts": 1}))
    expect_error("ResourceNotFoundException", public.sign_up, ClientId=client_id, Username="someone",
                 Password="Passw0rd!long")
    expect_error("ResourceNotFoundException", admin.delete_user_pool, UserPoolId=pool_id)
    expect_error("ResourceNotFoundException", admin.update_user_pool, UserPoolId=pool_id)
    expect_error("ResourceNotFoundException", admin.list_tags_for_resource, ResourceArn=arn)
    expect_error("InvalidParameterException", loose.delete_user_pool)
    expect_raw_error("SerializationException", "DeleteUserPool", {"UserPoolId": 5})
    expect_raw_error("SerializationException", "GetSigningCertificate", {"UserPoolId": 5})
    admin.update_user_pool(UserPoolId=plain_id)  # everything back to defaults: unprotected
    admin.delete_user_pool(UserPoolId=plain_id)
    check("DeleteUserPool (deletion protection, then gone with its clients)")

    # --- every member of UserPoolType comes back from some answer ---------------------
    by_email = admin.create_user_pool(
        PoolName=f"by-email-{uuid.uuid4().hex[:6]}", UsernameAttributes=["email"],
        KeyConfiguration={"KeyType": "AWS_OWNED_KEY"}, IssuerConfiguration={"Type": "UPDATED"})
    assert by_email["UserPool"]["UsernameAttributes"] == ["email"], by_email
    contract.assert_returned("UserPoolType", absent_ok={
        "Domain", "CustomDomain",  # no domains before the hosted UI (issue 5)
        # only present when Cognito cannot use the configured email / SMS sender
        "EmailConfigurationFailure", "SmsConfigurationFailure",
    })
    contract.assert_returned("UserPoolDescriptionType", absent_ok={
        "ReplicaRegions",  # only for multi-region pools, which Portcullis has not
    })
    admin.delete_user_pool(UserPoolId=by_email["UserPool"]["Id"])
    check("every member of UserPoolType is returned")


if __name__ == "__main__":
    main()
