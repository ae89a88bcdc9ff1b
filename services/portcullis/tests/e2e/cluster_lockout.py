"""A lockout and the code limits survive a Redis restart in a cluster. Two phases, run by
`a_lockout_survives_a_redis_restart` (tests/cluster.rs) around a SIGKILL and restart of
the cluster's Redis:

  cluster_lockout.py lock URL URL   creates a user, asks for five reset codes (the hour's
                                    limit) and fails to sign in until the lock lasts 16 s;
                                    prints one JSON line describing what it did
  cluster_lockout.py check JSON URL URL
                                    the right password is refused with "Password attempts
                                    exceeded" through every gateway, and a sixth reset
                                    code with LimitExceededException

Calls alternate between the gateway replicas. Admin credentials come from
AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY."""

import json
import sys
import time
import uuid

import boto3
import contract  # noqa: F401  (checks every answer against the model)
import botocore
from botocore.config import Config

REGION = "us-east-1"
PASSWORD = "Corr3ct-Horse-Battery!"
WRONG = "Wrong-Horse-Battery!"
LOCKED = "Password attempts exceeded"
# Five failures lock for 1 s, each further one doubles it: the ninth locks for 16 s,
# long enough to restart Redis and look.
FAILURES = 9
LOCK_SECONDS = 16


def client(url, signed=True):
    config = Config(retries={"max_attempts": 1})
    if not signed:
        config = config.merge(Config(signature_version=botocore.UNSIGNED))
    return boto3.client("cognito-idp", endpoint_url=url, region_name=REGION, config=config)


def error_of(call, **kwargs):
    try:
        call(**kwargs)
    except botocore.exceptions.ClientError as err:
        return (err.response["ResponseMetadata"]["HTTPStatusCode"],
                err.response["Error"]["Code"], err.response["Error"]["Message"])
    return None


def sign_in(public, state, password):
    return error_of(public.initiate_auth, ClientId=state["client"], AuthFlow="USER_PASSWORD_AUTH",
                    AuthParameters={"USERNAME": state["user"], "PASSWORD": password})


def lock(urls):
    admin = client(urls[0])
    publics = [client(url, signed=False) for url in urls]
    suffix = uuid.uuid4().hex[:8]
    pool = admin.create_user_pool(PoolName=f"lock-{suffix}")["UserPool"]["Id"]
    app = admin.create_user_pool_client(UserPoolId=pool, ClientName="app",
                                        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"]
                                        )["UserPoolClient"]["ClientId"]
    user = f"lou-{suffix}"
    admin.admin_create_user(UserPoolId=pool, Username=user, MessageAction="SUPPRESS",
                            UserAttributes=[{"Name": "email", "Value": f"{user}@example.com"},
                                            {"Name": "email_verified", "Value": "true"}])
    admin.admin_set_user_password(UserPoolId=pool, Username=user, Password=PASSWORD,
                                  Permanent=True)
    state = {"pool": pool, "client": app, "user": user}
    for n in range(5):
        publics[n % 2].forgot_password(ClientId=app, Username=user)
    failures = 0
    while failures < FAILURES:
        outcome = sign_in(publics[failures % 2], state, WRONG)
        if outcome is not None and outcome[2] == LOCKED:
            time.sleep(0.25)  # locked from the failure before: wait it out
            continue
        assert outcome == (400, "NotAuthorizedException", "Incorrect username or password."), outcome
        failures += 1
    state["locked_at"] = time.time()
    assert sign_in(publics[0], state, PASSWORD)[2] == LOCKED
    print(json.dumps(state), flush=True)


def check(state, urls):
    publics = [client(url, signed=False) for url in urls]
    for public in publics:
        # The first calls after the restart may meet a connection Redis dropped: retry
        # what failed on the server's side, never a definite answer.
        deadline = time.time() + 10
        while True:
            outcome = sign_in(public, state, PASSWORD)
            if outcome is None or outcome[0] < 500 or time.time() > deadline:
                break
            time.sleep(0.2)
        assert outcome == (400, "NotAuthorizedException", LOCKED), \
            f"the right password after the Redis restart: {outcome}"
    assert time.time() - state["locked_at"] < LOCK_SECONDS, \
        "too slow: the lock may have ended on its own, so this proves nothing"
    print("ok - the lock holds after Redis was killed and restarted", flush=True)
    outcome = error_of(publics[1].forgot_password, ClientId=state["client"], Username=state["user"])
    assert outcome == (400, "LimitExceededException",
                       "Attempt limit exceeded, please try after some time."), outcome
    print("ok - the code limit holds after the restart", flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "lock":
        lock(sys.argv[2:])
    else:
        check(json.loads(sys.argv[2]), sys.argv[3:])
