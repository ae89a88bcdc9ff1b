"""Secrets at rest and bodies read before the caller is known, through boto3.

`setup`: a pool with TOTP MFA, a confidential app client, a user with a verified TOTP
authenticator; then no file of the data directory holds the client secret, the TOTP
secret or a password hash in plain text, and the user still signs in (SECRET_HASH and
a TOTP code). Prints the state as JSON.
`sign-in STATE`: the same sign-in, after a restart (and after the values were put back
in plain text, as an earlier version stored them).
`bodies`: a multi-piece import file streamed to a real job; bodies over a route's limit
refused with 413 (the token endpoint, the decision point, the JSON API, the anonymous
query API) while legal ones still pass.
Usage: security_storage.py URL DATA_DIR setup|sign-in STATE|bodies"""

import base64
import hashlib
import hmac
import json
import os
import socket
import sys
import time
import urllib.error
import urllib.request
import uuid

import boto3
import botocore
import contract  # noqa: F401  (checks every answer against the model)
import pyotp
from botocore.config import Config

url, data_dir, phase = sys.argv[1], sys.argv[2], sys.argv[3]
config = Config(retries={"max_attempts": 1})
admin = boto3.client("cognito-idp", endpoint_url=url, region_name="us-east-1", config=config)
public = boto3.client("cognito-idp", endpoint_url=url, region_name="us-east-1",
                      config=config.merge(Config(signature_version=botocore.UNSIGNED)))
PASSWORD = "St0rage!Password"


def check(label):
    print(f"ok - {label}", file=sys.stderr, flush=True)


def secret_hash(client_id, client_secret, username):
    digest = hmac.new(client_secret.encode(), (username + client_id).encode(),
                      hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def steady():
    """Keeps a code inside one 30 s step."""
    left = 30 - time.time() % 30
    if left < 4:
        time.sleep(left + 0.2)


def files_holding(needle):
    """The files of the data directory whose bytes contain `needle`."""
    found = []
    for root, _, names in os.walk(data_dir):
        for name in names:
            path = os.path.join(root, name)
            with open(path, "rb") as f:
                if needle in f.read():
                    found.append(path)
    return found


def sign_in(state, offset_steps=0):
    steady()
    hashed = secret_hash(state["client_id"], state["client_secret"], state["username"])
    challenge = public.initiate_auth(
        ClientId=state["client_id"], AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": state["username"], "PASSWORD": PASSWORD,
                        "SECRET_HASH": hashed})
    assert challenge["ChallengeName"] == "SOFTWARE_TOKEN_MFA", challenge
    code = pyotp.TOTP(state["totp_secret"]).at(time.time() + 30 * offset_steps)
    result = public.respond_to_auth_challenge(
        ClientId=state["client_id"], ChallengeName="SOFTWARE_TOKEN_MFA",
        Session=challenge["Session"],
        ChallengeResponses={"USERNAME": state["username"], "SOFTWARE_TOKEN_MFA_CODE": code,
                            "SECRET_HASH": hashed})
    assert result["AuthenticationResult"]["AccessToken"], result
    return result["AuthenticationResult"]


