#!/usr/bin/env python3
"""Generate SigV4 test vectors for `services/gateway/src/sigv4.rs` with botocore.

Run from anywhere:  python3 services/gateway/tests/data/make_sigv4_vectors.py
It rewrites `sigv4_vectors.json` next to this script.

Each vector is a request exactly as it would arrive at the gateway (method, raw
URL, every header the signer produced, body) plus the signing timestamp, so the
Rust tests can verify it with `now` pinned to that instant.

Two kinds of vectors are produced:
  * hand-built `AWSRequest`s signed by `botocore.auth.SigV4Auth`, covering
    paths/queries that need normalisation, extra headers, session tokens;
  * requests captured from a real botocore client (`create_client`), so the
    exact header set an SDK sends (User-Agent, Content-Length, ...) is covered.

The clock is pinned by patching `botocore.auth.get_current_datetime`, which is
what `SigV4Auth.add_auth` calls to stamp `request.context['timestamp']`.
"""

import datetime
import hashlib
import json
import pathlib
from unittest import mock

import botocore
import botocore.auth
import botocore.session
from botocore.awsrequest import AWSRequest, AWSResponse
from botocore.credentials import Credentials

ENDPOINT = "http://127.0.0.1:9229"
AKID = "AKIDEXAMPLE"
SECRET = "secret"
WHEN = datetime.datetime(2026, 11, 26, 12, 44, 0)
TIMESTAMP = WHEN.strftime("%Y%m%dT%H%M%SZ")
JSON_11 = "application/x-amz-json-1.1"


def pinned_clock():
    return mock.patch.object(botocore.auth, "get_current_datetime", return_value=WHEN)


def record(name, request, region, service, token=None):
    body = request.body or b""
    if isinstance(body, str):
        body = body.encode()
    headers = [[k, v if isinstance(v, str) else v.decode()] for k, v in request.headers.items()]
    # The Host header is added by the HTTP client (urllib3) on the wire, not by
    # botocore; the signer signs what `_host_from_url` predicts it will be.
    if not any(k.lower() == "host" for k, _ in headers):
        headers.append(["Host", botocore.auth._host_from_url(request.url)])
    return {
        "name": name,
        "method": request.method,
        "url": request.url,
        "headers": headers,
        "body": body.decode(),
        "timestamp": TIMESTAMP,
        "access_key_id": AKID,
        "secret": SECRET,
        "session_token": token,
        "region": region,
        "service": service,
        "botocore_version": botocore.__version__,
    }


def sign(name, url, headers, body, region, service, token=None):
    request = AWSRequest(method="POST", url=url, headers=headers, data=body)
    auth = botocore.auth.SigV4Auth(Credentials(AKID, SECRET, token), service, region)
    with pinned_clock():
        auth.add_auth(request)
    return record(name, request, region, service, token)


def hand_built():
    pool = json.dumps({"PoolName": "portcullis-test", "Policies": {"PasswordPolicy": {"MinimumLength": 12}}})
    yield sign(
        "cognito_idp_create_user_pool",
        ENDPOINT + "/",
        {"Content-Type": JSON_11, "X-Amz-Target": "AWSCognitoIdentityProviderService.CreateUserPool"},
        pool.encode(),
        "us-east-1",
        "cognito-idp",
    )
    # Path with escapes, dot segments and a double slash; query with repeated
    # keys, an empty value, a bare key and pre-encoded reserved characters.
    # Also an explicit X-Amz-Content-SHA256 and a header whose value needs
    # whitespace trimming/collapsing.
    body = b'{"RoleArn":"arn:aws:iam::000000000000:role/x"}'
    yield sign(
        "sts_query_and_special_path",
        ENDPOINT + "/a%20b/c~d/./e/..//f%2Fg/%E2%9C%93/?b=2&a=x%2Fy&a=hello%20world&c=&flag&%C3%A9=%7E",
        {
            "Content-Type": JSON_11,
            "X-Amz-Target": "AWSSecurityTokenServiceV20110615.AssumeRole",
            "X-Amz-Content-SHA256": hashlib.sha256(body).hexdigest(),
            "X-Portcullis-Note": "  spaced    out   value ",
        },
        body,
        "us-west-2",
        "sts",
    )
    # A query botocore signs verbatim but a re-encoding signer would not
    # ('+' and a lower-case escape): exercises the verbatim fallback.
    yield sign(
        "iam_verbatim_query",
        ENDPOINT + "/?Action=ListUsers&Marker=a+b&Path=%2f",
        {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
        b"Action=ListUsers&Version=2010-05-08",
        "us-east-1",
        "iam",
    )
    yield sign(
        "cognito_identity_session_token",
        ENDPOINT + "/",
        {"Content-Type": JSON_11, "X-Amz-Target": "AWSCognitoIdentityService.DescribeIdentityPool"},
        b'{"IdentityPoolId":"eu-west-1:0f1f7ef2-0000-4000-8000-000000000000"}',
        "eu-west-1",
        "cognito-identity",
        token="FQoGZXIvYXdzEJr//////////wEaDEXAMPLETOKEN+/=",
    )
    yield sign(
        "cognito_idp_empty_body",
        ENDPOINT + "/",
        {"Content-Type": JSON_11, "X-Amz-Target": "AWSCognitoIdentityProviderService.ListUserPools"},
        b"",
        "ap-southeast-2",
        "cognito-idp",
    )


def captured(service, region, operation, params, token=None):
    """Sign through a real client and capture the request instead of sending it."""
    session = botocore.session.get_session()
    client = session.create_client(
        service,
        region_name=region,
        endpoint_url=ENDPOINT,
        aws_access_key_id=AKID,
        aws_secret_access_key=SECRET,
        aws_session_token=token,
    )
    seen = []

    def before_send(request, **_):
        seen.append(request)
        return AWSResponse(request.url, 200, {"Content-Type": JSON_11}, mock.Mock(content=b"{}"))

    client.meta.events.register("before-send", before_send)
    with pinned_clock():
        try:
            getattr(client, operation)(**params)
        except Exception:  # the fake response does not parse; the request is what matters
            pass
    (request,) = seen
    return record(f"client_{service}_{operation}", request, region, service, token)


def from_clients():
    yield captured("cognito-idp", "us-east-1", "create_user_pool", {"PoolName": "from-client"})
    yield captured(
        "cognito-idp", "eu-central-1", "admin_get_user", {"UserPoolId": "eu-central-1_abc", "Username": "ünïcode"},
        token="session-token-value",
    )


def main():
    vectors = list(hand_built()) + list(from_clients())
    out = pathlib.Path(__file__).with_name("sigv4_vectors.json")
    out.write_text(json.dumps(vectors, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {len(vectors)} vectors to {out}")


if __name__ == "__main__":
    main()
