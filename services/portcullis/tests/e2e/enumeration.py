"""User-existence protection: with PreventUserExistenceErrors ENABLED, a user who does not
exist gets the same answers as one who does, on password sign-in, SRP sign-in (challenge
and answer) and the code flows, and the server spends about as long on each. The timing
check compares medians of interleaved calls with a wide margin: what it catches is a
path that skips the expensive step (argon2id, the SRP exponentiations, code delivery),
which makes a difference of several times, not the noise of a busy machine.
Usage: enumeration.py URL"""

import statistics
import sys
import time
import uuid

import boto3
import contract  # noqa: F401  (checks every answer against the model)
import botocore
from botocore.config import Config
from pycognito.aws_srp import AWSSRP

url = sys.argv[1]
config = Config(retries={"max_attempts": 1})
admin = boto3.client("cognito-idp", endpoint_url=url, region_name="us-east-1", config=config)
public = boto3.client("cognito-idp", endpoint_url=url, region_name="us-east-1",
                      config=config.merge(Config(signature_version=botocore.UNSIGNED)))

ROUNDS = 9
# The unknown user's median must be within this factor of the known user's.
MARGIN = 2.5


def error_of(call, *args, **kwargs):
    """(code, message) of a call that must fail."""
    try:
        call(*args, **kwargs)
    except botocore.exceptions.ClientError as err:
        assert err.response["ResponseMetadata"]["HTTPStatusCode"] < 500, err.response
        return err.response["Error"]["Code"], err.response["Error"]["Message"]
    raise AssertionError("the call succeeded")


def timed(call, *args, **kwargs):
    started = time.perf_counter()
    outcome = call(*args, **kwargs)
    return time.perf_counter() - started, outcome


def similar(name, known, unknown):
    k, u = statistics.median(known), statistics.median(unknown)
    ratio = u / k
    print(f"{name}: known {k * 1000:.1f} ms, unknown {u * 1000:.1f} ms (x{ratio:.2f})")
    assert 1 / MARGIN < ratio < MARGIN, f"{name}: unknown users answered x{ratio:.2f} as fast"


suffix = uuid.uuid4().hex[:8]
pool_id = admin.create_user_pool(PoolName=f"enum-{suffix}",
                                 AutoVerifiedAttributes=["email"])["UserPool"]["Id"]
client_id = admin.create_user_pool_client(
    UserPoolId=pool_id, ClientName="hiding", PreventUserExistenceErrors="ENABLED",
    ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_USER_SRP_AUTH",
                       "ALLOW_REFRESH_TOKEN_AUTH"])["UserPoolClient"]["ClientId"]
known, password = f"known-{suffix}", "Corr3ct-Horse-Battery!"
unknown = f"nobody-{suffix}"
admin.admin_create_user(UserPoolId=pool_id, Username=known, MessageAction="SUPPRESS",
                        UserAttributes=[{"Name": "email", "Value": f"{known}@example.com"},
                                        {"Name": "email_verified", "Value": "true"}])
admin.admin_set_user_password(UserPoolId=pool_id, Username=known, Password=password,
                              Permanent=True)
# Codes are limited per user (five an hour): the timing rounds ask for one each for a
# known user of their own, as they do for an unknown name of their own.
for round_ in range(ROUNDS):
    admin.admin_create_user(UserPoolId=pool_id, Username=f"{known}-{round_}",
                            MessageAction="SUPPRESS",
                            UserAttributes=[{"Name": "email", "Value": f"{known}-{round_}@example.com"},
                                            {"Name": "email_verified", "Value": "true"}])


def password_auth(username, secret):
    return public.initiate_auth(ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH",
                                AuthParameters={"USERNAME": username, "PASSWORD": secret})


def srp_start(username, secret):
    client = AWSSRP(username=username, password=secret, pool_id=pool_id, client_id=client_id,
                    client=public)
    params = client.get_auth_params()
    return client, params, public.initiate_auth(ClientId=client_id, AuthFlow="USER_SRP_AUTH",
                                                AuthParameters=params)


