"""Password hashes brought from another system, black-box: hashes made by the reference
libraries (bcrypt, argon2-cffi, Python's own scrypt and PBKDF2) and the forms exporters
write (Django, passlib, a Keycloak credential) are set with AdminSetUserPasswordHash; the
users sign in with their passwords, and after that first sign-in also with SRP. The same
hashes imported by a CSV import job, in the extra `cognito:password_hash` column.

Argument: the server's URL."""

import base64
import csv
import hashlib
import io
import json
import os
import time
import urllib.request

import argon2
import bcrypt
import boto3
import botocore.auth
import botocore.awsrequest
from e2e_common import REGION, URL, check, expect_error, idp, send
from pycognito.aws_srp import AWSSRP

PASSWORD = "Imported-Secret-7"


def set_hash(pool_id, username, password_hash, permanent=True):
    """AdminSetUserPasswordHash, signed as botocore signs Cognito's operations."""
    body = {"UserPoolId": pool_id, "Username": username, "PasswordHash": password_hash,
            "Permanent": permanent}
    request = botocore.awsrequest.AWSRequest(
        method="POST", url=URL + "/", data=json.dumps(body).encode(),
        headers={"Content-Type": "application/x-amz-json-1.1",
                 "X-Amz-Target": "AWSCognitoIdentityProviderService.AdminSetUserPasswordHash"})
    credentials = boto3.session.Session().get_credentials()
    botocore.auth.SigV4Auth(credentials, "cognito-idp", REGION).add_auth(request)
    return send(request)


def signs_in_only_with_the_password(cognito, client_id, name):
    expect_error("NotAuthorizedException", cognito.initiate_auth, ClientId=client_id,
                 AuthFlow="USER_PASSWORD_AUTH",
                 AuthParameters={"USERNAME": name, "PASSWORD": PASSWORD + "!"})
    tokens = cognito.initiate_auth(
        ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": name, "PASSWORD": PASSWORD})["AuthenticationResult"]
    assert tokens["AccessToken"], name


def b64(data):
    return base64.b64encode(data).decode()


def main():
    cognito = idp()
    pool_id = cognito.create_user_pool(PoolName="imported")["UserPool"]["Id"]
    client_id = cognito.create_user_pool_client(
        UserPoolId=pool_id, ClientName="app",
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_USER_SRP_AUTH",
                           "ALLOW_REFRESH_TOKEN_AUTH"])["UserPoolClient"]["ClientId"]

    salt = os.urandom(16)
    pbkdf2 = hashlib.pbkdf2_hmac("sha256", PASSWORD.encode(), salt, 1000)
    scrypt = hashlib.scrypt(PASSWORD.encode(), salt=salt, n=2**12, r=8, p=1, dklen=32)
    keycloak = {
        "type": "password",
        "secretData": json.dumps({"value": b64(hashlib.pbkdf2_hmac(
            "sha512", PASSWORD.encode(), salt, 2000, 64)), "salt": b64(salt),
            "additionalParameters": {}}),
        "credentialData": json.dumps({"hashIterations": 2000, "algorithm": "pbkdf2-sha512",
                                      "additionalParameters": {}}),
    }
    nopad = lambda data: b64(data).rstrip("=")  # noqa: E731
    hashes = {
        "bcrypt": bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=5)).decode(),
        "argon2i": argon2.PasswordHasher(type=argon2.Type.I, time_cost=2,
                                         memory_cost=8192).hash(PASSWORD),
        "argon2id": argon2.PasswordHasher(time_cost=3, memory_cost=65536,
                                          parallelism=4).hash(PASSWORD),
        "scrypt": f"$scrypt$ln=12,r=8,p=1${nopad(salt)}${nopad(scrypt)}",
        "django": "pbkdf2_sha256$1000$" + "plain-text-salt" + "$" + b64(
            hashlib.pbkdf2_hmac("sha256", PASSWORD.encode(), b"plain-text-salt", 1000)),
        "passlib": "$pbkdf2-sha256$1000$" + nopad(salt).replace("+", ".") + "$"
                   + nopad(pbkdf2).replace("+", "."),
        "keycloak": json.dumps(keycloak),
    }
    for name, password_hash in hashes.items():
        cognito.admin_create_user(UserPoolId=pool_id, Username=name, MessageAction="SUPPRESS")
        status, answer = set_hash(pool_id, name, password_hash)
        assert status == 200 and answer == {}, (name, status, answer)
        assert cognito.admin_get_user(UserPoolId=pool_id, Username=name)["UserStatus"] \
            == "CONFIRMED"
    check("bcrypt, argon2i, argon2id, scrypt, Django, passlib and Keycloak hashes are taken")

    for name in hashes:
        signs_in_only_with_the_password(cognito, client_id, name)
    check("each user signs in with the password behind the hash, and only with it")

    # The sign-in replaced the hash with argon2id and added an SRP verifier.
    for name in hashes:
        srp = AWSSRP(username=name, password=PASSWORD, pool_id=pool_id, client_id=client_id,
                     client=cognito)
        assert srp.authenticate_user()["AuthenticationResult"]["AccessToken"], name
    check("after the first sign-in, SRP signs the same users in")

    cognito.admin_create_user(UserPoolId=pool_id, Username="later", MessageAction="SUPPRESS")
    set_hash(pool_id, "later", hashes["bcrypt"], permanent=False)
    assert cognito.admin_get_user(UserPoolId=pool_id, Username="later")["UserStatus"] \
        == "FORCE_CHANGE_PASSWORD"
    challenge = cognito.initiate_auth(
        ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "later", "PASSWORD": PASSWORD})
    assert challenge["ChallengeName"] == "NEW_PASSWORD_REQUIRED", challenge
    check("a hash set as temporary asks for a new password")

    for refused in ["plain text", "$2b$31$" + "a" * 53, "$pbkdf2-sha256$i=9000000$c2FsdA$c2FsdA",
                    "$md5$x$y$z", "{\"type\": \"password\"}"]:
        status, answer = set_hash(pool_id, "later", refused)
        assert status == 400 and answer["__type"] == "InvalidParameterException", answer
        assert answer["message"].startswith("The password hash is not in a supported format")
    status, answer = set_hash(pool_id, "nobody", hashes["bcrypt"])
    assert status == 400 and answer["__type"] == "UserNotFoundException", answer
    status, answer = set_hash("us-east-1_missing0", "later", hashes["bcrypt"])
    assert answer["__type"] == "ResourceNotFoundException", answer
    check("unsupported, too costly or malformed hashes and unknown users are refused")

    csv_imports(cognito, hashes)


