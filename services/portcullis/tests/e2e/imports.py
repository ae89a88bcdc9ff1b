"""Bulk user import through boto3: GetCSVHeader, CreateUserImportJob, the pre-signed
upload (a plain HTTP PUT, as to S3), StartUserImportJob with the job's progress in
DescribeUserImportJob, imported users in RESET_REQUIRED who reset their password with
ForgotPassword, skipped and failed rows, StopUserImportJob, ListUserImportJobs and the
error paths.
Usage: imports.py URL OUTBOX_PATH"""

import csv
import io
import json
import sys
import time
import urllib.error
import urllib.request
import uuid

import boto3
import contract  # checks every answer against the model
import botocore
from botocore.config import Config

url, outbox = sys.argv[1], sys.argv[2]
config = Config(retries={"max_attempts": 1})
admin = boto3.client("cognito-idp", endpoint_url=url, region_name="us-east-1", config=config)
public = boto3.client("cognito-idp", endpoint_url=url, region_name="us-east-1",
                      config=config.merge(Config(signature_version=botocore.UNSIGNED)))
ROLE = "arn:aws:iam::123456789012:role/CognitoImport"


def expect_error(code, call, **kwargs):
    try:
        call(**kwargs)
    except botocore.exceptions.ClientError as err:
        got = err.response["Error"]["Code"]
        assert got == code, f"expected {code}, got {got}: {err.response['Error'].get('Message')}"
        assert err.response["ResponseMetadata"]["HTTPStatusCode"] < 500, err.response
        return err.response["Error"]["Message"]
    raise AssertionError(f"expected {code}, call succeeded")


def put(target, body):
    """PUTs the file the way the AWS docs do it with curl or requests; the HTTP status."""
    request = urllib.request.Request(target, data=body, method="PUT",
                                     headers={"Content-Type": "text/csv",
                                              "x-amz-server-side-encryption": "aws:kms"})
    try:
        with urllib.request.urlopen(request) as response:
            return response.status
    except urllib.error.HTTPError as err:
        return err.code


def csv_file(header, rows):
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header, lineterminator="\r\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({"cognito:mfa_enabled": "false", **row})
    return out.getvalue().encode()


def wait_for(job_id, statuses, timeout=120):
    deadline = time.time() + timeout
    while True:
        job = admin.describe_user_import_job(UserPoolId=pool_id, JobId=job_id)["UserImportJob"]
        if job["Status"] in statuses:
            return job
        assert time.time() < deadline, f"job stuck in {job['Status']}: {job}"
        time.sleep(0.1)


def code_for(username):
    with open(outbox) as f:
        messages = [json.loads(line) for line in f if line.strip()]
    return [m for m in messages if m["username"] == username and m["pool_id"] == pool_id][-1]["code"]


suffix = uuid.uuid4().hex[:8]
pool_id = admin.create_user_pool(
    PoolName=f"imports-{suffix}", AutoVerifiedAttributes=["email"],
    Schema=[{"Name": "tier", "AttributeDataType": "String", "Mutable": True}],
)["UserPool"]["Id"]
client_id = admin.create_user_pool_client(
    UserPoolId=pool_id, ClientName="app",
    ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
)["UserPoolClient"]["ClientId"]

# --- GetCSVHeader ----------------------------------------------------------------------
got = admin.get_csv_header(UserPoolId=pool_id)
header = got["CSVHeader"]
assert got["UserPoolId"] == pool_id
assert header == [
    "name", "given_name", "family_name", "middle_name", "nickname", "preferred_username",
    "profile", "picture", "website", "email", "email_verified", "gender", "birthdate",
    "zoneinfo", "locale", "phone_number", "phone_number_verified", "address", "updated_at",
    "custom:tier", "cognito:mfa_enabled", "cognito:username",
], header
print("ok - GetCSVHeader gives the schema's attributes, then cognito:mfa_enabled and cognito:username")

# --- CreateUserImportJob and the upload --------------------------------------------------
job = admin.create_user_import_job(JobName="first import", UserPoolId=pool_id,
                                   CloudWatchLogsRoleArn=ROLE)["UserImportJob"]
job_id = job["JobId"]
assert job_id.startswith("import-") and job["Status"] == "Created", job
assert job["JobName"] == "first import" and job["UserPoolId"] == pool_id
assert job["CloudWatchLogsRoleArn"] == ROLE and "CreationDate" in job
assert job["PreSignedUrl"].startswith(f"{url}/import/{pool_id}/{job_id}?"), job
assert "StartDate" not in job and "CompletionDate" not in job
assert (job["ImportedUsers"], job["SkippedUsers"], job["FailedUsers"]) == (0, 0, 0)
print("ok - CreateUserImportJob answers a Created job with a pre-signed URL")

expect_error("PreconditionNotMetException", admin.start_user_import_job,
             UserPoolId=pool_id, JobId=job_id)
print("ok - a job without a file cannot start")

