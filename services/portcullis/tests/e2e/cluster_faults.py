"""A sign-up workload for fault tests on a cluster, and its verdict.

Usage: cluster_faults.py --users N --verify-url URL URL [URL...]

Creates a pool and a client, then signs up N users (unsigned SignUp, a few at a time),
each first against the next gateway URL in turn. A call that fails for a reason that
is not the caller's fault (connection refused or reset, timeout, 5xx) is retried
against the other gateways until it gets a definite answer:
  - 200: the sign-up is *acknowledged*; its UserSub is recorded;
  - UsernameExistsException after an earlier failed attempt: an unacknowledged attempt
    did land (allowed: the client never heard back);
  - anything else: the script fails.
Prints `acked <n>` after every acknowledgement (so a driver can inject faults mid-run)
and `workload done` at the end of the workload.

Then, against --verify-url (a gateway whose peers survived):
  - an ambiguous user name whose user does not exist is an orphaned claim (the attempt
    claimed the name but its user was never written); it must be signed up again, and
    acknowledged, once the directory's 30 s orphan grace period has passed;
  - every acknowledged user exists, with the UserSub it was acknowledged with (lost = 0);
  - every other user name whose sign-up was ambiguous exists;
  - the pool's EstimatedNumberOfUsers (one per UserSignedUp event) equals the number
    of distinct user names that exist, so no user name was signed up twice.
The last line is a JSON summary. Exits non-zero on the first failed check. Admin
credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY.
"""

import argparse
import json
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import boto3
import contract  # noqa: F401  (checks every answer against the model)
import botocore
from botocore.config import Config

REGION = "us-east-1"
PASSWORD = "Correct-Horse-42!"
# How long one sign-up may keep retrying before the workload gives up on the cluster.
PER_CALL_DEADLINE = 60.0
# The directory's ORPHAN_CLAIM_GRACE_MS: how old a claim without a user must be before
# another sign-up may take the name over.
ORPHAN_GRACE = 30.0
WORKERS = 4

args = None
print_lock = threading.Lock()
_clients = {}
_clients_lock = threading.Lock()


def say(line):
    with print_lock:
        print(line, flush=True)


def client(url, signed):
    """One boto3 client per (url, signed, thread): clients are not shared across threads."""
    key = (url, signed, threading.get_ident())
    with _clients_lock:
        found = _clients.get(key)
    if found is not None:
        return found
    # One attempt per call: botocore's own retry (its "max_attempts" counts retries)
    # would resend a sign-up whose first attempt failed without this script knowing,
    # and that attempt's claim would then look like someone else's.
    config = Config(retries={"total_max_attempts": 1}, connect_timeout=2, read_timeout=15)
    if not signed:
        config = config.merge(Config(signature_version=botocore.UNSIGNED))
    made = boto3.client("cognito-idp", endpoint_url=url, region_name=REGION, config=config)
    with _clients_lock:
        _clients[key] = made
    return made


def transient(err):
    """Whether a failed call may be retried elsewhere: no definite answer was given."""
    if isinstance(err, botocore.exceptions.ClientError):
        status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        code = err.response.get("Error", {}).get("Code", "")
        return status >= 500 or code in ("ServiceUnavailable", "ThrottlingException")
    return isinstance(err, (botocore.exceptions.EndpointConnectionError,
                            botocore.exceptions.ConnectionClosedError,
                            botocore.exceptions.ReadTimeoutError,
                            botocore.exceptions.ConnectTimeoutError,
                            botocore.exceptions.HTTPClientError))


def describe(err):
    if isinstance(err, botocore.exceptions.ClientError):
        return f"{err.response['Error'].get('Code')}: {err.response['Error'].get('Message')}"
    return f"{type(err).__name__}: {err}"


def with_failover(urls, signed, call, first=0, deadline=PER_CALL_DEADLINE):
    """Calls call(client) on urls[first], then the others in turn while the failure is
    transient. Returns (result, failed_attempts); raises the last definite error."""
    start = time.monotonic()
    failures = []
    attempt = 0
    while True:
        url = urls[(first + attempt) % len(urls)]
        attempt += 1
        try:
            return call(client(url, signed)), failures
        except Exception as err:  # noqa: BLE001 - classified below
            if not transient(err):
                err.failures = failures
                raise
            failures.append(f"{url}: {describe(err)}")
            if time.monotonic() - start > deadline:
                raise AssertionError(f"no definite answer after {deadline}s: {failures[-5:]}") from err
            time.sleep(min(0.05 * attempt, 0.5))


