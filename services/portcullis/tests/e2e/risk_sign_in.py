"""Threat protection at sign-in through boto3: each sign-in gets a risk level from
signals the test controls (the address and user agent an app vouches for in the admin
flows' ContextData), the level's action applies (allow, MFA, block, notify), blocked and
skipped IP ranges, AUDIT against ENFORCED, AdminListUserAuthEvents (newest first, paged),
feedback by administrator, by the notification's one-click link and by its token, and
feedback changing what later sign-ins are judged against. With BREACHED_PASSWORD set (a
password in the server's breached-password corpus), the compromised-credentials check
at sign-in; with GEO set (the server reads the database geo_db.py writes), the city and
country of sign-ins and impossible travel; with TRUSTED_PROXY set (the server trusts 127.0.0.1 as a proxy), the client
address taken from X-Forwarded-For.

Usage: risk_sign_in.py URL DATA_DIR
DATA_DIR holds the servers' outbox.jsonl files (searched recursively), where the risk
notifications and MFA codes are written.
Admin credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY."""

import glob
import json
import os
import re
import sys
import time
import urllib.error
import urllib.request
import uuid

import boto3
from botocore import UNSIGNED
from botocore.config import Config
from e2e_common import URL, REGION, check, expect_error, idp

DATA_DIR = sys.argv[2]
GEO = bool(os.environ.get("GEO"))
PASSWORD = "Correct-Horse-9"
SES = "arn:aws:ses:us-east-1:123456789012:identity/example.com"
SMS = {"SnsCallerArn": "arn:aws:iam::123456789012:role/sns", "ExternalId": "portcullis"}
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36"
SAFARI = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_1) AppleWebKit/605.1.15 Version/17.1 Safari/605.1.15"
EDGE = "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 Chrome/120.0 Mobile Safari/537.36 Edg/120.0"
OPERA = "Mozilla/5.0 (Windows NT 10.0) AppleWebKit/537.36 Chrome/120.0 Safari/537.36 OPR/105.0"

admin = idp()
public = boto3.client("cognito-idp", endpoint_url=URL, region_name=REGION,
                      config=Config(signature_version=UNSIGNED, retries={"max_attempts": 1}))

CONFIGURATION = {
    "CompromisedCredentialsRiskConfiguration": {
        "EventFilter": ["SIGN_IN"], "Actions": {"EventAction": "BLOCK"}},
    "AccountTakeoverRiskConfiguration": {
        "NotifyConfiguration": {
            "From": "security@example.com", "SourceArn": SES,
            "BlockEmail": {"Subject": "Blocked sign-in for {username}",
                           "TextBody": "Blocked {device-name} at {ip-address}. "
                                       "Not you? {one-click-link-invalid} Was it? {one-click-link-valid}"},
            "MfaEmail": {"Subject": "Second factor asked",
                         "TextBody": "Event {event-id} token {feedback-token} from {device-name}"},
        },
        "Actions": {
            "LowAction": {"Notify": False, "EventAction": "NO_ACTION"},
            "MediumAction": {"Notify": True, "EventAction": "MFA_IF_CONFIGURED"},
            "HighAction": {"Notify": True, "EventAction": "BLOCK"},
        },
    },
    "RiskExceptionConfiguration": {
        "BlockedIPRangeList": ["192.0.2.0/24"], "SkippedIPRangeList": ["10.0.0.0/8"]},
}


def messages():
    found = []
    for path in glob.glob(os.path.join(DATA_DIR, "**", "outbox.jsonl"), recursive=True):
        with open(path) as f:
            found += [json.loads(line) for line in f if line.strip()]
    return found


def last_message(username, kind=None, channel=None):
    mine = [m for m in messages() if m["username"] == username
            and (kind is None or m["kind"] == kind)
            and (channel is None or m["channel"] == channel)]
    assert mine, f"no {kind or channel} message for {username}: {messages()}"
    return mine[-1]


def context(ip, agent):
    return {"IpAddress": ip, "ServerName": "app.example.com", "ServerPath": "/login",
            "HttpHeaders": [{"headerName": "User-Agent", "headerValue": agent}]}


def sign_in(pool, client, username, ip, agent, password=PASSWORD):
    return admin.admin_initiate_auth(
        UserPoolId=pool, ClientId=client, AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": password},
        ContextData=context(ip, agent))


