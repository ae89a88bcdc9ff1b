"""MFA through boto3, pyotp and pycognito: the pool's MFA configuration (round trip,
validation), TOTP set up with an access token and during an MFA_SETUP challenge,
SetUserMFAPreference, sign-in challenges SOFTWARE_TOKEN_MFA, SMS_MFA, EMAIL_OTP and
SELECT_MFA_TYPE (codes read from the outbox), wrong and replayed codes, and a pycognito
SRP sign-in that answers SOFTWARE_TOKEN_MFA. Usage: mfa.py URL OUTBOX"""

import json
import sys
import time
import uuid

import boto3
import contract  # noqa: F401  (checks every answer against the model)
import botocore
import pyotp
from botocore.config import Config
from pycognito import Cognito
from pycognito.exceptions import SoftwareTokenMFAChallengeException

url, outbox = sys.argv[1], sys.argv[2]
config = Config(retries={"max_attempts": 1})
admin = boto3.client("cognito-idp", endpoint_url=url, region_name="us-east-1", config=config)
public = boto3.client("cognito-idp", endpoint_url=url, region_name="us-east-1",
                      config=config.merge(Config(signature_version=botocore.UNSIGNED)))
PASSWORD = "Mf4!Password"
SMS = {"SnsCallerArn": "arn:aws:iam::123456789012:role/sns", "ExternalId": "portcullis"}
EMAIL = {"EmailSendingAccount": "DEVELOPER", "From": "no-reply@example.com",
         "SourceArn": "arn:aws:ses:us-east-1:123456789012:identity/no-reply@example.com"}


def expect_error(code, call, *args, **kwargs):
    try:
        call(*args, **kwargs)
    except botocore.exceptions.ClientError as err:
        got = err.response["Error"]["Code"]
        assert got == code, f"expected {code}, got {got}: {err.response['Error'].get('Message')}"
        return err.response["Error"]["Message"]
    raise AssertionError(f"expected {code}, call succeeded")


def steady():
    """Keeps a test's TOTP codes inside one 30 s step: waits out the last seconds of one."""
    left = 30 - time.time() % 30
    if left < 4:
        time.sleep(left + 0.2)


def totp_code(secret, offset_steps=0):
    return pyotp.TOTP(secret).at(time.time() + 30 * offset_steps)


def pool(name, **kwargs):
    pool_id = admin.create_user_pool(PoolName=f"{name}-{uuid.uuid4().hex[:8]}", **kwargs)["UserPool"]["Id"]
    client_id = admin.create_user_pool_client(
        UserPoolId=pool_id, ClientName="app",
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_USER_SRP_AUTH",
                           "ALLOW_REFRESH_TOKEN_AUTH"])["UserPoolClient"]["ClientId"]
    return pool_id, client_id


def user(pool_id, username, **attributes):
    attrs = [{"Name": k, "Value": v} for k, v in attributes.items()]
    admin.admin_create_user(UserPoolId=pool_id, Username=username, MessageAction="SUPPRESS",
                            UserAttributes=attrs)
    admin.admin_set_user_password(UserPoolId=pool_id, Username=username, Password=PASSWORD,
                                  Permanent=True)


def sign_in(client_id, username):
    return public.initiate_auth(ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH",
                                AuthParameters={"USERNAME": username, "PASSWORD": PASSWORD})


def answer(client_id, challenge, session, **responses):
    return public.respond_to_auth_challenge(ClientId=client_id, ChallengeName=challenge,
                                            Session=session, ChallengeResponses=responses)


def last_message(username, channel):
    with open(outbox) as f:
        messages = [json.loads(line) for line in f if line.strip()]
    mine = [m for m in messages if m["username"] == username and m["channel"] == channel]
    assert mine, f"no {channel} message for {username} in the outbox"
    message = mine[-1]
    assert message["code"] in message["message"], message
    return message


def wrong(code):
    return "000000" if code != "000000" else "111111"


# --- The pool's MFA configuration ---------------------------------------------------
pool_a, client_a = pool("mfa-totp")
message = expect_error("InvalidParameterException", admin.set_user_pool_mfa_config,
                       UserPoolId=pool_a, MfaConfiguration="ON")
assert "can't disable all MFAs" in message, message
expect_error("InvalidParameterException", admin.set_user_pool_mfa_config, UserPoolId=pool_a,
             MfaConfiguration="OFF", SoftwareTokenMfaConfiguration={"Enabled": True})