def setup():
    pool_id = admin.create_user_pool(PoolName=f"storage-{uuid.uuid4().hex[:8]}")["UserPool"]["Id"]
    admin.set_user_pool_mfa_config(UserPoolId=pool_id, MfaConfiguration="OPTIONAL",
                                   SoftwareTokenMfaConfiguration={"Enabled": True})
    client = admin.create_user_pool_client(
        UserPoolId=pool_id, ClientName="confidential", GenerateSecret=True,
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )["UserPoolClient"]
    client_id, client_secret = client["ClientId"], client["ClientSecret"]
    username = "stella"
    admin.admin_create_user(UserPoolId=pool_id, Username=username, MessageAction="SUPPRESS")
    admin.admin_set_user_password(UserPoolId=pool_id, Username=username, Password=PASSWORD,
                                  Permanent=True)
    sub = next(a["Value"] for a in admin.admin_get_user(
        UserPoolId=pool_id, Username=username)["UserAttributes"] if a["Name"] == "sub")
    tokens = public.initiate_auth(
        ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": PASSWORD,
                        "SECRET_HASH": secret_hash(client_id, client_secret, username)},
    )["AuthenticationResult"]
    access = tokens["AccessToken"]
    totp_secret = public.associate_software_token(AccessToken=access)["SecretCode"]
    assert not files_holding(totp_secret.encode()), "a pending TOTP secret is stored in plain text"
    steady()
    public.verify_software_token(AccessToken=access,
                                 UserCode=pyotp.TOTP(totp_secret).at(time.time() - 30))
    public.set_user_mfa_preference(AccessToken=access,
                                   SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": True})
    state = {"pool_id": pool_id, "client_id": client_id, "client_secret": client_secret,
             "username": username, "sub": sub, "totp_secret": totp_secret}

    for label, needle in [("client secret", client_secret), ("TOTP secret", totp_secret),
                          ("password hash", "$argon2id$")]:
        holding = files_holding(needle.encode())
        assert not holding, f"the {label} is stored in plain text in {holding}"
    check("no file of the data directory holds a client secret, TOTP secret or hash in plain text")
    described = admin.describe_user_pool_client(UserPoolId=pool_id, ClientId=client_id)
    assert described["UserPoolClient"]["ClientSecret"] == client_secret
    sign_in(state)
    check("the sealed client secret and TOTP secret still verify")
    print(json.dumps(state))


def raw_status(method, path, headers, body=b""):
    request = urllib.request.Request(url + path, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def refused_unread(path, length, headers):
    """Sends only the head of a POST announcing `length` bytes; the status and body."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        head = f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: {length}\r\n"
        head += "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        sock.sendall((head + "\r\n").encode())
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            piece = sock.recv(4096)
            if not piece:
                break
            answer += piece
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), body


def bodies():
    pool_id = admin.create_user_pool(
        PoolName=f"bodies-{uuid.uuid4().hex[:8]}",
        AutoVerifiedAttributes=["email"])["UserPool"]["Id"]
    header = admin.get_csv_header(UserPoolId=pool_id)["CSVHeader"]
    job = admin.create_user_import_job(
        UserPoolId=pool_id, JobName="big",
        CloudWatchLogsRoleArn="arn:aws:iam::123456789012:role/CognitoImport")["UserImportJob"]
    lines = [",".join(header)]
    # About 1.5 MB: three pieces on the way to the directory.
    for i in range(6000):
        values = {name: "" for name in header}
        values.update({"cognito:username": f"user{i:05d}", "email": f"u{i}@example.com",
                       "email_verified": "true", "cognito:mfa_enabled": "false",
                       "name": "x" * 200})
        lines.append(",".join(values[name] for name in header))
    body = ("\r\n".join(lines) + "\r\n").encode()
    assert len(body) > 1024 * 1024, len(body)
    status, answer = raw_status("PUT", job["PreSignedUrl"].removeprefix(url),
                                {"Content-Type": "text/csv"}, body)
    assert status == 200, (status, answer)
    check(f"a {len(body)}-byte import file is streamed to the job in pieces")

    status, answer = raw_status(
        "PUT", f"/import/{pool_id}/import-nosuchjob?token=x", {"Content-Type": "text/csv"},
        b"<x/>")
    assert status == 404 and b"NoSuchKey" in answer, (status, answer)
    # The validation message repeats the pool id from the URL.
    status, answer = raw_status("PUT", "/import/us-east-1_%3Cscript%3Ex/job?token=x", {}, b"x")
    assert status == 403 and b"<script>" not in answer and b"&lt;script&gt;" in answer, answer
    check("an upload error document escapes the job id it repeats")

    big = b"x" * (70 * 1024)
    status, answer = raw_status("POST", "/oauth2/token",
                                {"Content-Type": "application/x-www-form-urlencoded"}, big)
    assert status == 413, (status, answer)
    status, answer = raw_status("POST", "/authorize", {"Content-Type": "application/json"}, big)
    assert status == 413, (status, answer)
    # Larger bodies are answered before they are sent whole (the server closes the
    # connection without reading them), so only their head goes out.
    status, answer = refused_unread("/", 600 * 1024,
                                    {"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 413, (status, answer)
    status, answer = refused_unread("/", 1024 * 1024 + 1, {
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": "AWSCognitoIdentityProviderService.SignUp"})
    assert status == 413, (status, answer)
    assert json.loads(answer)["__type"] == "RequestEntityTooLargeException", answer
    check("bodies over their route's limit are refused with 413")

    message = None
    try:
        public.sign_up(ClientId="nosuchclient000000000000", Username="u", Password=PASSWORD,
                       ClientMetadata={"k": "v" * 200_000})
    except botocore.exceptions.ClientError as err:
        message = err.response["Error"]["Code"]
    assert message not in (None, "RequestEntityTooLargeException"), message
    check("a legal 200 KB JSON request still reaches its operation")
    print(json.dumps({"pool_id": pool_id}))


if phase == "setup":
    setup()
elif phase == "sign-in":
    # The next time step: the one setup used is spent.
    sign_in(json.loads(sys.argv[4]), offset_steps=1)
    check("the user signs in with the client secret and TOTP after a restart")
elif phase == "bodies":
    bodies()
else:
    raise SystemExit(f"unknown phase {phase}")