def events(pool, username, count=None):
    """The user's events; with `count`, waits for that many (failed sign-ins are
    recorded in the background)."""
    deadline = time.monotonic() + 10
    while True:
        listed = admin.admin_list_user_auth_events(UserPoolId=pool, Username=username)["AuthEvents"]
        if count is None or len(listed) >= count or time.monotonic() > deadline:
            return listed
        time.sleep(0.1)


def risk(event):
    return (event["EventRisk"]["RiskDecision"], event["EventRisk"].get("RiskLevel"))


def challenges(event):
    return [(c["ChallengeName"], c["ChallengeResponse"]) for c in event.get("ChallengeResponses", [])]


def new_pool(name, mode="ENFORCED", **extra):
    pool = admin.create_user_pool(
        PoolName=f"{name}-{uuid.uuid4().hex[:8]}", UserPoolTier="PLUS",
        UserPoolAddOns={"AdvancedSecurityMode": mode}, SmsConfiguration=SMS,
        MfaConfiguration="OPTIONAL", **extra)["UserPool"]["Id"]
    admin.set_user_pool_mfa_config(
        UserPoolId=pool, MfaConfiguration="OPTIONAL",
        SmsMfaConfiguration={"SmsAuthenticationMessage": "Code {####}"})
    client = admin.create_user_pool_client(
        UserPoolId=pool, ClientName="app",
        ExplicitAuthFlows=["ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_USER_PASSWORD_AUTH",
                           "ALLOW_REFRESH_TOKEN_AUTH"])["UserPoolClient"]["ClientId"]
    return pool, client


def new_user(pool, username, password=PASSWORD):
    admin.admin_create_user(
        UserPoolId=pool, Username=username, MessageAction="SUPPRESS",
        UserAttributes=[{"Name": "email", "Value": f"{username}@example.com"},
                        {"Name": "email_verified", "Value": "true"},
                        {"Name": "phone_number", "Value": "+15555550199"},
                        {"Name": "phone_number_verified", "Value": "true"}])
    admin.admin_set_user_password(UserPoolId=pool, Username=username, Password=password,
                                  Permanent=True)