def main():
    global args
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=150)
    parser.add_argument("--verify-url", required=True)
    parser.add_argument("urls", nargs="+")
    args = parser.parse_args()
    urls = args.urls
    suffix = uuid.uuid4().hex[:8]

    pool_id, _ = with_failover(urls, True, lambda c: c.create_user_pool(
        PoolName=f"faults-{suffix}")["UserPool"]["Id"])
    client_id, _ = with_failover(urls, True, lambda c: c.create_user_pool_client(
        UserPoolId=pool_id, ClientName="faults")["UserPoolClient"]["ClientId"])
    say(f"pool {pool_id} client {client_id}")

    acked = {}  # user name -> UserSub of the acknowledged sign-up
    # User name -> when a retry was answered UsernameExistsException: an earlier,
    # unacknowledged attempt at least claimed the name.
    ambiguous = {}
    retried = 0
    state_lock = threading.Lock()

    def sign_up(i):
        nonlocal retried
        username = f"user-{suffix}-{i:04d}"
        try:
            result, failures = with_failover(urls, False, lambda c: c.sign_up(
                ClientId=client_id, Username=username, Password=PASSWORD,
                UserAttributes=[{"Name": "email", "Value": f"{username}@example.com"}]),
                first=i % len(urls))
        except botocore.exceptions.ClientError as err:
            failures = getattr(err, "failures", [])
            if err.response["Error"]["Code"] == "UsernameExistsException" and failures:
                with state_lock:
                    ambiguous[username] = time.monotonic()
                    retried += 1
                return
            raise AssertionError(f"sign-up of {username} refused: {describe(err)} "
                                 f"(after failures {failures})") from err
        with state_lock:
            acked[username] = result["UserSub"]
            if failures:
                retried += 1
            count = len(acked)
        say(f"acked {count}")

    executor = ThreadPoolExecutor(max_workers=WORKERS)
    try:
        for future in [executor.submit(sign_up, i) for i in range(args.users)]:
            future.result()
    finally:
        executor.shutdown(wait=True, cancel_futures=True)
    say("workload done")

    # --- verdict, on the surviving gateway only ------------------------------------------
    admin = client(args.verify_url, True)

    def exists_now(username):
        try:
            admin.admin_get_user(UserPoolId=pool_id, Username=username)
            return True
        except botocore.exceptions.ClientError as err:
            if err.response["Error"]["Code"] != "UserNotFoundException":
                raise
            return False

    # An ambiguous name whose user does not exist is an orphaned claim: the attempt
    # claimed the name, then its process died (or the log was unavailable) before the
    # user's first event was appended, and the claim could not be released. The
    # directory lets the next sign-up take such a claim over once it is older than its
    # grace period (30 s): check that each one is signed up again by then.
    orphaned = sorted(name for name in ambiguous if not exists_now(name))
    say(f"orphaned claims {len(orphaned)}")
    for username in orphaned:
        deadline = ambiguous[username] + ORPHAN_GRACE + 30
        while True:
            try:
                result, _ = with_failover(urls, False, lambda c: c.sign_up(
                    ClientId=client_id, Username=username, Password=PASSWORD,
                    UserAttributes=[{"Name": "email", "Value": f"{username}@example.com"}]),
                    first=urls.index(args.verify_url) if args.verify_url in urls else 0)
            except botocore.exceptions.ClientError as err:
                if err.response["Error"]["Code"] != "UsernameExistsException":
                    raise
                if getattr(err, "failures", []) and exists_now(username):
                    break  # an unacknowledged attempt of this very loop landed
                assert time.monotonic() < deadline, (
                    f"the orphaned claim of {username} was not released within "
                    f"{ORPHAN_GRACE + 30}s")
                time.sleep(1)
                continue
            acked[username] = result["UserSub"]
            del ambiguous[username]
            break
    say("orphaned claims taken over")

    lost, mismatched, exists = [], [], set()
    for i in range(args.users):
        username = f"user-{suffix}-{i:04d}"
        try:
            user = admin.admin_get_user(UserPoolId=pool_id, Username=username)
        except botocore.exceptions.ClientError as err:
            if err.response["Error"]["Code"] != "UserNotFoundException":
                raise
            if username in acked:
                lost.append(username)
            continue
        exists.add(username)
        sub = {a["Name"]: a["Value"] for a in user["UserAttributes"]}["sub"]
        if username in acked and sub != acked[username]:
            mismatched.append((username, acked[username], sub))
    assert not lost, f"acknowledged sign-ups lost: {lost}"
    assert not mismatched, f"user names answered with another UserSub: {mismatched}"
    missing_ambiguous = sorted(set(ambiguous) - exists)
    assert not missing_ambiguous, f"UsernameExists answered but no such user: {missing_ambiguous}"

    # One UserSignedUp event per user: more events than user names means a name was
    # signed up twice. The count may lag the log for a moment, never lead it.
    deadline = time.monotonic() + 15
    while True:
        counted = admin.describe_user_pool(UserPoolId=pool_id)["UserPool"]["EstimatedNumberOfUsers"]
        assert counted <= len(exists), (
            f"{counted} users signed up for {len(exists)} distinct user names: duplicates")
        if counted == len(exists) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert counted == len(exists), (
        f"the pool counts {counted} users but {len(exists)} exist: the read model of the "
        f"directory replica behind {args.verify_url} stopped following the log (so this run "
        f"cannot tell whether a user name was signed up twice)")

    print(json.dumps({"users": args.users, "acked": len(acked), "ambiguous": len(ambiguous),
                      "orphaned": len(orphaned),
                      "retried": retried, "exist": len(exists), "counted": counted,
                      "lost": len(lost), "duplicates": counted - len(exists)}), flush=True)


if __name__ == "__main__":
    main()
