"""Users' lifecycle beyond sign-up, through boto3: AdminCreateUser with an invitation and
the NEW_PASSWORD_REQUIRED challenge, admin password operations, attribute updates and
verification, settings, ListUsers with filters and pages, and the error paths.
Usage: users.py URL OUTBOX_PATH"""

import json
import sys
import uuid

import boto3
import contract  # checks every answer against the model
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
        assert err.response["ResponseMetadata"]["HTTPStatusCode"] < 500, err.response
        return err.response["Error"]["Message"]
    raise AssertionError(f"expected {code}, call succeeded")


def messages_for(username):
    with open(outbox) as f:
        messages = [json.loads(line) for line in f if line.strip()]
    return [m for m in messages if m["username"] == username and m["pool_id"] == pool_id]


def attributes(user, key="UserAttributes"):
    return {a["Name"]: a["Value"] for a in user[key]}


def sign_in(username, password):
    return public.initiate_auth(ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH",
                                AuthParameters={"USERNAME": username, "PASSWORD": password})


suffix = uuid.uuid4().hex[:8]
pool_id = admin.create_user_pool(
    PoolName=f"users-{suffix}", AutoVerifiedAttributes=["email"],
    Schema=[{"Name": "tier", "AttributeDataType": "String", "Mutable": True}],
)["UserPool"]["Id"]
client_id = admin.create_user_pool_client(
    UserPoolId=pool_id, ClientName="app",
    ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_ADMIN_USER_PASSWORD_AUTH",
                       "ALLOW_REFRESH_TOKEN_AUTH"])["UserPoolClient"]["ClientId"]

# --- AdminCreateUser: invitation, temporary password, NEW_PASSWORD_REQUIRED -----------
created = admin.admin_create_user(
    UserPoolId=pool_id, Username="nina",
    UserAttributes=[{"Name": "email", "Value": "nina@example.com"},
                    {"Name": "email_verified", "Value": "true"}],
    DesiredDeliveryMediums=["EMAIL"])["User"]
assert created["Username"] == "nina" and created["UserStatus"] == "FORCE_CHANGE_PASSWORD", created
assert created["Enabled"] is True and "UserCreateDate" in created and "UserLastModifiedDate" in created
assert attributes(created, "Attributes")["email_verified"] == "true"
[invite] = messages_for("nina")
assert invite["kind"] == "AdminCreateUser" and invite["channel"] == "email", invite
assert "nina" in invite["message"] and invite["code"] in invite["message"], invite
temporary = invite["code"]
print("ok - AdminCreateUser sends an invitation with a generated temporary password")

challenge = sign_in("nina", temporary)
assert challenge["ChallengeName"] == "NEW_PASSWORD_REQUIRED" and challenge["Session"], challenge
params = challenge["ChallengeParameters"]
assert params["USER_ID_FOR_SRP"] == "nina" and json.loads(params["requiredAttributes"]) == []
assert json.loads(params["userAttributes"])["email"] == "nina@example.com"
expect_error("InvalidPasswordException", public.respond_to_auth_challenge, ClientId=client_id,
             ChallengeName="NEW_PASSWORD_REQUIRED", Session=challenge["Session"],
             ChallengeResponses={"USERNAME": "nina", "NEW_PASSWORD": "short"})
# A password the policy refuses leaves the session for another try (up to three).
answered = public.respond_to_auth_challenge(
    ClientId=client_id, ChallengeName="NEW_PASSWORD_REQUIRED", Session=challenge["Session"],
    ChallengeResponses={"USERNAME": "nina", "NEW_PASSWORD": "N3w!Password",
                        "userAttributes.name": "Nina"})
assert answered["AuthenticationResult"]["AccessToken"], answered
nina = admin.admin_get_user(UserPoolId=pool_id, Username="nina")
assert nina["UserStatus"] == "CONFIRMED" and attributes(nina)["name"] == "Nina", nina
expect_error("NotAuthorizedException", sign_in, username="nina", password=temporary)
sign_in("nina", "N3w!Password")
print("ok - NEW_PASSWORD_REQUIRED replaces the temporary password once")

expect_error("UsernameExistsException", admin.admin_create_user, UserPoolId=pool_id, Username="nina")
assert "Resend not possible" in expect_error(
    "UnsupportedUserStateException", admin.admin_create_user, UserPoolId=pool_id, Username="nina",
    MessageAction="RESEND")