admin.admin_create_user(UserPoolId=pool_id, Username="dave", MessageAction="SUPPRESS",
                        UserAttributes=[{"Name": "email", "Value": "dave@example.com"}])
rows = [
    {"cognito:username": "alice", "name": "Smith, Alice", "email": "alice@example.com",
     "email_verified": "true", "custom:tier": "gold", "address": "1 Main St\nSpringfield"},
    {"cognito:username": "bob", "email": "bob@example.com", "email_verified": "TRUE",
     "phone_number": "+15555550100", "cognito:mfa_enabled": "true"},
    {"cognito:username": "carol", "email": "carol@example.com", "email_verified": "true",
     "given_name": 'Carol "CJ"'},
    {"cognito:username": "erin", "email": "erin@example.com", "email_verified": "true"},
    # already a user of the pool: skipped
    {"cognito:username": "dave", "email": "dave@example.com", "email_verified": "true"},
    # no verified auto-verified attribute: failed
    {"cognito:username": "frank", "email": "frank@example.com", "email_verified": "false"},
    # not an email address: failed
    {"cognito:username": "gina", "email": "not-an-email", "email_verified": "true"},
]
body = csv_file(list(reversed(header)), rows)  # any column order will do
base = job["PreSignedUrl"].split("?")[0]
assert put(f"{base}?token=wrong", body) == 403
assert put(f"{url}/import/{pool_id}/import-nosuchjob?token=x", body) == 404
assert put(job["PreSignedUrl"], body) == 200
assert admin.describe_user_import_job(UserPoolId=pool_id, JobId=job_id)["UserImportJob"]["Status"] == "Created"
print("ok - the pre-signed URL takes the file only with the job's token")

# --- StartUserImportJob ------------------------------------------------------------------
started = admin.start_user_import_job(UserPoolId=pool_id, JobId=job_id)["UserImportJob"]
assert started["Status"] in ("Pending", "InProgress", "Succeeded"), started
assert "StartDate" in started
done = wait_for(job_id, {"Succeeded", "Failed"})
assert done["Status"] == "Succeeded", done
assert (done["ImportedUsers"], done["SkippedUsers"], done["FailedUsers"]) == (4, 1, 2), done
assert done["CompletionMessage"] and "CompletionDate" in done, done
print("ok - the job imports users, skips existing ones and counts failed rows")

assert put(job["PreSignedUrl"], body) == 403
expect_error("InvalidParameterException", admin.start_user_import_job, UserPoolId=pool_id, JobId=job_id)
expect_error("InvalidParameterException", admin.stop_user_import_job, UserPoolId=pool_id, JobId=job_id)
print("ok - a finished job takes no file, start or stop")

alice = admin.admin_get_user(UserPoolId=pool_id, Username="alice")
attrs = {a["Name"]: a["Value"] for a in alice["UserAttributes"]}
assert alice["UserStatus"] == "RESET_REQUIRED", alice
assert attrs["name"] == "Smith, Alice" and attrs["address"] == "1 Main St\nSpringfield", attrs
assert attrs["email_verified"] == "true" and attrs["custom:tier"] == "gold", attrs
carol = admin.admin_get_user(UserPoolId=pool_id, Username="carol")
assert {a["Name"]: a["Value"] for a in carol["UserAttributes"]}["given_name"] == 'Carol "CJ"'
bob = admin.admin_get_user(UserPoolId=pool_id, Username="bob")
assert bob["MFAOptions"] == [{"DeliveryMedium": "SMS", "AttributeName": "phone_number"}], bob
dave = admin.admin_get_user(UserPoolId=pool_id, Username="dave")
assert dave["UserStatus"] == "FORCE_CHANGE_PASSWORD", "a skipped row leaves the user alone"
expect_error("UserNotFoundException", admin.admin_get_user, UserPoolId=pool_id, Username="frank")
listed = admin.list_users(UserPoolId=pool_id)["Users"]
assert sorted(u["Username"] for u in listed) == ["alice", "bob", "carol", "dave", "erin"], listed
print("ok - imported users are RESET_REQUIRED with their attributes, quoted values intact")

# --- imported users reset their password -------------------------------------------------
expect_error("PasswordResetRequiredException", public.initiate_auth, ClientId=client_id,
             AuthFlow="USER_PASSWORD_AUTH",
             AuthParameters={"USERNAME": "alice", "PASSWORD": "Whatever1!"})
sent = public.forgot_password(ClientId=client_id, Username="alice")["CodeDeliveryDetails"]
assert sent["DeliveryMedium"] == "EMAIL", sent
public.confirm_forgot_password(ClientId=client_id, Username="alice",
                               ConfirmationCode=code_for("alice"), Password="NewPassw0rd!")
tokens = public.initiate_auth(ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH",
                              AuthParameters={"USERNAME": "alice", "PASSWORD": "NewPassw0rd!"})
assert tokens["AuthenticationResult"]["AccessToken"]
assert admin.admin_get_user(UserPoolId=pool_id, Username="alice")["UserStatus"] == "CONFIRMED"
print("ok - an imported user gets PasswordResetRequiredException, resets and signs in")

