"""IAM across gateway replicas of a cluster: what one replica writes, another reads and
lists at once (each replica's broker keeps its own index of the log).

Usage: iam_replicas.py URL URL
Admin credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY. Exits non-zero
on the first failed check.
"""

import json
import sys
import uuid

import boto3
import botocore
from botocore.config import Config

one, two = (boto3.client("iam", endpoint_url=url, region_name="us-east-1",
                         config=Config(retries={"max_attempts": 1}))
            for url in sys.argv[1:3])
TRUST = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Federated": "cognito-identity.amazonaws.com"},
    "Action": "sts:AssumeRoleWithWebIdentity"}]})
path = f"/replicas/{uuid.uuid4().hex}/"

for i in range(5):
    one.create_role(RoleName=f"r{i}", Path=path, AssumeRolePolicyDocument=TRUST)
    listed = [r["RoleName"] for r in two.list_roles(PathPrefix=path)["Roles"]]
    assert listed == [f"r{j}" for j in range(i + 1)], listed
print("ok - a role created on one replica is listed by the other at once", flush=True)

two.delete_role(RoleName="r0")
try:
    one.get_role(RoleName="r0")
    raise AssertionError("deleted role still found")
except botocore.exceptions.ClientError as err:
    assert err.response["Error"]["Code"] == "NoSuchEntity", err.response
assert "r0" not in [r["RoleName"] for r in one.list_roles(PathPrefix=path)["Roles"]]
print("ok - a role deleted on one replica is gone on the other", flush=True)
