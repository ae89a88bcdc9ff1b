"""Codes by real email, through boto3. One step per run, so the test can stop the mail
server between steps. Usage:
  delivery.py URL setup                      -> prints "POOL_ID CLIENT_ID"
  delivery.py URL signup CLIENT USER         -> SignUp succeeds, the code went out
  delivery.py URL confirm CLIENT USER CODE   -> ConfirmSignUp with the emailed code
  delivery.py URL signup-fails CLIENT USER   -> SignUp answers CodeDeliveryFailureException"""

import sys
import uuid

import boto3
import contract  # noqa: F401  (checks every answer against the model)
import botocore
from botocore.config import Config

url, step, args = sys.argv[1], sys.argv[2], sys.argv[3:]
config = Config(retries={"max_attempts": 1})
admin = boto3.client("cognito-idp", endpoint_url=url, region_name="us-east-1", config=config)
public = boto3.client("cognito-idp", endpoint_url=url, region_name="us-east-1",
                      config=config.merge(Config(signature_version=botocore.UNSIGNED)))
PASSWORD = "Str0ng!Passw0rd"


def sign_up(client_id, username):
    return public.sign_up(ClientId=client_id, Username=username, Password=PASSWORD,
                          UserAttributes=[{"Name": "email", "Value": f"{username}@example.com"}])


if step == "setup":
    pool_id = admin.create_user_pool(PoolName=f"mail-{uuid.uuid4().hex[:8]}",
                                     AutoVerifiedAttributes=["email"])["UserPool"]["Id"]
    client_id = admin.create_user_pool_client(
        UserPoolId=pool_id, ClientName="app",
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"])["UserPoolClient"]["ClientId"]
    print(pool_id, client_id)
elif step == "signup":
    details = sign_up(*args)["CodeDeliveryDetails"]
    assert details["DeliveryMedium"] == "EMAIL", details
    print("ok - SignUp reports the code sent by email")
elif step == "confirm":
    client_id, username, code = args
    public.confirm_sign_up(ClientId=client_id, Username=username, ConfirmationCode=code)
    public.initiate_auth(ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH",
                         AuthParameters={"USERNAME": username, "PASSWORD": PASSWORD})
    print("ok - the emailed code confirms the user")
elif step == "signup-fails":
    try:
        sign_up(*args)
    except botocore.exceptions.ClientError as err:
        got = err.response["Error"]["Code"]
        assert got == "CodeDeliveryFailureException", err.response
        print("ok - SignUp answers CodeDeliveryFailureException when the mail server is down")
    else:
        raise AssertionError("SignUp succeeded with the mail server down")
else:
    raise SystemExit(f"unknown step {step}")