# --- a file Cognito cannot use fails the job ---------------------------------------------
bad = admin.create_user_import_job(JobName="bad-header", UserPoolId=pool_id,
                                   CloudWatchLogsRoleArn=ROLE)["UserImportJob"]
assert put(bad["PreSignedUrl"], b"cognito:username,shoe_size\r\nzed,42\r\n") == 200
admin.start_user_import_job(UserPoolId=pool_id, JobId=bad["JobId"])
failed = wait_for(bad["JobId"], {"Failed", "Succeeded"})
assert failed["Status"] == "Failed" and "shoe_size" in failed["CompletionMessage"], failed
print("ok - a header the pool does not have fails the job")

# --- StopUserImportJob -------------------------------------------------------------------
many = [{"cognito:username": f"user{i:05d}", "email": f"user{i:05d}@example.com",
         "email_verified": "true"} for i in range(3000)]
big = admin.create_user_import_job(JobName="big", UserPoolId=pool_id,
                                   CloudWatchLogsRoleArn=ROLE,
                                   PasswordHashingAlgorithm="BCRYPT")["UserImportJob"]
assert big["PasswordHashingAlgorithm"] == "BCRYPT"
expect_error("InvalidParameterException", admin.stop_user_import_job, UserPoolId=pool_id, JobId=big["JobId"])
assert put(big["PreSignedUrl"], csv_file(header, many)) == 200
admin.start_user_import_job(UserPoolId=pool_id, JobId=big["JobId"])
stopping = admin.stop_user_import_job(UserPoolId=pool_id, JobId=big["JobId"])["UserImportJob"]
assert stopping["Status"] in ("Stopping", "Stopped"), stopping
stopped = wait_for(big["JobId"], {"Stopped", "Succeeded", "Failed"})
assert stopped["Status"] == "Stopped", stopped
handled = stopped["ImportedUsers"] + stopped["SkippedUsers"] + stopped["FailedUsers"]
assert stopped["ImportedUsers"] < 3000 and handled <= 3000, stopped
assert stopped["CompletionMessage"] and "CompletionDate" in stopped, stopped
print(f"ok - StopUserImportJob stops the job (Stopping, then Stopped after {handled} rows)")

# --- ListUserImportJobs ------------------------------------------------------------------
jobs = admin.list_user_import_jobs(UserPoolId=pool_id, MaxResults=60)["UserImportJobs"]
assert [j["JobId"] for j in jobs] == [job_id, bad["JobId"], big["JobId"]], jobs
page = admin.list_user_import_jobs(UserPoolId=pool_id, MaxResults=2)
assert [j["JobId"] for j in page["UserImportJobs"]] == [job_id, bad["JobId"]]
rest = admin.list_user_import_jobs(UserPoolId=pool_id, MaxResults=2,
                                   PaginationToken=page["PaginationToken"])
assert [j["JobId"] for j in rest["UserImportJobs"]] == [big["JobId"]] and "PaginationToken" not in rest
print("ok - ListUserImportJobs lists the pool's jobs in pages")

# --- error paths -------------------------------------------------------------------------
expect_error("ResourceNotFoundException", admin.describe_user_import_job,
             UserPoolId=pool_id, JobId="import-nosuchjob")
expect_error("ResourceNotFoundException", admin.start_user_import_job,
             UserPoolId=pool_id, JobId="import-nosuchjob")
expect_error("ResourceNotFoundException", admin.get_csv_header, UserPoolId="us-east-1_nosuchpool")
expect_error("ResourceNotFoundException", admin.create_user_import_job, JobName="x",
             UserPoolId="us-east-1_nosuchpool", CloudWatchLogsRoleArn=ROLE)
expect_error("ResourceNotFoundException", admin.list_user_import_jobs,
             UserPoolId="us-east-1_nosuchpool", MaxResults=10)
expect_error("InvalidParameterException", admin.create_user_import_job, JobName="x",
             UserPoolId=pool_id, CloudWatchLogsRoleArn="not-an-arn-but-long-enough")
expect_error("InvalidParameterException", admin.create_user_import_job, JobName="bad/name",
             UserPoolId=pool_id, CloudWatchLogsRoleArn=ROLE)
expect_error("InvalidParameterException", admin.list_user_import_jobs,
             UserPoolId=pool_id, MaxResults=61)
plain = admin.create_user_pool(PoolName=f"plain-{suffix}")["UserPool"]["Id"]
plain_job = admin.create_user_import_job(JobName="x", UserPoolId=plain,
                                         CloudWatchLogsRoleArn=ROLE)["UserImportJob"]
assert put(plain_job["PreSignedUrl"], b"x") == 200
expect_error("PreconditionNotMetException", admin.start_user_import_job,
             UserPoolId=plain, JobId=plain_job["JobId"])
print("ok - unknown jobs and pools, bad parameters and pools without auto-verified attributes are refused")
contract.assert_returned("UserImportJobType")
print("ok - every member of UserImportJobType is returned")
