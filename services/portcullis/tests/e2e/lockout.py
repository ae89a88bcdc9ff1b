"""Lockout after failed sign-ins, through boto3: five failures are evaluated, then the
user is locked (1 s, doubling); a success resets; many parallel wrong passwords get no
more evaluations than the lockout allows. Usage: lockout.py URL"""

import concurrent.futures
import sys
import time
import uuid

import boto3
import contract  # noqa: F401  (checks every answer against the model)
import botocore
from botocore.config import Config

url = sys.argv[1]
config = Config(retries={"max_attempts": 1})
admin = boto3.client("cognito-idp", endpoint_url=url, region_name="us-east-1", config=config)


def public():
    return boto3.client("cognito-idp", endpoint_url=url, region_name="us-east-1",
                        config=config.merge(Config(signature_version=botocore.UNSIGNED)))


def sign_in(client, password):
    try:
        client.initiate_auth(ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH",
                             AuthParameters={"USERNAME": "lou", "PASSWORD": password})
        return "ok"
    except botocore.exceptions.ClientError as err:
        return err.response["Error"]["Message"]


pool_id = admin.create_user_pool(PoolName=f"lockout-{uuid.uuid4().hex[:8]}")["UserPool"]["Id"]
client_id = admin.create_user_pool_client(UserPoolId=pool_id, ClientName="app",
                                          ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"])["UserPoolClient"]["ClientId"]
admin.admin_create_user(UserPoolId=pool_id, Username="lou", MessageAction="SUPPRESS")
admin.admin_set_user_password(UserPoolId=pool_id, Username="lou", Password="L0ckout!Pass", Permanent=True)
client = public()

for _ in range(5):
    assert sign_in(client, "Wrong!Pass1") == "Incorrect username or password."
assert sign_in(client, "L0ckout!Pass") == "Password attempts exceeded"
time.sleep(1.2)
assert sign_in(client, "L0ckout!Pass") == "ok"
assert sign_in(client, "Wrong!Pass1") == "Incorrect username or password."
assert sign_in(client, "L0ckout!Pass") == "ok", "a success resets the count"
print("ok - five failures, then locked; the lock ends; a success resets")

# Parallel wrong passwords: the lockout decides how many are evaluated, not the race.
clients = [public() for _ in range(24)]
started = time.monotonic()
with concurrent.futures.ThreadPoolExecutor(max_workers=24) as pool:
    answers = list(pool.map(lambda c: sign_in(c, "Wrong!Pass2"), clients))
elapsed = time.monotonic() - started
evaluated = answers.count("Incorrect username or password.")
refused = answers.count("Password attempts exceeded")
# Locks of 1 s, 2 s, 4 s... after the fifth failure: each lock that ended within the
# burst allows one more evaluation.
allowed, lock, until = 5, 1.0, 0.0
while until + lock < elapsed:
    until += lock
    allowed += 1
    lock *= 2
assert evaluated <= allowed, (evaluated, allowed, elapsed, answers)
assert evaluated + refused == len(answers), answers
assert refused > 0, answers
print(f"ok - {len(answers)} parallel wrong passwords: {evaluated} evaluated (at most {allowed}), {refused} refused")
