"""One-time codes cannot be asked for without limit, and asking again buys no guesses:
ForgotPassword, ResendConfirmationCode, GetUserAttributeVerificationCode,
AdminResetUserPassword and EMAIL_OTP sign-in codes send at most five codes per user and
purpose an hour (then LimitExceededException, as Cognito answers, or
TooManyRequestsException where the operation's model has no such error); five wrong guesses an
hour per user and purpose, whatever was re-sent in between; and with
PreventUserExistenceErrors a name that matches nobody hits the same limit the same way.
Usage: security_codes.py URL OUTBOX_PATH"""

import json
import sys
import uuid

import botocore
import boto3
from botocore.config import Config

import e2e_common
from e2e_common import check, expect_error

url, outbox = sys.argv[1], sys.argv[2]
admin = e2e_common.idp()
public = boto3.client("cognito-idp", endpoint_url=url, region_name="us-east-1",
                      config=Config(retries={"max_attempts": 1},
                                    signature_version=botocore.UNSIGNED))
LIMIT = "Attempt limit exceeded, please try after some time."
# Codes per user and purpose an hour, and wrong guesses per user and purpose an hour.
MAX_CODES = 5
MAX_GUESSES = 5


def messages(username, kind=None):
    with open(outbox) as f:
        mine = [m for m in map(json.loads, filter(str.strip, f)) if m["username"] == username]
    return [m for m in mine if kind is None or m["kind"] == kind]


def last_code(username):
    mine = messages(username)
    assert mine, f"no message for {username}"
    return mine[-1]["code"]


def wrong(code):
    return "000000" if code != "000000" else "111111"


def limited(call, **kwargs):
    assert expect_error("LimitExceededException", call, **kwargs) == LIMIT


suffix = uuid.uuid4().hex[:8]
password = "Corr3ct-Horse-Battery!"
pool_id = admin.create_user_pool(
    PoolName=f"codes-{suffix}", AutoVerifiedAttributes=["email"], UserPoolTier="ESSENTIALS",
    Policies={"SignInPolicy": {"AllowedFirstAuthFactors": ["PASSWORD", "EMAIL_OTP"]}},
)["UserPool"]["Id"]
client_id = admin.create_user_pool_client(
    UserPoolId=pool_id, ClientName="app",
    ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_USER_AUTH",
                       "ALLOW_REFRESH_TOKEN_AUTH"])["UserPoolClient"]["ClientId"]