def main():
    pool, client = new_pool("risk-signin")
    admin.set_risk_configuration(UserPoolId=pool, **CONFIGURATION)
    user = f"rita-{uuid.uuid4().hex[:6]}"
    new_user(pool, user)

    # A: no history yet, nothing to compare: no risk. B: the same device on the same
    # network: no risk.
    assert "AuthenticationResult" in sign_in(pool, client, user, "198.51.100.7", FIREFOX)
    assert "AuthenticationResult" in sign_in(pool, client, user, "198.51.100.9", FIREFOX)
    first, = [e for e in events(pool, user) if e["EventContextData"]["IpAddress"] == "198.51.100.7"]
    assert first["EventType"] == "SignIn" and first["EventResponse"] == "Pass", first
    assert risk(first) == ("NoRisk", "Low"), first
    assert first["EventRisk"]["CompromisedCredentialsDetected"] is False, first
    assert challenges(first) == [("Password", "Success")], first
    assert first["EventContextData"]["DeviceName"] == "Firefox, Linux", first
    if GEO:
        assert first["EventContextData"]["City"] == "Paris", first
        assert first["EventContextData"]["Country"] == "France", first
    check("a sign-in is recorded with its context; a known device and network are no risk")

    # C: a new device on a known network: low risk, no action.
    assert "AuthenticationResult" in sign_in(pool, client, user, "198.51.100.20", CHROME)
    newest = events(pool, user)[0]
    assert risk(newest) == ("AccountTakeover", "Low"), newest
    assert newest["EventContextData"]["DeviceName"] == "Chrome, Windows", newest
    event_c = newest["EventId"]
    check("a new device is a low risk, let through (NO_ACTION)")

    # D: a new device on a new network: medium risk, MFA if configured, and a
    # notification. The user has no MFA of their own, but a verified phone number.
    answer = sign_in(pool, client, user, "203.0.113.5", SAFARI)
    assert answer.get("ChallengeName") == "SMS_MFA", answer
    in_progress = events(pool, user)[0]
    assert in_progress["EventResponse"] == "InProgress", in_progress
    assert risk(in_progress) == ("AccountTakeover", "Medium"), in_progress
    notice = last_message(user, "AccountTakeoverNotification")
    assert notice["subject"] == "Second factor asked", notice
    assert notice["destination"] == f"{user}@example.com", notice
    event_d = in_progress["EventId"]
    assert f"Event {event_d} token " in notice["message"], notice
    feedback_token = re.search(r"token (\S+) from Safari, macOS", notice["message"]).group(1)
    code = last_message(user, channel="sms")["code"]
    done = admin.admin_respond_to_auth_challenge(
        UserPoolId=pool, ClientId=client, ChallengeName="SMS_MFA", Session=answer["Session"],
        ChallengeResponses={"USERNAME": user, "SMS_MFA_CODE": code},
        ContextData=context("203.0.113.5", SAFARI))
    assert "AuthenticationResult" in done, done
    passed = events(pool, user)[0]
    assert passed["EventId"] == event_d and passed["EventResponse"] == "Pass", passed
    assert challenges(passed) == [("Password", "Success"), ("Mfa", "Success")], passed
    check("a new device on a new network is a medium risk: MFA asked, the user notified")

    # E: three wrong passwords, then the right one from another new device and network:
    # high risk, blocked, the user notified with one-click links.
    for _ in range(3):
        expect_error("NotAuthorizedException", sign_in, pool, client, user, "198.18.0.5", EDGE,
                     password="Wrong-Horse-1")
    message = expect_error("NotAuthorizedException", sign_in, pool, client, user, "198.18.0.5", EDGE)
    assert message == "Unable to login because of security reasons.", message
    listed = events(pool, user, count=8)
    blocked = listed[0]
    assert risk(blocked) == ("AccountTakeover", "High"), blocked
    assert blocked["EventResponse"] == "Fail", blocked
    assert challenges(blocked) == [("Password", "Success")], blocked
    failures = [e for e in listed if challenges(e) == [("Password", "Failure")]]
    assert len(failures) == 3 and all(e["EventResponse"] == "Fail" for e in failures), listed
    block_notice = last_message(user, "AccountTakeoverNotification")
    assert block_notice["subject"] == f"Blocked sign-in for {user}", block_notice
    assert "Blocked Edge, Android at 198.18.0.5." in block_notice["message"], block_notice
    invalid_link = re.search(r"Not you\? (\S+)", block_notice["message"]).group(1)
    check("failures, a new device and a new network are a high risk: blocked, the user notified")

    # F: a blocked range is blocked whatever the device. G: a skipped range is not
    # assessed.
    message = expect_error("NotAuthorizedException", sign_in, pool, client, user, "192.0.2.5", FIREFOX)
    assert message == "Unable to login because of security reasons.", message
    assert risk(events(pool, user, count=9)[0]) == ("Block", "High")
    assert "AuthenticationResult" in sign_in(pool, client, user, "10.1.2.3", OPERA)
    skipped = events(pool, user)[0]
    assert skipped["EventRisk"]["RiskDecision"] == "NoRisk" and "RiskLevel" not in skipped["EventRisk"], skipped
    check("a blocked IP range is blocked, a skipped one is not assessed")

    # The history: newest first, paged.
    everything = events(pool, user)
    assert len(everything) == 10, everything
    dates = [e["CreationDate"] for e in everything]
    assert dates == sorted(dates, reverse=True), dates
    paged, token = [], None
    while True:
        args = {"UserPoolId": pool, "Username": user, "MaxResults": 3}
        if token:
            args["NextToken"] = token
        page = admin.admin_list_user_auth_events(**args)
        assert len(page["AuthEvents"]) <= 3
        paged += page["AuthEvents"]
        token = page.get("NextToken")
        if not token:
            break
    assert [e["EventId"] for e in paged] == [e["EventId"] for e in everything]
    expect_error("InvalidParameterException", admin.admin_list_user_auth_events,
                 UserPoolId=pool, Username=user, MaxResults=61)
    expect_error("UserNotFoundException", admin.admin_list_user_auth_events,
                 UserPoolId=pool, Username="nobody-here")
    check("AdminListUserAuthEvents lists newest first and pages")

    # Feedback: the notification's one-click link, the token by the user, the
    # administrator.
    with urllib.request.urlopen(invalid_link) as page:
        assert page.status == 200 and "not yours" in page.read().decode()
    marked = [e for e in events(pool, user) if e["EventId"] == blocked["EventId"]][0]
    assert marked["EventFeedback"]["FeedbackValue"] == "Invalid", marked
    assert marked["EventFeedback"]["Provider"] == "User", marked
    assert "FeedbackDate" in marked["EventFeedback"], marked
    expect_error("NotAuthorizedException", public.update_auth_event_feedback,
                 UserPoolId=pool, Username=user, EventId=event_d,
                 FeedbackToken="not-the-token", FeedbackValue="Valid")
    public.update_auth_event_feedback(UserPoolId=pool, Username=user, EventId=event_d,
                                      FeedbackToken=feedback_token, FeedbackValue="Valid")
    marked = [e for e in events(pool, user) if e["EventId"] == event_d][0]
    assert marked["EventFeedback"]["FeedbackValue"] == "Valid", marked
    expect_error("ResourceNotFoundException", admin.admin_update_auth_event_feedback,
                 UserPoolId=pool, Username=user, EventId="no-such-event", FeedbackValue="Valid")
    expect_error("InvalidParameterException", admin.admin_update_auth_event_feedback,
                 UserPoolId=pool, Username=user, EventId=event_c, FeedbackValue="Maybe")
    check("feedback by one-click link and by token; a wrong token is refused")

    # Feedback feeds the history: the Chrome device is known (C passed), until the
    # administrator says C was not the user.
    assert "AuthenticationResult" in sign_in(pool, client, user, "198.51.100.31", CHROME)
    assert risk(events(pool, user)[0]) == ("NoRisk", "Low")
    chrome = [e["EventId"] for e in events(pool, user)
              if e["EventContextData"].get("DeviceName") == "Chrome, Windows"]
    for event_id in chrome:
        admin.admin_update_auth_event_feedback(UserPoolId=pool, Username=user,
                                               EventId=event_id, FeedbackValue="Invalid")
    marked = [e for e in events(pool, user) if e["EventId"] == event_c][0]
    assert marked["EventFeedback"]["Provider"] == "Admin", marked
    assert "AuthenticationResult" in sign_in(pool, client, user, "198.51.100.32", CHROME)
    assert risk(events(pool, user)[0]) == ("AccountTakeover", "Low")
    check("an event marked Invalid no longer vouches for its device")

    if GEO:
        # Paris a minute ago, Sydney now, on a known device: impossible travel and a
        # new network make a high risk, blocked.
        expect_error("NotAuthorizedException", sign_in, pool, client, user, "100.64.0.9", FIREFOX)
        far = events(pool, user, count=13)[0]
        assert risk(far) == ("AccountTakeover", "High"), far
        assert far["EventContextData"]["City"] == "Sydney", far
        assert far["EventContextData"]["Country"] == "Australia", far
        check("a sign-in from the other side of the world a minute later is impossible travel")

    # AUDIT: judged and recorded, never enforced.
    admin.update_user_pool(UserPoolId=pool, UserPoolTier="PLUS", SmsConfiguration=SMS,
                           MfaConfiguration="OPTIONAL",
                           UserPoolAddOns={"AdvancedSecurityMode": "AUDIT"})
    assert "AuthenticationResult" in sign_in(pool, client, user, "192.0.2.9", FIREFOX)
    audited = events(pool, user)[0]
    assert risk(audited) == ("Block", "High") and audited["EventResponse"] == "Pass", audited
    check("AUDIT records the risk and blocks nothing")

    # Events that check no secret: a sign-up, a code sent again, a reset asked for.
    codes, codes_client = new_pool("risk-codes", AutoVerifiedAttributes=["email"])
    sam = f"sam-{uuid.uuid4().hex[:6]}"
    public.sign_up(ClientId=codes_client, Username=sam, Password=PASSWORD,
                   UserAttributes=[{"Name": "email", "Value": f"{sam}@example.com"}])
    public.resend_confirmation_code(ClientId=codes_client, Username=sam)
    admin.admin_confirm_sign_up(UserPoolId=codes, Username=sam)
    admin.admin_update_user_attributes(UserPoolId=codes, Username=sam, UserAttributes=[
        {"Name": "email_verified", "Value": "true"}])
    public.forgot_password(ClientId=codes_client, Username=sam)
    kinds = [e["EventType"] for e in events(codes, sam, count=3)]
    assert kinds == ["ForgotPassword", "ResendCode", "SignUp"], kinds
    signed_up = events(codes, sam)[-1]
    assert signed_up["EventResponse"] == "Pass", signed_up
    assert not signed_up.get("ChallengeResponses"), signed_up
    assert signed_up["EventContextData"]["IpAddress"] in ("127.0.0.1", "::1"), signed_up
    check("sign-ups, codes sent again and resets asked for are events too")

    off = admin.create_user_pool(PoolName=f"risk-off-{uuid.uuid4().hex[:6]}")["UserPool"]["Id"]
    admin.admin_create_user(UserPoolId=off, Username="olga", MessageAction="SUPPRESS")
    expect_error("UserPoolAddOnNotEnabledException", admin.admin_list_user_auth_events,
                 UserPoolId=off, Username="olga")
    expect_error("UserPoolAddOnNotEnabledException", admin.admin_update_auth_event_feedback,
                 UserPoolId=off, Username="olga", EventId="e1", FeedbackValue="Valid")
    check("without threat protection there is no auth-event history")

    breached = os.environ.get("BREACHED_PASSWORD")
    if breached:
        pool2, client2 = new_pool("risk-breached")
        admin.set_risk_configuration(UserPoolId=pool2, **CONFIGURATION)
        victim = f"bree-{uuid.uuid4().hex[:6]}"
        new_user(pool2, victim, password=breached)
        message = expect_error("NotAuthorizedException", sign_in, pool2, client2, victim,
                               "198.51.100.7", FIREFOX, password=breached)
        assert message == "Unable to login because of security reasons.", message
        event = events(pool2, victim, count=1)[0]
        assert event["EventRisk"]["CompromisedCredentialsDetected"] is True, event
        lenient = dict(CONFIGURATION)
        lenient["CompromisedCredentialsRiskConfiguration"] = {
            "EventFilter": ["SIGN_IN"], "Actions": {"EventAction": "NO_ACTION"}}
        admin.set_risk_configuration(UserPoolId=pool2, **lenient)
        assert "AuthenticationResult" in sign_in(pool2, client2, victim, "198.51.100.7", FIREFOX,
                                                 password=breached)
        event = events(pool2, victim)[0]
        assert event["EventRisk"]["CompromisedCredentialsDetected"] is True, event
        assert event["EventResponse"] == "Pass", event
        check("a breached password is blocked at sign-in (BLOCK) or only recorded (NO_ACTION)")

    # The public flow: the address is the request's own, or, from a trusted proxy, the
    # client X-Forwarded-For names.
    proxied = boto3.client("cognito-idp", endpoint_url=URL, region_name=REGION,
                           config=Config(signature_version=UNSIGNED, retries={"max_attempts": 1}))

    def forwarded(request, **_):
        request.headers["X-Forwarded-For"] = "192.0.2.77"
    proxied.meta.events.register("before-send.cognito-idp.InitiateAuth", forwarded)
    pool3, client3 = new_pool("risk-proxy")
    admin.set_risk_configuration(UserPoolId=pool3, **CONFIGURATION)
    walker = f"wally-{uuid.uuid4().hex[:6]}"
    new_user(pool3, walker)
    call = (proxied.initiate_auth, )
    arguments = {"ClientId": client3, "AuthFlow": "USER_PASSWORD_AUTH",
                 "AuthParameters": {"USERNAME": walker, "PASSWORD": PASSWORD}}
    if os.environ.get("TRUSTED_PROXY"):
        expect_error("NotAuthorizedException", call[0], **arguments)
        assert events(pool3, walker, count=1)[0]["EventContextData"]["IpAddress"] == "192.0.2.77"
        check("behind a trusted proxy, the client X-Forwarded-For names is judged")
    else:
        assert "AuthenticationResult" in call[0](**arguments)
        ip = events(pool3, walker)[0]["EventContextData"]["IpAddress"]
        assert ip in ("127.0.0.1", "::1"), ip
        check("an untrusted X-Forwarded-For is ignored: the peer is judged")


try:
    main()
except urllib.error.HTTPError as err:
    raise AssertionError(f"{err.url}: {err.code} {err.read()!r}") from err
