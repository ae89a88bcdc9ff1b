"""What the boto3 e2e scripts share: an admin client, expected errors with Cognito's
codes, signed requests botocore would refuse to send, requests to the decision point
signed with issued credentials, and progress lines. Importing it
also installs the model checks (`contract`) on every cognito-idp client.

The server's URL is the script's first argument."""

import json
import sys
import urllib.error
import urllib.request

import boto3
import botocore
import botocore.auth
import botocore.awsrequest
import botocore.credentials
import contract  # noqa: F401  (checks every answer against the model)
from botocore.config import Config

URL = sys.argv[1]
REGION = "us-east-1"


def idp():
    return boto3.client("cognito-idp", endpoint_url=URL, region_name=REGION,
                        config=Config(retries={"max_attempts": 1}))


def expect_error(code, call, *args, **kwargs):
    try:
        call(*args, **kwargs)
    except botocore.exceptions.ClientError as err:
        got = err.response["Error"]["Code"]
        message = err.response["Error"].get("Message", "")
        assert got == code, f"expected {code}, got {got}: {message}"
        assert err.response["ResponseMetadata"]["HTTPStatusCode"] < 500, err.response
        return message
    raise AssertionError(f"expected {code}, call succeeded")


def raw(target, body):
    """A signed request with a body botocore would refuse to send."""
    credentials = boto3.session.Session().get_credentials()
    request = botocore.awsrequest.AWSRequest(
        method="POST", url=URL + "/", data=json.dumps(body).encode(),
        headers={"Content-Type": "application/x-amz-json-1.1",
                 "X-Amz-Target": f"AWSCognitoIdentityProviderService.{target}"})
    botocore.auth.SigV4Auth(credentials, "cognito-idp", REGION).add_auth(request)
    prepared = urllib.request.Request(URL + "/", data=request.body, method="POST",
                                      headers=dict(request.headers))
    try:
        urllib.request.urlopen(prepared)
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())
    raise AssertionError(f"{target} {body} was accepted")


def check(label):
    print(f"ok - {label}", flush=True)


# --- requests to the decision point, signed with issued credentials ---------------------


def signed(credentials, body, region=REGION, path="/authorize", headers=None):
    """A request signed by botocore with temporary credentials."""
    creds = botocore.credentials.Credentials(credentials["AccessKeyId"],
                                             credentials.get("SecretKey")
                                             or credentials["SecretAccessKey"],
                                             credentials["SessionToken"])
    request = botocore.awsrequest.AWSRequest(method="POST", url=URL + path, data=body,
                                             headers={"Content-Type": "application/json",
                                                      **(headers or {})})
    botocore.auth.SigV4Auth(creds, "execute-api", region).add_auth(request)
    return request


def send(request):
    prepared = urllib.request.Request(request.url, data=request.body, method=request.method,
                                      headers=dict(request.headers))
    try:
        with urllib.request.urlopen(prepared) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def decide(credentials, action, resource, region=REGION, context=None):
    body = json.dumps({"Action": action, "Resource": resource, "Context": context or {}})
    return send(signed(credentials, body.encode(), region))
