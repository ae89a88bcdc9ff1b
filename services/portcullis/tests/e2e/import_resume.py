"""A user import job survives a crash of the process: `start` uploads N users, starts
the job and returns once some (not all) are imported, printing `POOL JOB`; the process
is then killed and restarted; `finish POOL JOB N` waits for the resumed job and checks
that every user was imported exactly once.
Usage: import_resume.py URL start N | import_resume.py URL finish POOL JOB N"""

import csv
import io
import sys
import time
import urllib.request
import uuid

import boto3
import contract  # noqa: F401  (checks every answer against the model)
from botocore.config import Config

url, phase = sys.argv[1], sys.argv[2]
admin = boto3.client("cognito-idp", endpoint_url=url, region_name="us-east-1",
                     config=Config(retries={"max_attempts": 1}))


def describe(pool_id, job_id):
    return admin.describe_user_import_job(UserPoolId=pool_id, JobId=job_id)["UserImportJob"]


if phase == "start":
    n = int(sys.argv[3])
    pool_id = admin.create_user_pool(PoolName=f"resume-{uuid.uuid4().hex[:8]}",
                                      AutoVerifiedAttributes=["email"])["UserPool"]["Id"]
    header = admin.get_csv_header(UserPoolId=pool_id)["CSVHeader"]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header, lineterminator="\r\n", restval="")
    writer.writeheader()
    for i in range(n):
        writer.writerow({"cognito:username": f"u{i:06d}", "email": f"u{i:06d}@example.com",
                         "email_verified": "true", "cognito:mfa_enabled": "false"})
    job = admin.create_user_import_job(JobName="resume", UserPoolId=pool_id,
                                       CloudWatchLogsRoleArn="arn:aws:iam::123456789012:role/r")["UserImportJob"]
    request = urllib.request.Request(job["PreSignedUrl"], data=out.getvalue().encode(), method="PUT")
    assert urllib.request.urlopen(request).status == 200
    admin.start_user_import_job(UserPoolId=pool_id, JobId=job["JobId"])
    while True:
        state = describe(pool_id, job["JobId"])
        if state["ImportedUsers"] > 0:
            break
        time.sleep(0.02)
    assert state["Status"] == "InProgress" and state["ImportedUsers"] < n, state
    print(f"ok - the job is in progress ({state['ImportedUsers']} of {n}) when the process dies",
          file=sys.stderr)
    print(pool_id, job["JobId"])
else:
    pool_id, job_id, n = sys.argv[3], sys.argv[4], int(sys.argv[5])
    deadline = time.time() + 300
    while (state := describe(pool_id, job_id))["Status"] not in ("Succeeded", "Failed"):
        assert time.time() < deadline, state
        time.sleep(0.2)
    assert state["Status"] == "Succeeded", state
    assert (state["ImportedUsers"], state["SkippedUsers"], state["FailedUsers"]) == (n, 0, 0), state
    names, token = [], None
    while True:
        page = admin.list_users(UserPoolId=pool_id, **({"PaginationToken": token} if token else {}))
        names += [u["Username"] for u in page["Users"]]
        token = page.get("PaginationToken")
        if not token:
            break
    assert len(names) == n and len(set(names)) == n, (len(names), len(set(names)))
    assert admin.describe_user_pool(UserPoolId=pool_id)["UserPool"]["EstimatedNumberOfUsers"] == n
    print(f"ok - after a restart the job resumed and imported each of the {n} users once")