def srp_answer(client, params, start):
    answer = client.process_challenge(start["ChallengeParameters"], params)
    return public.respond_to_auth_challenge(ClientId=client_id, ChallengeName="PASSWORD_VERIFIER",
                                            Session=start["Session"], ChallengeResponses=answer)


# --- the same answers ------------------------------------------------------------------
wrong = "Wrong-Horse-Battery!"
assert error_of(password_auth, username=known, secret=wrong) == \
    error_of(password_auth, username=unknown, secret=wrong)
_, _, real = srp_start(known, wrong)
_, _, decoy = srp_start(unknown, wrong)
assert real["ChallengeName"] == decoy["ChallengeName"] == "PASSWORD_VERIFIER"
for name in ("SALT", "SRP_B", "SECRET_BLOCK", "USER_ID_FOR_SRP", "USERNAME"):
    assert name in real["ChallengeParameters"] and name in decoy["ChallengeParameters"], name
assert abs(len(real["ChallengeParameters"]["SALT"]) - len(decoy["ChallengeParameters"]["SALT"])) <= 2
assert error_of(srp_answer, *srp_start(known, wrong)) == \
    error_of(srp_answer, *srp_start(unknown, wrong)) == \
    ("NotAuthorizedException", "Incorrect username or password.")
sent = public.forgot_password(ClientId=client_id, Username=known)["CodeDeliveryDetails"]
faked = public.forgot_password(ClientId=client_id, Username=unknown)["CodeDeliveryDetails"]
assert sent["DeliveryMedium"] == faked["DeliveryMedium"] == "EMAIL", (sent, faked)
assert sent["AttributeName"] == faked["AttributeName"] == "email", (sent, faked)
assert error_of(public.confirm_forgot_password, ClientId=client_id, Username=known,
                ConfirmationCode="000000", Password=password)[0] == \
    error_of(public.confirm_forgot_password, ClientId=client_id, Username=unknown,
             ConfirmationCode="000000", Password=password)[0] == "CodeMismatchException"
password_auth(known, password)  # a success forgets the failures so far
print("ok - unknown users get the answers known users get")

# --- about the same time -----------------------------------------------------------------
samples = {key: {"known": [], "unknown": []} for key in ("password", "srp_start", "srp_answer", "forgot")}
for round_ in range(ROUNDS):
    # Alternate which goes first, so neither always follows the other.
    # A new unknown name each round: like the known user's, its failures stay below
    # the lock (the known user's are reset by the success below).
    order = [(known, "known"), (f"{unknown}-{round_}", "unknown")]
    if round_ % 2:
        order.reverse()
    for username, who in order:
        took, _ = timed(error_of, password_auth, username, wrong)
        samples["password"][who].append(took)
        started = time.perf_counter()
        client, params, start = srp_start(username, wrong)
        samples["srp_start"][who].append(time.perf_counter() - started)
        took, _ = timed(error_of, srp_answer, client, params, start)
        samples["srp_answer"][who].append(took)
        forgetful = f"{known}-{round_}" if who == "known" else username
        took, _ = timed(public.forgot_password, ClientId=client_id, Username=forgetful)
        samples["forgot"][who].append(took)
    # Two failures per round: sign in rightly so the known user never reaches the lock.
    password_auth(known, password)
for name, by in samples.items():
    similar(name, by["known"], by["unknown"])
print("ok - unknown users take about as long as known ones")

# --- and the same lock ----------------------------------------------------------------------
locked = []
for username in (known, f"{unknown}-locked"):
    for _ in range(5):
        assert error_of(password_auth, username, wrong)[1] == "Incorrect username or password."
    locked.append(error_of(password_auth, username, password))
assert locked[0] == locked[1] == ("NotAuthorizedException", "Password attempts exceeded"), locked
print("ok - five failures lock an unknown name as they lock a user")
print("enumeration ok")
