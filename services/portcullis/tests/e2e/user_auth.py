"""USER_AUTH, choice-based sign-in, through boto3 (and pycognito for the SRP math):
SELECT_CHALLENGE with AvailableChallenges, a PREFERRED_CHALLENGE taken directly, the
choice answered as SELECT_CHALLENGE or by naming the factor, single-use sessions, the
client's ALLOW_USER_AUTH, a name that matches nobody answered like a user, and one-time
codes by email and SMS (read from the outbox) as the first factor.
Usage: user_auth.py URL OUTBOX_PATH"""

import json
import sys
import uuid

import boto3
import contract  # noqa: F401  (checks every answer against the model)
import botocore
import jwt
from botocore.config import Config
from pycognito.aws_srp import AWSSRP

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


def signed_in(response, username):
    auth = response["AuthenticationResult"]
    claims = jwt.decode(auth["IdToken"], options={"verify_signature": False})
    assert claims["cognito:username"] == username, claims
    assert auth["RefreshToken"] and auth["AccessToken"], auth


suffix = uuid.uuid4().hex[:8]
pool_id = admin.create_user_pool(
    PoolName=f"choice-{suffix}",
    Policies={"SignInPolicy": {"AllowedFirstAuthFactors": ["PASSWORD"]}})["UserPool"]["Id"]
client_id = admin.create_user_pool_client(
    UserPoolId=pool_id, ClientName="app", PreventUserExistenceErrors="ENABLED",
    ExplicitAuthFlows=["ALLOW_USER_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"])["UserPoolClient"]["ClientId"]