expect_error("UserNotFoundException", admin.admin_create_user, UserPoolId=pool_id, Username="ghost",
             MessageAction="RESEND")
expect_error("InvalidPasswordException", admin.admin_create_user, UserPoolId=pool_id, Username="weak",
             TemporaryPassword="abc")
expect_error("InvalidParameterException", admin.admin_create_user, UserPoolId=pool_id, Username="odd",
             MessageAction="SHOUT")
expect_error("ResourceNotFoundException", admin.admin_create_user, UserPoolId="us-east-1_nopenope1",
             Username="x")
admin.admin_create_user(UserPoolId=pool_id, Username="omar", TemporaryPassword="Temp!Pass1",
                        MessageAction="SUPPRESS",
                        UserAttributes=[{"Name": "email", "Value": "omar@example.com"}])
assert messages_for("omar") == []
resent = admin.admin_create_user(UserPoolId=pool_id, Username="omar", MessageAction="RESEND",
                                 DesiredDeliveryMediums=["EMAIL"])["User"]
assert resent["UserStatus"] == "FORCE_CHANGE_PASSWORD"
[again] = messages_for("omar")
expect_error("NotAuthorizedException", sign_in, username="omar", password="Temp!Pass1")
assert sign_in("omar", again["code"])["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
print("ok - AdminCreateUser SUPPRESS, RESEND and its errors")

# --- admin passwords -------------------------------------------------------------------
admin.admin_set_user_password(UserPoolId=pool_id, Username="omar", Password="Perm!Pass1", Permanent=True)
assert admin.admin_get_user(UserPoolId=pool_id, Username="omar")["UserStatus"] == "CONFIRMED"
sign_in("omar", "Perm!Pass1")["AuthenticationResult"]
admin.admin_set_user_password(UserPoolId=pool_id, Username="omar", Password="Temp!Pass2", Permanent=False)
assert admin.admin_get_user(UserPoolId=pool_id, Username="omar")["UserStatus"] == "FORCE_CHANGE_PASSWORD"
assert sign_in("omar", "Temp!Pass2")["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
expect_error("InvalidPasswordException", admin.admin_set_user_password, UserPoolId=pool_id,
             Username="omar", Password="xy", Permanent=True)
expect_error("UserNotFoundException", admin.admin_set_user_password, UserPoolId=pool_id,
             Username="ghost", Password="Perm!Pass1", Permanent=True)
print("ok - AdminSetUserPassword permanent and temporary")

admin.admin_reset_user_password(UserPoolId=pool_id, Username="nina")
assert admin.admin_get_user(UserPoolId=pool_id, Username="nina")["UserStatus"] == "RESET_REQUIRED"
expect_error("PasswordResetRequiredException", sign_in, username="nina", password="N3w!Password")
reset = messages_for("nina")[-1]
assert reset["kind"] == "AdminResetUserPassword", reset
public.confirm_forgot_password(ClientId=client_id, Username="nina", ConfirmationCode=reset["code"],
                               Password="Reset!Pass1")
assert admin.admin_get_user(UserPoolId=pool_id, Username="nina")["UserStatus"] == "CONFIRMED"
sign_in("nina", "Reset!Pass1")
# Omar's email is not verified: there is nowhere to send a code.
expect_error("InvalidParameterException", admin.admin_reset_user_password, UserPoolId=pool_id,
             Username="omar")
print("ok - AdminResetUserPassword requires a reset with a code")

# --- attributes --------------------------------------------------------------------------
admin.admin_update_user_attributes(UserPoolId=pool_id, Username="nina", UserAttributes=[
    {"Name": "custom:tier", "Value": "gold"}, {"Name": "given_name", "Value": "Nin"}])
nina = attributes(admin.admin_get_user(UserPoolId=pool_id, Username="nina"))
assert nina["custom:tier"] == "gold" and nina["given_name"] == "Nin" and nina["email_verified"] == "true"
assert "does not exist in the schema" in expect_error(
    "InvalidParameterException", admin.admin_update_user_attributes, UserPoolId=pool_id,
    Username="nina", UserAttributes=[{"Name": "custom:nope", "Value": "1"}])
expect_error("InvalidParameterException", admin.admin_update_user_attributes, UserPoolId=pool_id,
             Username="nina", UserAttributes=[{"Name": "sub", "Value": "x"}])
expect_error("InvalidParameterException", admin.admin_update_user_attributes, UserPoolId=pool_id,
             Username="nina", UserAttributes=[{"Name": "email", "Value": "not-an-email"}])
expect_error("UserNotFoundException", admin.admin_update_user_attributes, UserPoolId=pool_id,
             Username="ghost", UserAttributes=[{"Name": "name", "Value": "x"}])
admin.admin_delete_user_attributes(UserPoolId=pool_id, Username="nina", UserAttributeNames=["given_name"])
assert "given_name" not in attributes(admin.admin_get_user(UserPoolId=pool_id, Username="nina"))
expect_error("InvalidParameterException", admin.admin_delete_user_attributes, UserPoolId=pool_id,
             Username="nina", UserAttributeNames=["sub"])
print("ok - AdminUpdateUserAttributes and AdminDeleteUserAttributes")

access = sign_in("nina", "Reset!Pass1")["AuthenticationResult"]["AccessToken"]
changed = public.update_user_attributes(AccessToken=access, UserAttributes=[
    {"Name": "email", "Value": "nina.new@example.com"}])
assert changed["CodeDeliveryDetailsList"] == [
    {"Destination": "n***@e***", "DeliveryMedium": "EMAIL", "AttributeName": "email"}], changed
nina = attributes(public.get_user(AccessToken=access))
assert nina["email"] == "nina.new@example.com" and nina["email_verified"] == "false", nina
code = messages_for("nina")[-1]
assert code["kind"] == "VerifyUserAttribute" and code["destination"] == "nina.new@example.com", code
expect_error("CodeMismatchException", public.verify_user_attribute, AccessToken=access,
             AttributeName="email", Code="000000" if code["code"] != "000000" else "111111")
public.verify_user_attribute(AccessToken=access, AttributeName="email", Code=code["code"])
assert attributes(public.get_user(AccessToken=access))["email_verified"] == "true"
expect_error("ExpiredCodeException", public.verify_user_attribute, AccessToken=access,
             AttributeName="email", Code=code["code"])
sent = public.get_user_attribute_verification_code(AccessToken=access, AttributeName="email")
assert sent["CodeDeliveryDetails"]["AttributeName"] == "email", sent
expect_error("NotAuthorizedException", public.update_user_attributes, AccessToken=access,
             UserAttributes=[{"Name": "email_verified", "Value": "true"}])
public.delete_user_attributes(AccessToken=access, UserAttributeNames=["custom:tier"])
assert "custom:tier" not in attributes(public.get_user(AccessToken=access))
expect_error("NotAuthorizedException", public.update_user_attributes, AccessToken="not.a.token",
             UserAttributes=[{"Name": "name", "Value": "x"}])
print("ok - UpdateUserAttributes sends a code, VerifyUserAttribute redeems it once")

public.change_password(AccessToken=access, PreviousPassword="Reset!Pass1", ProposedPassword="Chang3d!Pass")
expect_error("NotAuthorizedException", public.change_password, AccessToken=access,
             PreviousPassword="wrong-Pass1", ProposedPassword="Chang3d!Pass2")
expect_error("InvalidPasswordException", public.change_password, AccessToken=access,
             PreviousPassword="Chang3d!Pass", ProposedPassword="short")
expect_error("NotAuthorizedException", sign_in, username="nina", password="Reset!Pass1")
sign_in("nina", "Chang3d!Pass")
print("ok - ChangePassword checks the previous password and the policy")

admin.admin_update_user_attributes(UserPoolId=pool_id, Username="nina", UserAttributes=[
    {"Name": "phone_number", "Value": "+15555550100"}])
admin.admin_set_user_settings(UserPoolId=pool_id, Username="nina", MFAOptions=[
    {"DeliveryMedium": "SMS", "AttributeName": "phone_number"}])
got = admin.admin_get_user(UserPoolId=pool_id, Username="nina")
assert got["MFAOptions"] == [{"DeliveryMedium": "SMS", "AttributeName": "phone_number"}], got
assert got["UserMFASettingList"] == ["SMS_MFA"], "the legacy SMS option is SMS MFA"
assert public.get_user(AccessToken=access)["MFAOptions"] == got["MFAOptions"]
listed = admin.list_users(UserPoolId=pool_id, Filter='username = "nina"')["Users"]
assert listed[0]["MFAOptions"] == got["MFAOptions"], listed
public.set_user_settings(AccessToken=access, MFAOptions=[])
assert "MFAOptions" not in admin.admin_get_user(UserPoolId=pool_id, Username="nina")
admin.admin_set_user_mfa_preference(UserPoolId=pool_id, Username="nina",
                                    SMSMfaSettings={"Enabled": True, "PreferredMfa": True})
mine = public.get_user(AccessToken=access)
assert mine["UserMFASettingList"] == ["SMS_MFA"] and mine["PreferredMfaSetting"] == "SMS_MFA", mine
public.set_user_mfa_preference(AccessToken=access, SMSMfaSettings={"Enabled": False})
got = admin.admin_get_user(UserPoolId=pool_id, Username="nina")
assert "UserMFASettingList" not in got and "PreferredMfaSetting" not in got, got
expect_error("InvalidParameterException", admin.admin_set_user_settings, UserPoolId=pool_id,
             Username="nina", MFAOptions=[{"DeliveryMedium": "PIGEON", "AttributeName": "phone_number"}])
print("ok - AdminSetUserSettings and SetUserSettings")

# --- ListUsers -----------------------------------------------------------------------------
for i in range(7):
    admin.admin_create_user(UserPoolId=pool_id, Username=f"list-{i}", MessageAction="SUPPRESS",
                            UserAttributes=[{"Name": "email", "Value": f"List{i}@Example.com"},
                                            {"Name": "family_name", "Value": "Reddy" if i % 2 else "Obi"}])
everyone = [u["Username"] for page in admin.get_paginator("list_users").paginate(
    UserPoolId=pool_id, PaginationConfig={"PageSize": 3}) for u in page["Users"]]
assert everyone == sorted(everyone) and len(everyone) == 9, everyone
page = admin.list_users(UserPoolId=pool_id, Limit=3)
assert len(page["Users"]) == 3 and page["PaginationToken"], page
user = page["Users"][0]
assert set(user) >= {"Username", "Attributes", "UserCreateDate", "UserLastModifiedDate", "Enabled",
                     "UserStatus"}, user
reddy = admin.list_users(UserPoolId=pool_id, Filter='family_name = "reddy"')["Users"]
assert sorted(u["Username"] for u in reddy) == ["list-1", "list-3", "list-5"], reddy
prefixed = admin.list_users(UserPoolId=pool_id, Filter='email ^= "list"', AttributesToGet=["email"])["Users"]
assert len(prefixed) == 7 and all(set(attributes(u, "Attributes")) == {"email"} for u in prefixed), prefixed
forced = admin.list_users(UserPoolId=pool_id, Filter='cognito:user_status = "FORCE_CHANGE_PASSWORD"')
assert len(forced["Users"]) == 8, [u["Username"] for u in forced["Users"]]
expect_error("InvalidParameterException", admin.list_users, UserPoolId=pool_id, Filter='custom:tier = "x"')
expect_error("InvalidParameterException", admin.list_users, UserPoolId=pool_id, Filter="email = unquoted")
expect_error("InvalidParameterException", admin.list_users, UserPoolId=pool_id, Limit=61)
expect_error("InvalidParameterException", admin.list_users, UserPoolId=pool_id, PaginationToken="garbage")
expect_error("ResourceNotFoundException", admin.list_users, UserPoolId="us-east-1_nopenope1")
print("ok - ListUsers pages, filters and projects attributes")

# --- wrong shapes ----------------------------------------------------------------------------
import urllib.request  # noqa: E402
from botocore.auth import SigV4Auth  # noqa: E402
from botocore.awsrequest import AWSRequest  # noqa: E402


def raw(operation, body):
    request = AWSRequest(method="POST", url=url, data=json.dumps(body), headers={
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": f"AWSCognitoIdentityProviderService.{operation}"})
    SigV4Auth(boto3.Session().get_credentials(), "cognito-idp", "us-east-1").add_auth(request)
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=request.body, headers=dict(request.headers),
                                                           method="POST")) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


status, body = raw("AdminCreateUser", {"UserPoolId": pool_id, "Username": 5})
assert status == 400 and body["__type"] == "SerializationException", body
status, body = raw("ListUsers", {"UserPoolId": pool_id, "Limit": "ten"})
assert status == 400 and body["__type"] == "SerializationException", body
status, body = raw("AdminSetUserPassword", {"UserPoolId": pool_id, "Username": "nina"})
assert status == 400 and body["__type"] == "InvalidParameterException", body
print("ok - wrong member types and missing members")

# --- group membership and token claims ---------------------------------------------------
import jwt  # noqa: E402

role_a, role_r = "arn:aws:iam::123456789012:role/admins", "arn:aws:iam::123456789012:role/readers"
admin.create_group(UserPoolId=pool_id, GroupName="admins", Precedence=1, RoleArn=role_a)
admin.create_group(UserPoolId=pool_id, GroupName="staff", Precedence=5)
admin.create_group(UserPoolId=pool_id, GroupName="readers", RoleArn=role_r)
for group in ["readers", "staff", "admins"]:
    admin.admin_add_user_to_group(UserPoolId=pool_id, Username="nina", GroupName=group)
admin.admin_add_user_to_group(UserPoolId=pool_id, Username="nina", GroupName="admins")  # again: no-op
admin.admin_add_user_to_group(UserPoolId=pool_id, Username="list-1", GroupName="staff")
expect_error("ResourceNotFoundException", admin.admin_add_user_to_group, UserPoolId=pool_id,
             Username="nina", GroupName="nope")
expect_error("UserNotFoundException", admin.admin_add_user_to_group, UserPoolId=pool_id,
             Username="ghost", GroupName="staff")

result = sign_in("nina", "Chang3d!Pass")["AuthenticationResult"]
id_claims = jwt.decode(result["IdToken"], options={"verify_signature": False})
access_claims = jwt.decode(result["AccessToken"], options={"verify_signature": False})
assert id_claims["cognito:groups"] == ["admins", "staff", "readers"], id_claims
assert access_claims["cognito:groups"] == ["admins", "staff", "readers"], access_claims
assert id_claims["cognito:roles"] == [role_a, role_r], id_claims
assert id_claims["cognito:preferred_role"] == role_a, id_claims
assert "cognito:roles" not in access_claims
print("ok - cognito:groups, cognito:roles and cognito:preferred_role in tokens")

groups = admin.admin_list_groups_for_user(UserPoolId=pool_id, Username="nina")["Groups"]
assert [g["GroupName"] for g in groups] == ["admins", "readers", "staff"], groups
assert groups[0]["Precedence"] == 1 and groups[0]["RoleArn"] == role_a, groups[0]
paged = admin.admin_list_groups_for_user(UserPoolId=pool_id, Username="nina", Limit=2)
assert len(paged["Groups"]) == 2 and paged["NextToken"], paged
rest = admin.admin_list_groups_for_user(UserPoolId=pool_id, Username="nina", Limit=2,
                                        NextToken=paged["NextToken"])
assert [g["GroupName"] for g in rest["Groups"]] == ["staff"] and "NextToken" not in rest, rest
members = admin.list_users_in_group(UserPoolId=pool_id, GroupName="staff")["Users"]
assert sorted(u["Username"] for u in members) == ["list-1", "nina"], members
expect_error("ResourceNotFoundException", admin.list_users_in_group, UserPoolId=pool_id, GroupName="nope")

admin.admin_remove_user_from_group(UserPoolId=pool_id, Username="nina", GroupName="staff")
members = admin.list_users_in_group(UserPoolId=pool_id, GroupName="staff")["Users"]
assert [u["Username"] for u in members] == ["list-1"], members
admin.delete_group(UserPoolId=pool_id, GroupName="admins")
groups = admin.admin_list_groups_for_user(UserPoolId=pool_id, Username="nina")["Groups"]
assert [g["GroupName"] for g in groups] == ["readers"], groups
admin.create_group(UserPoolId=pool_id, GroupName="admins")
assert admin.list_users_in_group(UserPoolId=pool_id, GroupName="admins")["Users"] == []
result = sign_in("nina", "Chang3d!Pass")["AuthenticationResult"]
id_claims = jwt.decode(result["IdToken"], options={"verify_signature": False})
assert id_claims["cognito:groups"] == ["readers"] and id_claims["cognito:preferred_role"] == role_r, id_claims
print("ok - group membership: add, remove, list both ways, and a deleted group's members leave it")

# --- a client's ReadAttributes and WriteAttributes ------------------------------------------
narrow = admin.create_user_pool_client(
    UserPoolId=pool_id, ClientName="narrow", ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"],
    ReadAttributes=["email", "name"], WriteAttributes=["name"])["UserPoolClient"]["ClientId"]
admin.admin_update_user_attributes(UserPoolId=pool_id, Username="nina", UserAttributes=[
    {"Name": "given_name", "Value": "Nin"}, {"Name": "name", "Value": "Nina"}])
result = public.initiate_auth(ClientId=narrow, AuthFlow="USER_PASSWORD_AUTH",
                              AuthParameters={"USERNAME": "nina", "PASSWORD": "Chang3d!Pass"})["AuthenticationResult"]
seen = attributes(public.get_user(AccessToken=result["AccessToken"]))
assert set(seen) == {"sub", "email", "name"}, seen
id_claims = jwt.decode(result["IdToken"], options={"verify_signature": False})
assert "given_name" not in id_claims and id_claims["name"] == "Nina", id_claims
public.update_user_attributes(AccessToken=result["AccessToken"], UserAttributes=[{"Name": "name", "Value": "N."}])
expect_error("NotAuthorizedException", public.update_user_attributes, AccessToken=result["AccessToken"],
             UserAttributes=[{"Name": "given_name", "Value": "x"}])
expect_error("NotAuthorizedException", public.delete_user_attributes, AccessToken=result["AccessToken"],
             UserAttributeNames=["given_name"])
# A change to the client's rules holds for the very next call.
admin.update_user_pool_client(UserPoolId=pool_id, ClientId=narrow, ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"],
                              ReadAttributes=["email", "name", "given_name"], WriteAttributes=["name"])
seen = attributes(public.get_user(AccessToken=result["AccessToken"]))
assert set(seen) == {"sub", "email", "name", "given_name"}, seen
print("ok - ReadAttributes bound GetUser and the ID token, WriteAttributes bound updates")

# --- message templates and account recovery ---------------------------------------------
templated = admin.create_user_pool(
    PoolName=f"templates-{suffix}", AutoVerifiedAttributes=["email"],
    VerificationMessageTemplate={"EmailMessage": "Welcome! Code: {####}", "EmailSubject": "Confirm please",
                                 "DefaultEmailOption": "CONFIRM_WITH_CODE"},
    AdminCreateUserConfig={"InviteMessageTemplate": {
        "EmailMessage": "Hi {username}, your password is {####}", "EmailSubject": "Join us",
        "SMSMessage": "{username} {####}"}},
    AccountRecoverySetting={"RecoveryMechanisms": [{"Priority": 1, "Name": "verified_email"},
                                                   {"Priority": 2, "Name": "verified_phone_number"}]},
)["UserPool"]["Id"]
templated_client = admin.create_user_pool_client(
    UserPoolId=templated, ClientName="app", ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"])["UserPoolClient"]["ClientId"]
public.sign_up(ClientId=templated_client, Username="tess", Password="Templ4te!Pass",
               UserAttributes=[{"Name": "email", "Value": "tess@example.com"}])
pool_id = templated  # messages_for reads this pool's messages from here on
[code_message] = messages_for("tess")
assert code_message["message"] == f"Welcome! Code: {code_message['code']}", code_message
admin.admin_create_user(UserPoolId=templated, Username="ugo", DesiredDeliveryMediums=["EMAIL"],
                        UserAttributes=[{"Name": "email", "Value": "ugo@example.com"}])
[invite] = messages_for("ugo")
assert invite["message"] == f"Hi ugo, your password is {invite['code']}", invite
print("ok - VerificationMessageTemplate and InviteMessageTemplate shape the messages")

admin.admin_update_user_attributes(UserPoolId=templated, Username="tess", UserAttributes=[
    {"Name": "email_verified", "Value": "true"}, {"Name": "phone_number", "Value": "+15555550123"},
    {"Name": "phone_number_verified", "Value": "true"}])
sent = public.forgot_password(ClientId=templated_client, Username="tess")["CodeDeliveryDetails"]
assert sent["DeliveryMedium"] == "EMAIL" and sent["AttributeName"] == "email", sent
admin.update_user_pool(UserPoolId=templated, AutoVerifiedAttributes=["email"],
                       AccountRecoverySetting={"RecoveryMechanisms": [{"Priority": 1, "Name": "admin_only"}]})
expect_error("InvalidParameterException", public.forgot_password, ClientId=templated_client, Username="tess")
print("ok - AccountRecoverySetting picks where reset codes go, admin_only refuses self-service")

# --- PasswordHistorySize ------------------------------------------------------------------------
history_pool = admin.create_user_pool(PoolName=f"history-{suffix}", Policies={"PasswordPolicy": {
    "MinimumLength": 8, "PasswordHistorySize": 2}})["UserPool"]["Id"]
history_client = admin.create_user_pool_client(
    UserPoolId=history_pool, ClientName="app", ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"])["UserPoolClient"]["ClientId"]
admin.admin_create_user(UserPoolId=history_pool, Username="vic", MessageAction="SUPPRESS")
admin.admin_set_user_password(UserPoolId=history_pool, Username="vic", Password="Hist0ry!One", Permanent=True)
token = public.initiate_auth(ClientId=history_client, AuthFlow="USER_PASSWORD_AUTH", AuthParameters={
    "USERNAME": "vic", "PASSWORD": "Hist0ry!One"})["AuthenticationResult"]["AccessToken"]
assert expect_error("InvalidPasswordException", public.change_password, AccessToken=token,
                    PreviousPassword="Hist0ry!One", ProposedPassword="Hist0ry!One") == \
    "Password has previously been used"
public.change_password(AccessToken=token, PreviousPassword="Hist0ry!One", ProposedPassword="Hist0ry!Two")
expect_error("InvalidPasswordException", public.change_password, AccessToken=token,
             PreviousPassword="Hist0ry!Two", ProposedPassword="Hist0ry!One")
public.change_password(AccessToken=token, PreviousPassword="Hist0ry!Two", ProposedPassword="Hist0ry!Three")
public.change_password(AccessToken=token, PreviousPassword="Hist0ry!Three", ProposedPassword="Hist0ry!One")
expect_error("InvalidPasswordException", admin.admin_set_user_password, UserPoolId=history_pool,
             Username="vic", Password="Hist0ry!Three", Permanent=True)
print("ok - PasswordHistorySize refuses the last passwords, and only those")

# --- AttributesRequireVerificationBeforeUpdate -----------------------------------------------------
strict_pool = admin.create_user_pool(
    PoolName=f"strict-{suffix}", AutoVerifiedAttributes=["email"],
    UserAttributeUpdateSettings={"AttributesRequireVerificationBeforeUpdate": ["email"]})["UserPool"]["Id"]
strict_client = admin.create_user_pool_client(
    UserPoolId=strict_pool, ClientName="app", ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"])["UserPoolClient"]["ClientId"]
pool_id = strict_pool
public.sign_up(ClientId=strict_client, Username="wes", Password="Str1ct!Pass",
               UserAttributes=[{"Name": "email", "Value": "wes@example.com"}])
public.confirm_sign_up(ClientId=strict_client, Username="wes", ConfirmationCode=messages_for("wes")[-1]["code"])
token = public.initiate_auth(ClientId=strict_client, AuthFlow="USER_PASSWORD_AUTH", AuthParameters={
    "USERNAME": "wes", "PASSWORD": "Str1ct!Pass"})["AuthenticationResult"]["AccessToken"]
sent = public.update_user_attributes(AccessToken=token, UserAttributes=[
    {"Name": "email", "Value": "wes.new@example.com"}])["CodeDeliveryDetailsList"]
assert sent == [{"Destination": "w***@e***", "DeliveryMedium": "EMAIL", "AttributeName": "email"}], sent
message = messages_for("wes")[-1]
assert message["destination"] == "wes.new@example.com", message
current = attributes(public.get_user(AccessToken=token))
assert current["email"] == "wes@example.com" and current["email_verified"] == "true", current
public.verify_user_attribute(AccessToken=token, AttributeName="email", Code=message["code"])
current = attributes(public.get_user(AccessToken=token))
assert current["email"] == "wes.new@example.com" and current["email_verified"] == "true", current
print("ok - AttributesRequireVerificationBeforeUpdate keeps the old email until the new one is verified")

# PreferredMfaSetting was seen in GetUser's answer; AdminGetUser's is checked in mfa.py.
contract.assert_returned("UserType")
contract.assert_returned("AdminGetUserResponse", absent_ok={"PreferredMfaSetting"})
contract.assert_returned("GetUserResponse")
print("ok - every member of UserType, AdminGetUserResponse and GetUserResponse is returned")