expect_error("InvalidParameterException", admin.set_user_pool_mfa_config, UserPoolId=pool_a,
             MfaConfiguration="OPTIONAL", EmailMfaConfiguration={"Subject": "Code"})
expect_error("InvalidParameterException", admin.set_user_pool_mfa_config, UserPoolId=pool_a,
             MfaConfiguration="OPTIONAL", SoftwareTokenMfaConfiguration={"Enabled": True},
             WebAuthnConfiguration={"UserVerification": "sometimes"})
expect_error("ResourceNotFoundException", admin.get_user_pool_mfa_config,
             UserPoolId="us-east-1_doesNotExist")
configured = admin.set_user_pool_mfa_config(
    UserPoolId=pool_a, MfaConfiguration="OPTIONAL",
    SoftwareTokenMfaConfiguration={"Enabled": True},
    WebAuthnConfiguration={"RelyingPartyId": "auth.example.com", "UserVerification": "required"})
fetched = admin.get_user_pool_mfa_config(UserPoolId=pool_a)
for key in ("MfaConfiguration", "SoftwareTokenMfaConfiguration", "WebAuthnConfiguration"):
    assert configured[key] == fetched[key], (key, configured, fetched)
assert fetched["MfaConfiguration"] == "OPTIONAL"
assert fetched["SoftwareTokenMfaConfiguration"] == {"Enabled": True}
assert fetched["WebAuthnConfiguration"]["RelyingPartyId"] == "auth.example.com"
assert "SmsMfaConfiguration" not in fetched and "EmailMfaConfiguration" not in fetched
assert admin.describe_user_pool(UserPoolId=pool_a)["UserPool"]["MfaConfiguration"] == "OPTIONAL"
lite, _ = pool("mfa-lite", UserPoolTier="LITE", EmailConfiguration=EMAIL)
expect_error("FeatureUnavailableInTierException", admin.set_user_pool_mfa_config,
             UserPoolId=lite, MfaConfiguration="OPTIONAL", EmailMfaConfiguration={})
print("ok - SetUserPoolMfaConfig / GetUserPoolMfaConfig round trip and validation")

