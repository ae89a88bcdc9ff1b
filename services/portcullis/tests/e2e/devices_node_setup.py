"""Setup for the amazon-cognito-identity-js device test: a pool that remembers devices on
the user's prompt, a public client for SRP and refresh, and a confirmed user. Prints
{"pool_id", "client_id", "username", "password"} as JSON.
Usage: devices_node_setup.py URL"""

import json
import sys
import uuid

import boto3
import botocore
from botocore.config import Config

url = sys.argv[1]
config = Config(retries={"max_attempts": 1})
admin = boto3.client("cognito-idp", endpoint_url=url, region_name="us-east-1", config=config)
public = boto3.client("cognito-idp", endpoint_url=url, region_name="us-east-1",
                      config=config.merge(Config(signature_version=botocore.UNSIGNED)))
pool_id = admin.create_user_pool(
    PoolName=f"node-devices-{uuid.uuid4().hex[:8]}",
    DeviceConfiguration={"ChallengeRequiredOnNewDevice": True,
                         "DeviceOnlyRememberedOnUserPrompt": True},
)["UserPool"]["Id"]
client_id = admin.create_user_pool_client(
    UserPoolId=pool_id, ClientName="browser",
    ExplicitAuthFlows=["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
)["UserPoolClient"]["ClientId"]
password = "Node-Passw0rd!"
public.sign_up(ClientId=client_id, Username="nina", Password=password)
admin.admin_confirm_sign_up(UserPoolId=pool_id, Username="nina")
print(json.dumps({"pool_id": pool_id, "client_id": client_id, "username": "nina",
                  "password": password}))