def import_job(cognito, pool_id, rows, algorithm=None):
    """Runs an import job over `rows` with the extra password hash column; its counts."""
    header = cognito.get_csv_header(UserPoolId=pool_id)["CSVHeader"]
    assert "cognito:password_hash" not in header, "Cognito's header has no hash column"
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header + ["cognito:password_hash"],
                            lineterminator="\r\n", restval="")
    writer.writeheader()
    for name, password_hash in rows:
        writer.writerow({"cognito:username": name, "email": f"{name}@example.com",
                         "email_verified": "true", "cognito:mfa_enabled": "false",
                         "cognito:password_hash": password_hash})
    extra = {"PasswordHashingAlgorithm": algorithm} if algorithm else {}
    job = cognito.create_user_import_job(
        JobName="hashes", UserPoolId=pool_id,
        CloudWatchLogsRoleArn="arn:aws:iam::123456789012:role/import", **extra)["UserImportJob"]
    assert job.get("PasswordHashingAlgorithm") == algorithm, job
    upload = urllib.request.Request(job["PreSignedUrl"], data=out.getvalue().encode(),
                                    method="PUT", headers={"Content-Type": "text/csv"})
    assert urllib.request.urlopen(upload).status == 200
    cognito.start_user_import_job(UserPoolId=pool_id, JobId=job["JobId"])
    deadline = time.time() + 60
    while True:
        state = cognito.describe_user_import_job(UserPoolId=pool_id,
                                                 JobId=job["JobId"])["UserImportJob"]
        if state["Status"] in ("Succeeded", "Failed"):
            break
        assert time.time() < deadline, state
        time.sleep(0.1)
    assert state["Status"] == "Succeeded", state
    return state["ImportedUsers"], state["SkippedUsers"], state["FailedUsers"]


def csv_imports(cognito, hashes):
    pool_id = cognito.create_user_pool(PoolName="imported-csv",
                                       AutoVerifiedAttributes=["email"])["UserPool"]["Id"]
    client_id = cognito.create_user_pool_client(
        UserPoolId=pool_id, ClientName="app",
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_USER_SRP_AUTH"],
    )["UserPoolClient"]["ClientId"]
    counts = import_job(cognito, pool_id, [
        ("csv-bcrypt", hashes["bcrypt"]), ("csv-django", hashes["django"]),
        ("csv-keycloak", hashes["keycloak"]), ("csv-none", ""), ("csv-bad", "not a hash"),
    ])
    assert counts == (4, 0, 1), counts
    counts = import_job(cognito, pool_id, [
        ("csv-argon", hashes["argon2id"]), ("csv-wrong-kind", hashes["bcrypt"]),
    ], algorithm="ARGON2ID")
    assert counts == (1, 0, 1), counts
    status = lambda name: cognito.admin_get_user(  # noqa: E731
        UserPoolId=pool_id, Username=name)["UserStatus"]
    assert status("csv-bcrypt") == "CONFIRMED" and status("csv-none") == "RESET_REQUIRED"
    for name in ["csv-bcrypt", "csv-django", "csv-keycloak", "csv-argon"]:
        signs_in_only_with_the_password(cognito, client_id, name)
        srp = AWSSRP(username=name, password=PASSWORD, pool_id=pool_id, client_id=client_id,
                     client=cognito)
        assert srp.authenticate_user()["AuthenticationResult"]["AccessToken"], name
    expect_error("PasswordResetRequiredException", cognito.initiate_auth, ClientId=client_id,
                 AuthFlow="USER_PASSWORD_AUTH",
                 AuthParameters={"USERNAME": "csv-none", "PASSWORD": PASSWORD})
    expect_error("UserNotFoundException", cognito.admin_get_user, UserPoolId=pool_id,
                 Username="csv-bad")
    check("import jobs: rows with a hash are confirmed and sign in with their old password "
          "(then with SRP); the job's algorithm is held to; a bad hash fails its row")


if __name__ == "__main__":
    main()