# --- TOTP with an access token, then SOFTWARE_TOKEN_MFA at sign-in --------------------
user(pool_a, "tina")
tokens = sign_in(client_a, "tina")["AuthenticationResult"]
access = tokens["AccessToken"]
message = expect_error("InvalidParameterException", public.set_user_mfa_preference,
                       AccessToken=access,
                       SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": True})
assert message == "User does not have delivery config set to turn on SOFTWARE_TOKEN_MFA", message
secret = public.associate_software_token(AccessToken=access)["SecretCode"]
assert len(secret) >= 16
steady()
expect_error("EnableSoftwareTokenMFAException", public.verify_software_token,
             AccessToken=access, UserCode=wrong(totp_code(secret, -1)))
verified = public.verify_software_token(AccessToken=access, UserCode=totp_code(secret, -1),
                                        FriendlyDeviceName="phone")
assert verified["Status"] == "SUCCESS" and "Session" not in verified, verified
public.set_user_mfa_preference(AccessToken=access,
                               SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": True})
me = public.get_user(AccessToken=access)
assert me["UserMFASettingList"] == ["SOFTWARE_TOKEN_MFA"], me
assert me["PreferredMfaSetting"] == "SOFTWARE_TOKEN_MFA", me
by_admin = admin.admin_get_user(UserPoolId=pool_a, Username="tina")
assert by_admin["UserMFASettingList"] == ["SOFTWARE_TOKEN_MFA"], by_admin
factors = public.get_user_auth_factors(AccessToken=access)
assert factors["Username"] == "tina" and factors["PreferredMfaSetting"] == "SOFTWARE_TOKEN_MFA"
assert factors["UserMFASettingList"] == ["SOFTWARE_TOKEN_MFA"]
assert "PASSWORD" in factors["ConfiguredUserAuthFactors"], factors
admin_factors = admin.admin_get_user_auth_factors(UserPoolId=pool_a, Username="tina")
assert admin_factors["UserMFASettingList"] == ["SOFTWARE_TOKEN_MFA"], admin_factors

challenge = sign_in(client_a, "tina")
assert challenge["ChallengeName"] == "SOFTWARE_TOKEN_MFA", challenge
assert "AuthenticationResult" not in challenge
code = totp_code(secret)
result = answer(client_a, "SOFTWARE_TOKEN_MFA", challenge["Session"], USERNAME="tina",
                SOFTWARE_TOKEN_MFA_CODE=code)
assert result["AuthenticationResult"]["AccessToken"], result
print("ok - AssociateSoftwareToken / VerifySoftwareToken with an access token; SOFTWARE_TOKEN_MFA signs in")

challenge = sign_in(client_a, "tina")
session = challenge["Session"]
message = expect_error("CodeMismatchException", answer, client_a, "SOFTWARE_TOKEN_MFA", session,
                       USERNAME="tina", SOFTWARE_TOKEN_MFA_CODE=wrong(totp_code(secret, 1)))
assert message == "Invalid code or auth state for the user.", message
expect_error("CodeMismatchException", answer, client_a, "SOFTWARE_TOKEN_MFA", session,
             USERNAME="tina", SOFTWARE_TOKEN_MFA_CODE=code)  # replayed
result = answer(client_a, "SOFTWARE_TOKEN_MFA", session, USERNAME="tina",
                SOFTWARE_TOKEN_MFA_CODE=totp_code(secret, 1))
assert result["AuthenticationResult"]["IdToken"]
message = expect_error("NotAuthorizedException", answer, client_a, "SOFTWARE_TOKEN_MFA", session,
                       USERNAME="tina", SOFTWARE_TOKEN_MFA_CODE=totp_code(secret, 1))
assert message == "Invalid session for the user, session is expired.", message
print("ok - a wrong code and a replayed code are refused, the session takes a retry, then is spent")

# --- pycognito SRP sign-in answering SOFTWARE_TOKEN_MFA -----------------------------
user(pool_a, "sam")
access = sign_in(client_a, "sam")["AuthenticationResult"]["AccessToken"]
sam_secret = public.associate_software_token(AccessToken=access)["SecretCode"]
steady()
public.verify_software_token(AccessToken=access, UserCode=totp_code(sam_secret, -1))
admin.admin_set_user_mfa_preference(UserPoolId=pool_a, Username="sam",
                                    SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": True})
sam = Cognito(pool_a, client_a, username="sam",
              boto3_client_kwargs={"endpoint_url": url, "region_name": "us-east-1",
                                   "config": config.merge(Config(signature_version=botocore.UNSIGNED))})
try:
    sam.authenticate(password=PASSWORD)
    raise AssertionError("SRP sign-in did not ask for the TOTP code")
except SoftwareTokenMFAChallengeException:
    pass
sam.respond_to_software_token_mfa_challenge(totp_code(sam_secret))
assert sam.access_token and sam.id_token
print("ok - pycognito USER_SRP_AUTH answers SOFTWARE_TOKEN_MFA")

# --- MFA ON: MFA_SETUP with the session form ------------------------------------------
pool_b, client_b = pool("mfa-on")
admin.set_user_pool_mfa_config(UserPoolId=pool_b, MfaConfiguration="ON",
                               SoftwareTokenMfaConfiguration={"Enabled": True})
user(pool_b, "una")
setup = sign_in(client_b, "una")
assert setup["ChallengeName"] == "MFA_SETUP", setup
assert json.loads(setup["ChallengeParameters"]["MFAS_CAN_SETUP"]) == ["SOFTWARE_TOKEN_MFA"], setup
associated = public.associate_software_token(Session=setup["Session"])
una_secret = associated["SecretCode"]
steady()
expect_error("EnableSoftwareTokenMFAException", public.verify_software_token,
             Session=associated["Session"], UserCode=wrong(totp_code(una_secret, -1)))
verified = public.verify_software_token(Session=associated["Session"],
                                        UserCode=totp_code(una_secret, -1))
assert verified["Status"] == "SUCCESS" and verified["Session"], verified
expect_error("NotAuthorizedException", answer, client_b, "MFA_SETUP", setup["Session"],
             USERNAME="una")  # the first session was spent by AssociateSoftwareToken
done = answer(client_b, "MFA_SETUP", verified["Session"], USERNAME="una")
assert done["AuthenticationResult"]["AccessToken"], done
me = public.get_user(AccessToken=done["AuthenticationResult"]["AccessToken"])
assert me["UserMFASettingList"] == ["SOFTWARE_TOKEN_MFA"], me
again = sign_in(client_b, "una")
assert again["ChallengeName"] == "SOFTWARE_TOKEN_MFA", again
result = answer(client_b, "SOFTWARE_TOKEN_MFA", again["Session"], USERNAME="una",
                SOFTWARE_TOKEN_MFA_CODE=totp_code(una_secret))
assert result["AuthenticationResult"]["AccessToken"]
print("ok - MFA ON: MFA_SETUP through AssociateSoftwareToken / VerifySoftwareToken with the session")

# --- SMS_MFA, EMAIL_OTP and SELECT_MFA_TYPE ------------------------------------------
pool_c, client_c = pool("mfa-codes", SmsConfiguration=SMS, EmailConfiguration=EMAIL,
                        UserPoolTier="ESSENTIALS")
configured = admin.set_user_pool_mfa_config(
    UserPoolId=pool_c, MfaConfiguration="OPTIONAL",
    SmsMfaConfiguration={"SmsAuthenticationMessage": "Sign-in code {####}"},
    EmailMfaConfiguration={"Message": "Your sign-in code is {####}", "Subject": "Sign-in code"})
assert configured["SmsMfaConfiguration"]["SmsAuthenticationMessage"] == "Sign-in code {####}"
assert configured["EmailMfaConfiguration"]["Subject"] == "Sign-in code", configured
user(pool_c, "cleo", email="cleo@example.com", email_verified="true",
     phone_number="+15555550123", phone_number_verified="true")
user(pool_c, "nophone", email="np@example.com")
expect_error("InvalidParameterException", admin.admin_set_user_mfa_preference,
             UserPoolId=pool_c, Username="nophone", SMSMfaSettings={"Enabled": True})
admin.admin_set_user_mfa_preference(UserPoolId=pool_c, Username="cleo",
                                    SMSMfaSettings={"Enabled": True, "PreferredMfa": True})
challenge = sign_in(client_c, "cleo")
assert challenge["ChallengeName"] == "SMS_MFA", challenge
params = challenge["ChallengeParameters"]
assert params["CODE_DELIVERY_DELIVERY_MEDIUM"] == "SMS", params
assert params["CODE_DELIVERY_DESTINATION"].endswith("0123") and "5555550" not in params["CODE_DELIVERY_DESTINATION"]
sms = last_message("cleo", "sms")
assert sms["message"] == f"Sign-in code {sms['code']}", sms
expect_error("CodeMismatchException", answer, client_c, "SMS_MFA", challenge["Session"],
             USERNAME="cleo", SMS_MFA_CODE=wrong(sms["code"]))
result = answer(client_c, "SMS_MFA", challenge["Session"], USERNAME="cleo", SMS_MFA_CODE=sms["code"])
assert result["AuthenticationResult"]["AccessToken"]
print("ok - SMS_MFA: masked destination, code from the outbox, a wrong code refused")

admin.admin_set_user_mfa_preference(UserPoolId=pool_c, Username="cleo",
                                    SMSMfaSettings={"Enabled": True, "PreferredMfa": False},
                                    EmailMfaSettings={"Enabled": True, "PreferredMfa": False})
factors = admin.admin_get_user_auth_factors(UserPoolId=pool_c, Username="cleo")
assert factors["UserMFASettingList"] == ["SMS_MFA", "EMAIL_OTP"], factors
assert "PreferredMfaSetting" not in factors, factors
choose = sign_in(client_c, "cleo")
assert choose["ChallengeName"] == "SELECT_MFA_TYPE", choose
assert json.loads(choose["ChallengeParameters"]["MFAS_CAN_CHOOSE"]) == ["SMS_MFA", "EMAIL_OTP"]
expect_error("InvalidParameterException", answer, client_c, "SELECT_MFA_TYPE", choose["Session"],
             USERNAME="cleo", ANSWER="SOFTWARE_TOKEN_MFA")
choose = sign_in(client_c, "cleo")
email_challenge = answer(client_c, "SELECT_MFA_TYPE", choose["Session"], USERNAME="cleo",
                         ANSWER="EMAIL_OTP")
assert email_challenge["ChallengeName"] == "EMAIL_OTP", email_challenge
assert email_challenge["ChallengeParameters"]["CODE_DELIVERY_DELIVERY_MEDIUM"] == "EMAIL"
mail = last_message("cleo", "email")
assert mail["subject"] == "Sign-in code" and mail["message"] == f"Your sign-in code is {mail['code']}"
result = answer(client_c, "EMAIL_OTP", email_challenge["Session"], USERNAME="cleo",
                EMAIL_OTP_CODE=mail["code"])
assert result["AuthenticationResult"]["AccessToken"]
expect_error("NotAuthorizedException", answer, client_c, "EMAIL_OTP", email_challenge["Session"],
             USERNAME="cleo", EMAIL_OTP_CODE=mail["code"])
print("ok - SELECT_MFA_TYPE offers both factors; EMAIL_OTP with the code from the outbox")