hiding_id = admin.create_user_pool_client(
    UserPoolId=pool_id, ClientName="hiding", PreventUserExistenceErrors="ENABLED",
    ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"])["UserPoolClient"]["ClientId"]


def user(name):
    admin.admin_create_user(UserPoolId=pool_id, Username=name, MessageAction="SUPPRESS",
                            UserAttributes=[{"Name": "email", "Value": f"{name}@example.com"},
                                            {"Name": "email_verified", "Value": "true"}])
    admin.admin_set_user_password(UserPoolId=pool_id, Username=name, Password=password,
                                  Permanent=True)
    return name


# --- ForgotPassword: five codes, then the limit --------------------------------------------
ana = user(f"ana-{suffix}")
for _ in range(MAX_CODES):
    public.forgot_password(ClientId=client_id, Username=ana)
limited(public.forgot_password, ClientId=client_id, Username=ana)
limited(public.forgot_password, ClientId=client_id, Username=ana)
assert len(messages(ana, "ForgotPassword")) == MAX_CODES, messages(ana)
# The administrator's reset sends the same kind of code, under the same limit.
limited(admin.admin_reset_user_password, UserPoolId=pool_id, Username=ana)
assert len(messages(ana)) == MAX_CODES, messages(ana)
# The last code sent still works, once.
public.confirm_forgot_password(ClientId=client_id, Username=ana, ConfirmationCode=last_code(ana),
                               Password="An0ther-Horse-Battery!")
check("ForgotPassword sends five codes an hour, then LimitExceededException")

# --- a new code does not buy new guesses -----------------------------------------------------
ben = user(f"ben-{suffix}")
public.forgot_password(ClientId=client_id, Username=ben)
first = last_code(ben)
for _ in range(MAX_GUESSES):
    expect_error("CodeMismatchException", public.confirm_forgot_password, ClientId=client_id,
                 Username=ben, ConfirmationCode=wrong(first), Password="An0ther-Horse-Battery!")
public.forgot_password(ClientId=client_id, Username=ben)
second = last_code(ben)
limited(public.confirm_forgot_password, ClientId=client_id, Username=ben,
        ConfirmationCode=second, Password="An0ther-Horse-Battery!")
# The password did not change.
public.initiate_auth(ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH",
                     AuthParameters={"USERNAME": ben, "PASSWORD": password})
check("five wrong guesses an hour, however many codes are asked for in between")

# --- ResendConfirmationCode --------------------------------------------------------------------
cleo = f"cleo-{suffix}"
public.sign_up(ClientId=client_id, Username=cleo, Password=password,
               UserAttributes=[{"Name": "email", "Value": f"{cleo}@example.com"}])
for _ in range(MAX_CODES - 1):  # SignUp sent the first
    public.resend_confirmation_code(ClientId=client_id, Username=cleo)
limited(public.resend_confirmation_code, ClientId=client_id, Username=cleo)
assert len(messages(cleo)) == MAX_CODES, messages(cleo)
first = last_code(cleo)
for _ in range(MAX_GUESSES):
    expect_error("CodeMismatchException", public.confirm_sign_up, ClientId=client_id,
                 Username=cleo, ConfirmationCode=wrong(first))
limited(public.confirm_sign_up, ClientId=client_id, Username=cleo, ConfirmationCode=first)
check("ResendConfirmationCode: five codes an hour, five guesses an hour")

# --- GetUserAttributeVerificationCode ----------------------------------------------------------
dora = user(f"dora-{suffix}")
access = public.initiate_auth(ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH",
                              AuthParameters={"USERNAME": dora, "PASSWORD": password}
                              )["AuthenticationResult"]["AccessToken"]
for _ in range(MAX_CODES):
    public.get_user_attribute_verification_code(AccessToken=access, AttributeName="email")
limited(public.get_user_attribute_verification_code, AccessToken=access, AttributeName="email")
assert len(messages(dora, "VerifyUserAttribute")) == MAX_CODES, messages(dora)
public.verify_user_attribute(AccessToken=access, AttributeName="email", Code=last_code(dora))
# A redeemed code shows the user receives them: the count starts again.
public.get_user_attribute_verification_code(AccessToken=access, AttributeName="email")
check("GetUserAttributeVerificationCode: five codes an hour, reset by a redeemed code")

# --- EMAIL_OTP sign-in codes ---------------------------------------------------------------------
eve = user(f"eve-{suffix}")


def otp_start():
    return public.initiate_auth(ClientId=client_id, AuthFlow="USER_AUTH",
                                AuthParameters={"USERNAME": eve, "PREFERRED_CHALLENGE": "EMAIL_OTP"})


for _ in range(MAX_CODES):
    sent = otp_start()
    assert sent["ChallengeName"] == "EMAIL_OTP", sent
# InitiateAuth's model has no LimitExceededException: the limit is TooManyRequests there.
assert expect_error("TooManyRequestsException", otp_start) == LIMIT
assert len(messages(eve)) == MAX_CODES, messages(eve)
check("EMAIL_OTP: five sign-in codes an hour")

# --- no oracle: an unknown name hits the same limit the same way --------------------------------
fay = user(f"fay-{suffix}")
nobody = f"nobody-{suffix}"
answers = {}
for name in (fay, nobody):
    for _ in range(MAX_CODES):
        sent = public.forgot_password(ClientId=hiding_id, Username=name)["CodeDeliveryDetails"]
        assert sent["DeliveryMedium"] == "EMAIL", sent
    try:
        public.forgot_password(ClientId=hiding_id, Username=name)
        raise AssertionError(f"{name}: the sixth ForgotPassword succeeded")
    except botocore.exceptions.ClientError as err:
        answers[name] = (err.response["ResponseMetadata"]["HTTPStatusCode"],
                         err.response["Error"]["Code"], err.response["Error"]["Message"])
assert answers[fay] == answers[nobody] == (400, "LimitExceededException", LIMIT), answers
# ResendConfirmationCode answers an unknown name as for an unconfirmed user, limit included.
for _ in range(MAX_CODES):
    public.resend_confirmation_code(ClientId=hiding_id, Username=f"{nobody}-2")
limited(public.resend_confirmation_code, ClientId=hiding_id, Username=f"{nobody}-2")
check("with PreventUserExistenceErrors an unknown name is limited like a user")
print("security_codes ok")
