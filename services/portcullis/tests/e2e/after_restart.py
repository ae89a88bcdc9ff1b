"""After a restart on the same data directory: the pool, client and user are still
there and the user can still sign in. Usage: after_restart.py URL '<json from spine.py>'"""

import json
import sys

import boto3
import contract  # noqa: F401  (checks every answer against the model)
import botocore
from botocore.config import Config

url, state = sys.argv[1], json.loads(sys.argv[2])
admin = boto3.client("cognito-idp", endpoint_url=url, region_name="us-east-1")
public = boto3.client("cognito-idp", endpoint_url=url, region_name="us-east-1",
                      config=Config(signature_version=botocore.UNSIGNED))
pool = admin.describe_user_pool(UserPoolId=state["pool_id"])["UserPool"]
assert pool["EstimatedNumberOfUsers"] >= 1, pool
assert state["pool_id"] in [p["Id"] for p in admin.list_user_pools(MaxResults=60)["UserPools"]]
user = admin.admin_get_user(UserPoolId=state["pool_id"], Username=state["username"])
assert user["UserStatus"] == "CONFIRMED"
result = public.initiate_auth(ClientId=state["client_id"], AuthFlow="USER_PASSWORD_AUTH",
                              AuthParameters={"USERNAME": state["username"], "PASSWORD": "correct horse 42"})
assert public.get_user(AccessToken=result["AuthenticationResult"]["AccessToken"])["Username"] == state["username"]
print("ok - data survived the restart")