other_client = admin.create_user_pool_client(
    UserPoolId=pool_id, ClientName="classic",
    ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"])["UserPoolClient"]["ClientId"]
username, password = f"ann-{suffix}", "Corr3ct-Horse-Battery!"
admin.admin_create_user(UserPoolId=pool_id, Username=username, MessageAction="SUPPRESS")
admin.admin_set_user_password(UserPoolId=pool_id, Username=username, Password=password,
                              Permanent=True)


def start(name, **extra):
    return public.initiate_auth(ClientId=client_id, AuthFlow="USER_AUTH",
                                AuthParameters={"USERNAME": name, **extra})


# --- no preference: SELECT_CHALLENGE ------------------------------------------------------
choice = start(username)
assert choice["ChallengeName"] == "SELECT_CHALLENGE" and choice["Session"], choice
assert choice["AvailableChallenges"] == ["PASSWORD", "PASSWORD_SRP"], choice
signed_in(public.respond_to_auth_challenge(
    ClientId=client_id, ChallengeName="SELECT_CHALLENGE", Session=choice["Session"],
    ChallengeResponses={"USERNAME": username, "ANSWER": "PASSWORD", "PASSWORD": password}),
    username)
# The session was spent.
expect_error("NotAuthorizedException", public.respond_to_auth_challenge, ClientId=client_id,
             ChallengeName="SELECT_CHALLENGE", Session=choice["Session"],
             ChallengeResponses={"USERNAME": username, "ANSWER": "PASSWORD", "PASSWORD": password})
# The factor may be named directly under the session.
choice = start(username)
signed_in(public.respond_to_auth_challenge(
    ClientId=client_id, ChallengeName="PASSWORD", Session=choice["Session"],
    ChallengeResponses={"USERNAME": username, "PASSWORD": password}), username)
# A wrong password, and a factor that is not on offer.
choice = start(username)
assert expect_error("NotAuthorizedException", public.respond_to_auth_challenge, ClientId=client_id,
                    ChallengeName="SELECT_CHALLENGE", Session=choice["Session"],
                    ChallengeResponses={"USERNAME": username, "ANSWER": "PASSWORD",
                                        "PASSWORD": "Wrong-Horse-1!"}) == \
    "Incorrect username or password."
choice = start(username)
expect_error("InvalidParameterException", public.respond_to_auth_challenge, ClientId=client_id,
             ChallengeName="SELECT_CHALLENGE", Session=choice["Session"],
             ChallengeResponses={"USERNAME": username, "ANSWER": "EMAIL_OTP"})
print("ok - SELECT_CHALLENGE offers PASSWORD and PASSWORD_SRP and takes either form of answer")

# --- SRP chosen under the session ------------------------------------------------------------
srp = AWSSRP(username=username, password=password, pool_id=pool_id, client_id=client_id,
             client=public)
params = srp.get_auth_params()
choice = start(username)
verifier = public.respond_to_auth_challenge(
    ClientId=client_id, ChallengeName="SELECT_CHALLENGE", Session=choice["Session"],
    ChallengeResponses={"USERNAME": username, "ANSWER": "PASSWORD_SRP", "SRP_A": params["SRP_A"]})
assert verifier["ChallengeName"] == "PASSWORD_VERIFIER", verifier
answer = srp.process_challenge(verifier["ChallengeParameters"], params)
signed_in(public.respond_to_auth_challenge(
    ClientId=client_id, ChallengeName="PASSWORD_VERIFIER", Session=verifier["Session"],
    ChallengeResponses=answer), username)
print("ok - PASSWORD_SRP chosen from SELECT_CHALLENGE")

# --- a preferred challenge goes straight to it ---------------------------------------------
signed_in(start(username, PREFERRED_CHALLENGE="PASSWORD", PASSWORD=password), username)
params = srp.get_auth_params()
verifier = start(username, PREFERRED_CHALLENGE="PASSWORD_SRP", SRP_A=params["SRP_A"])
assert verifier["ChallengeName"] == "PASSWORD_VERIFIER", verifier
signed_in(public.respond_to_auth_challenge(
    ClientId=client_id, ChallengeName="PASSWORD_VERIFIER", Session=verifier["Session"],
    ChallengeResponses=srp.process_challenge(verifier["ChallengeParameters"], params)), username)
# A preference the user cannot have falls back to the choice.
fallback = start(username, PREFERRED_CHALLENGE="WEB_AUTHN")
assert fallback["ChallengeName"] == "SELECT_CHALLENGE", fallback
expect_error("InvalidParameterException", start, name=username, PREFERRED_CHALLENGE="TELEPATHY")
print("ok - PREFERRED_CHALLENGE")

# --- users the choice does not decide for ----------------------------------------------------
# A name that matches nobody gets the same offer and fails like a wrong password.
nobody = start(f"nobody-{suffix}")
assert nobody["ChallengeName"] == "SELECT_CHALLENGE", nobody
assert nobody["AvailableChallenges"] == ["PASSWORD", "PASSWORD_SRP"], nobody
assert expect_error("NotAuthorizedException", public.respond_to_auth_challenge, ClientId=client_id,
                    ChallengeName="SELECT_CHALLENGE", Session=nobody["Session"],
                    ChallengeResponses={"USERNAME": f"nobody-{suffix}", "ANSWER": "PASSWORD",
                                        "PASSWORD": password}) == "Incorrect username or password."
# A temporary password leads to NEW_PASSWORD_REQUIRED as in the other flows.
temp = f"tom-{suffix}"
admin.admin_create_user(UserPoolId=pool_id, Username=temp, TemporaryPassword="Temp-Passw0rd!",
                        MessageAction="SUPPRESS")
challenge = start(temp, PREFERRED_CHALLENGE="PASSWORD", PASSWORD="Temp-Passw0rd!")
assert challenge["ChallengeName"] == "NEW_PASSWORD_REQUIRED", challenge
signed_in(public.respond_to_auth_challenge(
    ClientId=client_id, ChallengeName="NEW_PASSWORD_REQUIRED", Session=challenge["Session"],
    ChallengeResponses={"USERNAME": temp, "NEW_PASSWORD": "Tom-New-Passw0rd!"}), temp)
# A client without ALLOW_USER_AUTH cannot use the flow.
expect_error("InvalidParameterException", public.initiate_auth, ClientId=other_client,
             AuthFlow="USER_AUTH", AuthParameters={"USERNAME": username})
print("ok - unknown names, temporary passwords and clients without the flow")

# --- one-time codes as the first factor ------------------------------------------------------
def last_code(name, channel):
    with open(outbox) as f:
        mine = [m for m in map(json.loads, filter(str.strip, f))
                if m["username"] == name and m["channel"] == channel]
    assert mine, f"no {channel} message for {name}"
    return mine[-1]["code"]


otp_pool = admin.create_user_pool(
    PoolName=f"otp-{suffix}", UserPoolTier="ESSENTIALS",
    Policies={"SignInPolicy": {"AllowedFirstAuthFactors": ["PASSWORD", "EMAIL_OTP", "SMS_OTP"]}},
)["UserPool"]["Id"]
otp_client = admin.create_user_pool_client(
    UserPoolId=otp_pool, ClientName="app",
    ExplicitAuthFlows=["ALLOW_USER_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"])["UserPoolClient"]["ClientId"]
olga = f"olga-{suffix}"
admin.admin_create_user(UserPoolId=otp_pool, Username=olga, MessageAction="SUPPRESS", UserAttributes=[
    {"Name": "email", "Value": f"{olga}@example.com"}, {"Name": "email_verified", "Value": "true"},
    {"Name": "phone_number", "Value": "+15555550100"},
    {"Name": "phone_number_verified", "Value": "true"}])
admin.admin_set_user_password(UserPoolId=otp_pool, Username=olga, Password=password, Permanent=True)


def otp_start(name, **extra):
    return public.initiate_auth(ClientId=otp_client, AuthFlow="USER_AUTH",
                                AuthParameters={"USERNAME": name, **extra})


choice = otp_start(olga)
assert choice["AvailableChallenges"] == ["PASSWORD", "PASSWORD_SRP", "EMAIL_OTP", "SMS_OTP"], choice
sent = public.respond_to_auth_challenge(
    ClientId=otp_client, ChallengeName="SELECT_CHALLENGE", Session=choice["Session"],
    ChallengeResponses={"USERNAME": olga, "ANSWER": "EMAIL_OTP"})
assert sent["ChallengeName"] == "EMAIL_OTP", sent
assert sent["ChallengeParameters"]["CODE_DELIVERY_DELIVERY_MEDIUM"] == "EMAIL", sent
code = last_code(olga, "email")
wrong = "000000" if code != "000000" else "111111"
expect_error("CodeMismatchException", public.respond_to_auth_challenge, ClientId=otp_client,
             ChallengeName="EMAIL_OTP", Session=sent["Session"],
             ChallengeResponses={"USERNAME": olga, "EMAIL_OTP_CODE": wrong})
signed_in(public.respond_to_auth_challenge(
    ClientId=otp_client, ChallengeName="EMAIL_OTP", Session=sent["Session"],
    ChallengeResponses={"USERNAME": olga, "EMAIL_OTP_CODE": code}), olga)
expect_error("NotAuthorizedException", public.respond_to_auth_challenge, ClientId=otp_client,
             ChallengeName="EMAIL_OTP", Session=sent["Session"],
             ChallengeResponses={"USERNAME": olga, "EMAIL_OTP_CODE": code})
sent = otp_start(olga, PREFERRED_CHALLENGE="SMS_OTP")
assert sent["ChallengeName"] == "SMS_OTP", sent
assert sent["ChallengeParameters"]["CODE_DELIVERY_DELIVERY_MEDIUM"] == "SMS", sent
signed_in(public.respond_to_auth_challenge(
    ClientId=otp_client, ChallengeName="SMS_OTP", Session=sent["Session"],
    ChallengeResponses={"USERNAME": olga, "SMS_OTP_CODE": last_code(olga, "sms")}), olga)
# Without a verified address there is no code to send.
admin.admin_update_user_attributes(UserPoolId=otp_pool, Username=olga, UserAttributes=[
    {"Name": "email_verified", "Value": "false"}])
assert otp_start(olga)["AvailableChallenges"] == ["PASSWORD", "PASSWORD_SRP", "SMS_OTP"]
print("ok - EMAIL_OTP and SMS_OTP as the first factor")
print("user_auth ok")
