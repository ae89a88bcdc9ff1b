"""Sign-up confirmation codes, through boto3: the code is written to the embedded
outbox, ConfirmSignUp redeems it once, ResendConfirmationCode replaces it, wrong codes
are limited (and a new code does not lift the limit). Usage: signup_codes.py URL OUTBOX_PATH"""

import json
import sys
import uuid

import boto3
import contract  # noqa: F401  (checks every answer against the model)
import botocore
import jwt
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
    mine = [m for m in messages if m["username"] == username]
    assert mine, f"no message for {username} in the outbox"
    message = mine[-1]
    assert message["channel"] == "email" and message["code"] in message["message"], message
    return message["code"]


def wrong(code):
    return "000000" if code != "000000" else "111111"


suffix = uuid.uuid4().hex[:8]
pool_id = admin.create_user_pool(PoolName=f"codes-{suffix}", AutoVerifiedAttributes=["email"])["UserPool"]["Id"]
client_id = admin.create_user_pool_client(
    UserPoolId=pool_id, ClientName="app",
    ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"])["UserPoolClient"]["ClientId"]
username, password = f"kim-{suffix}", "Str0ng!Passw0rd"
signed_up = public.sign_up(ClientId=client_id, Username=username, Password=password,
                           UserAttributes=[{"Name": "email", "Value": f"kim-{suffix}@example.com"}])
assert signed_up["UserConfirmed"] is False
assert signed_up["CodeDeliveryDetails"] == {"Destination": "k***@e***", "DeliveryMedium": "EMAIL",
                                            "AttributeName": "email"}, signed_up
first = last_code(username)
print("ok - SignUp sends a code to the auto-verified email")

assert expect_error("CodeMismatchException", public.confirm_sign_up, ClientId=client_id, Username=username,
                    ConfirmationCode=wrong(first)) == "Invalid verification code provided, please try again."
resent = public.resend_confirmation_code(ClientId=client_id, Username=username)
assert resent["CodeDeliveryDetails"]["DeliveryMedium"] == "EMAIL"
second = last_code(username)
if second != first:
    expect_error("CodeMismatchException", public.confirm_sign_up, ClientId=client_id, Username=username,
                 ConfirmationCode=first)
print("ok - ResendConfirmationCode replaces the code")

public.confirm_sign_up(ClientId=client_id, Username=username, ConfirmationCode=second)
user = admin.admin_get_user(UserPoolId=pool_id, Username=username)
attributes = {a["Name"]: a["Value"] for a in user["UserAttributes"]}
assert user["UserStatus"] == "CONFIRMED" and attributes["email_verified"] == "true", user
expect_error("NotAuthorizedException", public.confirm_sign_up, ClientId=client_id, Username=username,
             ConfirmationCode=second)
assert expect_error("InvalidParameterException", public.resend_confirmation_code, ClientId=client_id,
                    Username=username) == "User is already confirmed."
tokens = public.initiate_auth(ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH",
                              AuthParameters={"USERNAME": username, "PASSWORD": password})["AuthenticationResult"]
assert jwt.decode(tokens["IdToken"], options={"verify_signature": False})["email_verified"] is True
print("ok - ConfirmSignUp confirms once and verifies the email")

expect_error("UserNotFoundException", public.confirm_sign_up, ClientId=client_id, Username="nobody",
             ConfirmationCode="123456")
expect_error("UserNotFoundException", public.resend_confirmation_code, ClientId=client_id, Username="nobody")
print("ok - unknown users")

other = f"lee-{suffix}"
public.sign_up(ClientId=client_id, Username=other, Password=password,
               UserAttributes=[{"Name": "email", "Value": f"lee-{suffix}@example.com"}])
code = last_code(other)
for _ in range(5):
    expect_error("CodeMismatchException", public.confirm_sign_up, ClientId=client_id, Username=other,
                 ConfirmationCode=wrong(code))
expect_error("LimitExceededException", public.confirm_sign_up, ClientId=client_id, Username=other,
             ConfirmationCode=code)
# The limit holds for the hour, a new code included: asking again buys no guesses.
expect_error("LimitExceededException", public.confirm_sign_up, ClientId=client_id, Username=other,
             ConfirmationCode=code)
public.resend_confirmation_code(ClientId=client_id, Username=other)
expect_error("LimitExceededException", public.confirm_sign_up, ClientId=client_id, Username=other,
             ConfirmationCode=last_code(other))
print("ok - wrong codes are limited, and a new code does not lift the limit")

# --- forgotten passwords ---------------------------------------------------------------
sent = public.forgot_password(ClientId=client_id, Username=username)["CodeDeliveryDetails"]
assert sent == {"Destination": "k***@e***", "DeliveryMedium": "EMAIL", "AttributeName": "email"}, sent
reset_code = last_code(username)
new_password = "An0ther!Passw0rd"
expect_error("InvalidPasswordException", public.confirm_forgot_password, ClientId=client_id, Username=username,
             ConfirmationCode=reset_code, Password="weak")
expect_error("CodeMismatchException", public.confirm_forgot_password, ClientId=client_id, Username=username,
             ConfirmationCode=wrong(reset_code), Password=new_password)
public.confirm_forgot_password(ClientId=client_id, Username=username, ConfirmationCode=reset_code,
                               Password=new_password)
expect_error("ExpiredCodeException", public.confirm_forgot_password, ClientId=client_id, Username=username,
             ConfirmationCode=reset_code, Password=new_password)
expect_error("NotAuthorizedException", public.initiate_auth, ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH",
             AuthParameters={"USERNAME": username, "PASSWORD": password})
public.initiate_auth(ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH",
                     AuthParameters={"USERNAME": username, "PASSWORD": new_password})
print("ok - ForgotPassword / ConfirmForgotPassword replace the password once")

unverified = f"max-{suffix}"
public.sign_up(ClientId=client_id, Username=unverified, Password=password,
               UserAttributes=[{"Name": "email", "Value": f"max-{suffix}@example.com"}])
expect_error("InvalidParameterException", public.forgot_password, ClientId=client_id, Username=unverified)
expect_error("UserNotFoundException", public.forgot_password, ClientId=client_id, Username="nobody")
print("ok - no reset without a verified contact; unknown users")

# --- disabling and deleting --------------------------------------------------------------
def sign_in(name, secret):
    return public.initiate_auth(ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH",
                                AuthParameters={"USERNAME": name, "PASSWORD": secret})


admin.admin_disable_user(UserPoolId=pool_id, Username=username)
admin.admin_disable_user(UserPoolId=pool_id, Username=username)  # already disabled: no-op
assert admin.admin_get_user(UserPoolId=pool_id, Username=username)["Enabled"] is False
assert expect_error("NotAuthorizedException", sign_in, name=username, secret=new_password) == "User is disabled."
admin.admin_enable_user(UserPoolId=pool_id, Username=username)
sign_in(username, new_password)
print("ok - AdminDisableUser / AdminEnableUser")

admin.admin_delete_user(UserPoolId=pool_id, Username=username)
expect_error("UserNotFoundException", admin.admin_get_user, UserPoolId=pool_id, Username=username)
expect_error("UserNotFoundException", admin.admin_delete_user, UserPoolId=pool_id, Username=username)
again = public.sign_up(ClientId=client_id, Username=username, Password=password,
                       UserAttributes=[{"Name": "email", "Value": f"kim-{suffix}@example.com"}])
assert again["UserSub"] != signed_up["UserSub"]
print("ok - AdminDeleteUser frees the user name")

admin.admin_confirm_sign_up(UserPoolId=pool_id, Username=username)
tokens = sign_in(username, password)["AuthenticationResult"]
public.delete_user(AccessToken=tokens["AccessToken"])
expect_error("UserNotFoundException", admin.admin_get_user, UserPoolId=pool_id, Username=username)
assert expect_error("NotAuthorizedException", public.get_user,
                    AccessToken=tokens["AccessToken"]) == "User does not exist."
expect_error("NotAuthorizedException", public.delete_user, AccessToken=tokens["IdToken"])
print("ok - DeleteUser with the user's own access token")

# --- a client that hides which users exist ---------------------------------------------
hiding = admin.create_user_pool_client(
    UserPoolId=pool_id, ClientName="hiding", PreventUserExistenceErrors="ENABLED",
    ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"])["UserPoolClient"]["ClientId"]
decoy = public.resend_confirmation_code(ClientId=hiding, Username="nobody")["CodeDeliveryDetails"]
assert decoy == {"Destination": "n***@e***", "DeliveryMedium": "EMAIL", "AttributeName": "email"}, decoy
assert public.forgot_password(ClientId=hiding, Username="nobody")["CodeDeliveryDetails"] == decoy
expect_error("CodeMismatchException", public.confirm_sign_up, ClientId=hiding, Username="nobody",
             ConfirmationCode="123456")
expect_error("CodeMismatchException", public.confirm_forgot_password, ClientId=hiding, Username="nobody",
             ConfirmationCode="123456", Password=new_password)
assert expect_error("NotAuthorizedException", public.initiate_auth, ClientId=hiding, AuthFlow="USER_PASSWORD_AUTH",
                    AuthParameters={"USERNAME": "nobody", "PASSWORD": password}) == "Incorrect username or password."
print("ok - PreventUserExistenceErrors=ENABLED answers unknown users like known ones")
