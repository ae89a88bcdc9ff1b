"""Triggers, black-box: a pool's Lambda functions served by a stand-in of the AWS Lambda
Invoke API, which checks each call's SigV4 signature with botocore and runs handlers
written as the AWS documentation's examples are. Every event is kept, so its shape is
checked member by member.

Arguments: the server's URL, the port to serve the Lambda API on, the access key pair
the server signs its calls with, and the server's outbox file."""

import base64
import datetime
import json
import os
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import botocore.auth
import botocore.awsrequest
import botocore.credentials
from e2e_common import URL, check, expect_error, idp

LAMBDA_PORT = int(sys.argv[2])
LAMBDA_KEY, LAMBDA_SECRET = sys.argv[3], sys.argv[4]
OUTBOX = sys.argv[5]
ACCOUNT = "123456789012"
PASSWORD = "Correct-Horse-9"


def arn(name):
    return f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{name}"


# --- the functions, as a team would write them for Cognito --------------------------------


def pre_sign_up(event):
    email = event["request"]["userAttributes"].get("email", "")
    if email.endswith("@blocked.example"):
        raise Exception("Sign-ups from this domain are not allowed")
    if email.endswith("@example.com"):
        event["response"]["autoConfirmUser"] = True
        event["response"]["autoVerifyEmail"] = True
    return event


def pre_authentication(event):
    if event["userName"] == "frozen":
        raise Exception("This account is frozen")
    return event


def pre_token_v1(event):
    event["response"]["claimsOverrideDetails"] = {
        "claimsToAddOrOverride": {"tier": "gold", "sub": "not-allowed"},
        "claimsToSuppress": ["family_name"],
        "groupOverrideDetails": {"groupsToOverride": ["vip"],
                                 "iamRolesToOverride": [], "preferredRole": None},
    }
    return event


def pre_token_v2(event):
    event["response"]["claimsAndScopeOverrideDetails"] = {
        "idTokenGeneration": {"claimsToAddOrOverride": {"roles": ["reader", "writer"]}},
        "accessTokenGeneration": {
            "claimsToAddOrOverride": {"tenant": {"id": 7, "name": "acme"}},
            "claimsToSuppress": ["username"],
            "scopesToAdd": ["api/read"],
        },
    }
    return event


# The directory users are migrated out of.
LEGACY = {
    "old-kim": {"password": PASSWORD, "email": "old-kim@example.com"},
    "old-ann": {"password": "Another-Pass-1", "email": "old-ann@example.com"},
    "old-sam": {"password": PASSWORD, "email": "old-sam@example.com",
                "phone_number": "+15555550177"},
    # Welcomed by email rather than suppressed.
    "old-lee": {"password": PASSWORD, "email": "old-lee@example.com", "welcome": ["EMAIL"]},
}


def user_migration(event):
    user = LEGACY.get(event["userName"])
    if event["triggerSource"] == "UserMigration_Authentication":
        if user is None or user["password"] != event["request"]["password"]:
            raise Exception("Bad password")
        event["response"]["finalUserStatus"] = "CONFIRMED"
    elif event["triggerSource"] == "UserMigration_ForgotPassword":
        if user is None:
            raise Exception("Bad user")
    else:
        raise Exception("Unknown trigger source")
    event["response"]["userAttributes"] = {"email": user["email"], "email_verified": "true"}
    if "phone_number" in user:
        event["response"]["userAttributes"]["phone_number"] = user["phone_number"]
        event["response"]["enableSMSMFA"] = True
    if "welcome" in user:
        event["response"]["desiredDeliveryMediums"] = user["welcome"]
    else:
        event["response"]["messageAction"] = "SUPPRESS"
    return event


def custom_message(event):
    code = event["request"]["codeParameter"]
    if event["triggerSource"] == "CustomMessage_SignUp":
        event["response"]["emailSubject"] = "Welcome to Acme"
        event["response"]["emailMessage"] = f"Hello {event['userName']}, your code is {code}."
    elif event["triggerSource"] == "CustomMessage_AdminCreateUser":
        name = event["request"]["usernameParameter"]
        event["response"]["emailMessage"] = f"Sign in as {name} with {code}."
    elif event["triggerSource"] == "CustomMessage_ForgotPassword":
        event["response"]["emailMessage"] = "A message without the code is not used."
    return event


def define_auth_challenge(event):
    session = event["request"]["session"]
    custom = [r for r in session if r["challengeName"] == "CUSTOM_CHALLENGE"]
    if session and session[-1]["challengeName"] == "SRP_A":
        # The password first (amazon-cognito-identity-js's authenticateUser).
        event["response"]["issueTokens"] = False
        event["response"]["failAuthentication"] = False
        event["response"]["challengeName"] = "PASSWORD_VERIFIER"
    elif session and session[-1]["challengeName"] == "CUSTOM_CHALLENGE" \
            and session[-1]["challengeResult"]:
        event["response"]["issueTokens"] = True
        event["response"]["failAuthentication"] = False
    elif len(custom) >= 3:
        event["response"]["issueTokens"] = False
        event["response"]["failAuthentication"] = True
    else:
        event["response"]["issueTokens"] = False
        event["response"]["failAuthentication"] = False
        event["response"]["challengeName"] = "CUSTOM_CHALLENGE"
    return event


def create_auth_challenge(event):
    event["response"]["publicChallengeParameters"] = {"question": "What is 6 x 7?"}
    event["response"]["privateChallengeParameters"] = {"answer": "42"}
    event["response"]["challengeMetadata"] = f"QUESTION-{len(event['request']['session'])}"
    return event


def verify_auth_challenge(event):
    expected = event["request"]["privateChallengeParameters"]["answer"]
    event["response"]["answerCorrect"] = event["request"]["challengeAnswer"] == expected
    return event


def pre_token_v3(event):
    event["response"]["claimsAndScopeOverrideDetails"] = {
        "accessTokenGeneration": {
            "claimsToAddOrOverride": {"caller": event["triggerSource"]},
            "scopesToSuppress": ["https://api.example.com/write"],
        },
    }
    return event


def echo(event):
    return event


def fails(event):
    raise Exception("Something went wrong")


def slow(event):
    time.sleep(6)
    return event


FUNCTIONS = {
    "pre-sign-up": pre_sign_up,
    "post-confirmation": echo,
    "post-confirmation-fails": fails,
    "pre-authentication": pre_authentication,
    "post-authentication": echo,
    "post-authentication-slow": slow,
    "pre-token-v1": pre_token_v1,
    "pre-token-v2": pre_token_v2,
    "pre-token-v3": pre_token_v3,
    "user-migration": user_migration,
    "custom-message": custom_message,
    "define-auth-challenge": define_auth_challenge,
    "create-auth-challenge": create_auth_challenge,
    "verify-auth-challenge": verify_auth_challenge,
}
# Answers that are not events.
GARBAGE = {"pre-authentication-garbage": b"this is not json"}

EVENTS = []
EVENTS_LOCK = threading.Lock()


def verify_signature(handler, body):
    """Recomputes the call's SigV4 signature with botocore, from the signed headers."""
    authorization = handler.headers["Authorization"]
    fields = dict(part.strip().split("=", 1) for part in
                  authorization[len("AWS4-HMAC-SHA256 "):].split(","))
    signed = fields["SignedHeaders"].split(";")
    scope = fields["Credential"].split("/")
    assert scope[0] == LAMBDA_KEY and scope[2:] == ["us-east-1", "lambda", "aws4_request"], scope
    amz_date = handler.headers["X-Amz-Date"]
    request = botocore.awsrequest.AWSRequest(
        method="POST", url=f"http://127.0.0.1:{LAMBDA_PORT}{handler.path}", data=body,
        headers={name: handler.headers[name] for name in signed})
    request.context["timestamp"] = amz_date
    auth = botocore.auth.SigV4Auth(
        botocore.credentials.Credentials(LAMBDA_KEY, LAMBDA_SECRET), "lambda", "us-east-1")
    canonical = auth.canonical_request(request)
    expected = auth.signature(auth.string_to_sign(request, canonical), request)
    assert fields["Signature"] == expected, "the Invoke call's signature does not verify"
    stamp = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ")
    assert abs((datetime.datetime.utcnow() - stamp).total_seconds()) < 300


class LambdaApi(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        parts = self.path.split("/")
        # /2015-03-31/functions/<name or ARN>/invocations
        assert parts[1:3] == ["2015-03-31", "functions"] and parts[4] == "invocations"
        assert self.headers["X-Amz-Invocation-Type"] == "RequestResponse"
        verify_signature(self, body)
        name = urllib.parse.unquote(parts[3]).split(":")[-1]
        event = json.loads(body)
        with EVENTS_LOCK:
            EVENTS.append((name, json.loads(body)))
        if name in GARBAGE:
            return self.answer(200, GARBAGE[name])
        function = FUNCTIONS.get(name)
        if function is None:
            return self.answer(404, b'{"Type":"User","Message":"Function not found"}',
                               {"X-Amzn-ErrorType": "ResourceNotFoundException"})
        try:
            answer = json.dumps(function(event)).encode()
        except Exception as err:  # the function threw: Lambda's error answer
            error = {"errorType": "Error", "errorMessage": str(err)}
            return self.answer(200, json.dumps(error).encode(),
                               {"X-Amz-Function-Error": "Unhandled"})
        self.answer(200, answer)

    def answer(self, status, body, headers=None):
        try:
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the caller stopped waiting (the timeout case)


def events_of(name):
    with EVENTS_LOCK:
        return [event for (n, event) in EVENTS if n == name]


def last_event(name):
    events = events_of(name)
    assert events, f"{name} was not invoked"
    return events[-1]


def outbox_for(username):
    with open(OUTBOX) as outbox:
        lines = [json.loads(line) for line in outbox if line.strip()]
    return [line for line in lines if line["username"] == username]


def claims(token):
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def check_common(event, source, pool_id, user_name, client_id):
    """The members every trigger's event has, as Cognito sends them."""
    assert set(event) == {"version", "triggerSource", "region", "userPoolId", "userName",
                          "callerContext", "request", "response"}, sorted(event)
    assert event["triggerSource"] == source, event["triggerSource"]
    assert event["region"] == "us-east-1"
    assert event["userPoolId"] == pool_id
    assert event["userName"] == user_name, (event["userName"], user_name)
    assert event["callerContext"]["clientId"] == client_id
    sdk = event["callerContext"]["awsSdkVersion"]
    assert sdk.startswith("aws-sdk-") and sdk != "aws-sdk-unknown-unknown", sdk


def pool_with(cognito, name, lambda_config):
    pool = cognito.create_user_pool(
        PoolName=name, LambdaConfig=lambda_config,
        AutoVerifiedAttributes=["email"],
        Schema=[{"Name": "email", "AttributeDataType": "String", "Required": False}],
    )["UserPool"]
    client = cognito.create_user_pool_client(
        UserPoolId=pool["Id"], ClientName="app",
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_ADMIN_USER_PASSWORD_AUTH",
                           "ALLOW_REFRESH_TOKEN_AUTH"],
    )["UserPoolClient"]
    return pool["Id"], client["ClientId"]


def sign_in(cognito, client_id, username, **extra):
    return cognito.initiate_auth(
        ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": PASSWORD}, **extra)


def main():
    server = ThreadingHTTPServer(("127.0.0.1", LAMBDA_PORT), LambdaApi)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    cognito = idp()

    pool_id, client_id = pool_with(cognito, "triggers", {
        "PreSignUp": arn("pre-sign-up"),
        "PostConfirmation": arn("post-confirmation"),
        "PreAuthentication": arn("pre-authentication"),
        "PostAuthentication": arn("post-authentication"),
        "PreTokenGeneration": arn("pre-token-v1"),
    })

    # Pre sign-up: auto-confirmed and verified, with the request's data passed through.
    answer = cognito.sign_up(
        ClientId=client_id, Username="kim", Password=PASSWORD,
        UserAttributes=[{"Name": "email", "Value": "kim@example.com"},
                        {"Name": "family_name", "Value": "Lee"}],
        ValidationData=[{"Name": "invite", "Value": "abc"}],
        ClientMetadata={"campaign": "spring"})
    assert answer["UserConfirmed"] is True and "CodeDeliveryDetails" not in answer, answer
    event = last_event("pre-sign-up")
    check_common(event, "PreSignUp_SignUp", pool_id, "kim", client_id)
    assert event["version"] == "1"
    assert event["request"] == {
        "userAttributes": {"email": "kim@example.com", "family_name": "Lee"},
        "validationData": {"invite": "abc"},
        "clientMetadata": {"campaign": "spring"},
    }, event["request"]
    assert event["response"] == {"autoConfirmUser": False, "autoVerifyPhone": False,
                                 "autoVerifyEmail": False}, event["response"]
    user = cognito.admin_get_user(UserPoolId=pool_id, Username="kim")
    attributes = {a["Name"]: a["Value"] for a in user["UserAttributes"]}
    assert user["UserStatus"] == "CONFIRMED" and attributes["email_verified"] == "true"
    assert not events_of("post-confirmation"), "no post confirmation for an auto-confirmed user"
    check("pre sign-up confirms and verifies, with validation data and client metadata")

    # A refusal creates nothing.
    message = expect_error("UserLambdaValidationException", cognito.sign_up,
                           ClientId=client_id, Username="mallory", Password=PASSWORD,
                           UserAttributes=[{"Name": "email", "Value": "m@blocked.example"}])
    assert message == ("PreSignUp failed with error "
                       "Sign-ups from this domain are not allowed."), message
    expect_error("UserNotFoundException", cognito.admin_get_user,
                 UserPoolId=pool_id, Username="mallory")
    check("a refused sign-up creates no user")

    # An unconfirmed user, confirmed by the administrator: post confirmation.
    answer = cognito.sign_up(ClientId=client_id, Username="lee", Password=PASSWORD,
                             UserAttributes=[{"Name": "email", "Value": "lee@other.example"}])
    assert answer["UserConfirmed"] is False
    cognito.admin_confirm_sign_up(UserPoolId=pool_id, Username="lee",
                                  ClientMetadata={"by": "support"})
    event = last_event("post-confirmation")
    check_common(event, "PostConfirmation_ConfirmSignUp", pool_id, "lee",
                 "CLIENT_ID_NOT_APPLICABLE")
    request = event["request"]
    assert request["clientMetadata"] == {"by": "support"}
    assert request["userAttributes"]["cognito:user_status"] == "CONFIRMED", request
    assert request["userAttributes"]["email"] == "lee@other.example"
    assert request["userAttributes"]["sub"] == answer["UserSub"]
    assert event["response"] == {}
    check("post confirmation runs after AdminConfirmSignUp")

    # Pre and post authentication, and pre token generation (V1) on the ID token.
    tokens = sign_in(cognito, client_id, "kim",
                     ClientMetadata={"app": "web"})["AuthenticationResult"]
    event = last_event("pre-authentication")
    check_common(event, "PreAuthentication_Authentication", pool_id, "kim", client_id)
    assert event["request"]["validationData"] == {"app": "web"}, event["request"]
    assert event["request"]["userNotFound"] is False
    assert event["request"]["userAttributes"]["email"] == "kim@example.com"
    event = last_event("post-authentication")
    check_common(event, "PostAuthentication_Authentication", pool_id, "kim", client_id)
    assert event["request"]["newDeviceUsed"] is False
    assert event["request"]["clientMetadata"] == {"app": "web"}
    event = last_event("pre-token-v1")
    check_common(event, "TokenGeneration_Authentication", pool_id, "kim", client_id)
    assert event["version"] == "1"
    assert set(event["request"]) == {"userAttributes", "groupConfiguration", "clientMetadata"}
    assert event["request"]["groupConfiguration"] == {
        "groupsToOverride": [], "iamRolesToOverride": [], "preferredRole": None}
    assert event["response"] == {"claimsOverrideDetails": None}
    id_claims = claims(tokens["IdToken"])
    assert id_claims["tier"] == "gold" and "family_name" not in id_claims, id_claims
    assert id_claims["sub"] != "not-allowed", "a reserved claim was overridden"
    assert id_claims["cognito:groups"] == ["vip"], id_claims
    assert claims(tokens["AccessToken"])["cognito:groups"] == ["vip"]
    assert "tier" not in claims(tokens["AccessToken"]), "V1 changes only the ID token"
    check("pre and post authentication, and V1 claims in the ID token")

    refreshed = cognito.initiate_auth(
        ClientId=client_id, AuthFlow="REFRESH_TOKEN_AUTH",
        AuthParameters={"REFRESH_TOKEN": tokens["RefreshToken"]})["AuthenticationResult"]
    assert last_event("pre-token-v1")["triggerSource"] == "TokenGeneration_RefreshTokens"
    assert claims(refreshed["IdToken"])["tier"] == "gold"
    check("pre token generation runs again on refresh")

    # Pre sign-up for AdminCreateUser; a pre authentication refusal ends the sign-in.
    cognito.admin_create_user(UserPoolId=pool_id, Username="frozen",
                              UserAttributes=[{"Name": "email", "Value": "f@example.com"}],
                              MessageAction="SUPPRESS")
    event = last_event("pre-sign-up")
    check_common(event, "PreSignUp_AdminCreateUser", pool_id, "frozen",
                 "CLIENT_ID_NOT_APPLICABLE")
    cognito.admin_set_user_password(UserPoolId=pool_id, Username="frozen",
                                    Password=PASSWORD, Permanent=True)
    message = expect_error("UserLambdaValidationException", sign_in, cognito, client_id,
                           "frozen")
    assert message == "PreAuthentication failed with error This account is frozen.", message
    check("pre sign-up on AdminCreateUser; a pre authentication refusal")

    # V2: both tokens and the access token's scopes.
    v2_pool, v2_client = pool_with(cognito, "triggers-v2", {
        "PreTokenGenerationConfig": {"LambdaVersion": "V2_0",
                                     "LambdaArn": arn("pre-token-v2")},
    })
    cognito.admin_create_user(UserPoolId=v2_pool, Username="ana", MessageAction="SUPPRESS")
    cognito.admin_set_user_password(UserPoolId=v2_pool, Username="ana",
                                    Password=PASSWORD, Permanent=True)
    tokens = sign_in(cognito, v2_client, "ana")["AuthenticationResult"]
    event = last_event("pre-token-v2")
    check_common(event, "TokenGeneration_Authentication", v2_pool, "ana", v2_client)
    assert event["version"] == "2"
    assert event["request"]["scopes"] == ["aws.cognito.signin.user.admin"], event["request"]
    assert event["response"] == {"claimsAndScopeOverrideDetails": None}
    access = claims(tokens["AccessToken"])
    assert access["tenant"] == {"id": 7, "name": "acme"}, access
    assert access["username"] == "ana", "a reserved claim was suppressed"
    assert access["scope"].split() == ["aws.cognito.signin.user.admin", "api/read"], access
    assert claims(tokens["IdToken"])["roles"] == ["reader", "writer"]
    # The access token still opens the self-service operations.
    assert cognito.get_user(AccessToken=tokens["AccessToken"])["Username"] == "ana"
    check("V2 customizes both tokens and the access token's scopes")

    # User migration: signed in in the same call, with the password kept.
    old_pool, old_client = pool_with(cognito, "triggers-migration", {
        "UserMigration": arn("user-migration"),
        "PreAuthentication": arn("pre-authentication"),
    })
    tokens = sign_in(cognito, old_client, "old-kim",
                     ClientMetadata={"from": "legacy"})["AuthenticationResult"]
    event = last_event("user-migration")
    check_common(event, "UserMigration_Authentication", old_pool, "old-kim", old_client)
    assert event["request"] == {"password": PASSWORD, "validationData": {"from": "legacy"},
                                "clientMetadata": {"from": "legacy"}}, event["request"]
    assert event["response"] == {"userAttributes": None, "finalUserStatus": None,
                                 "messageAction": None, "desiredDeliveryMediums": None,
                                 "forceAliasCreation": None, "enableSMSMFA": None}
    assert claims(tokens["IdToken"])["email"] == "old-kim@example.com"
    user = cognito.admin_get_user(UserPoolId=old_pool, Username="old-kim")
    assert user["UserStatus"] == "CONFIRMED", user
    migrations = len(events_of("user-migration"))
    sign_in(cognito, old_client, "old-kim")
    assert len(events_of("user-migration")) == migrations, "a migrated user is migrated again"
    assert last_event("pre-authentication")["userName"] == "old-kim"
    message = expect_error("UserLambdaValidationException", sign_in, cognito, old_client,
                           "old-ann")
    assert message == "UserMigration failed with error Bad password.", message
    expect_error("UserNotFoundException", cognito.admin_get_user,
                 UserPoolId=old_pool, Username="old-ann")
    sign_in(cognito, old_client, "old-sam")
    user = cognito.admin_get_user(UserPoolId=old_pool, Username="old-sam")
    assert user["UserMFASettingList"] == ["SMS_MFA"], user
    assert outbox_for("old-kim") == [] and outbox_for("old-sam") == [], "SUPPRESS sent a welcome"
    sign_in(cognito, old_client, "old-lee")
    [welcome] = outbox_for("old-lee")
    # The pool's invitation, with no password in it.
    assert welcome["kind"] == "UserMigration" and welcome["channel"] == "email", welcome
    assert welcome["destination"] == "old-lee@example.com", welcome
    assert welcome["message"] == (
        "Your username is old-lee and temporary password is ********."), welcome
    assert welcome["subject"] == "Welcome" and "code" not in welcome, welcome
    # Refusals count as failed sign-ins of the name: the fifth locks it, and a locked
    # name's password is not tried on the old directory.
    for _ in range(4):
        expect_error("UserLambdaValidationException", sign_in, cognito, old_client, "old-ann")
    tries = len(events_of("user-migration"))
    message = expect_error("NotAuthorizedException", sign_in, cognito, old_client, "old-ann")
    assert message == "Password attempts exceeded", message
    assert len(events_of("user-migration")) == tries, "a locked name reached the function"
    hiding = cognito.create_user_pool_client(
        UserPoolId=old_pool, ClientName="hiding", ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"],
        PreventUserExistenceErrors="ENABLED")["UserPoolClient"]["ClientId"]
    message = expect_error("NotAuthorizedException", sign_in, cognito, hiding, "nobody")
    assert message == "Incorrect username or password.", message
    event = last_event("pre-authentication")
    assert event["userName"] == "nobody" and event["request"]["userNotFound"] is True, event
    assert event["request"]["userAttributes"] == {}, event["request"]
    check("user migration on sign-in, once, with or without a welcome; a refusal is "
          "Cognito's error and counts toward the name's lockout")

    answer = cognito.forgot_password(ClientId=old_client, Username="old-ann")
    assert answer["CodeDeliveryDetails"]["DeliveryMedium"] == "EMAIL", answer
    event = last_event("user-migration")
    check_common(event, "UserMigration_ForgotPassword", old_pool, "old-ann", old_client)
    assert "password" not in event["request"], event["request"]
    user = cognito.admin_get_user(UserPoolId=old_pool, Username="old-ann")
    assert user["UserStatus"] == "RESET_REQUIRED", user
    expect_error("PasswordResetRequiredException", cognito.initiate_auth, ClientId=old_client,
                 AuthFlow="USER_PASSWORD_AUTH",
                 AuthParameters={"USERNAME": "old-ann", "PASSWORD": "Another-Pass-1"})
    check("user migration on a password reset")

    # Custom message: the text and subject of the codes and invitations sent.
    msg_pool, msg_client = pool_with(cognito, "triggers-messages", {
        "CustomMessage": arn("custom-message"),
        "PostConfirmation": arn("post-confirmation"),
    })
    cognito.sign_up(ClientId=msg_client, Username="eve", Password=PASSWORD,
                    UserAttributes=[{"Name": "email", "Value": "eve@other.example"}],
                    ClientMetadata={"locale": "en"})
    event = last_event("custom-message")
    check_common(event, "CustomMessage_SignUp", msg_pool, "eve", msg_client)
    assert event["request"]["codeParameter"] == "{####}"
    assert event["request"]["usernameParameter"] is None
    assert event["request"]["clientMetadata"] == {"locale": "en"}
    assert event["request"]["userAttributes"]["cognito:user_status"] == "UNCONFIRMED"
    assert event["response"] == {"smsMessage": None, "emailMessage": None,
                                 "emailSubject": None}
    sent = outbox_for("eve")[-1]
    assert sent["subject"] == "Welcome to Acme", sent
    assert sent["message"] == f"Hello eve, your code is {sent['code']}.", sent
    cognito.confirm_sign_up(ClientId=msg_client, Username="eve",
                            ConfirmationCode=sent["code"])
    assert last_event("post-confirmation")["callerContext"]["clientId"] == msg_client
    cognito.admin_create_user(UserPoolId=msg_pool, Username="max",
                              UserAttributes=[{"Name": "email", "Value": "max@other.example"}],
                              DesiredDeliveryMediums=["EMAIL"])
    assert last_event("custom-message")["request"]["usernameParameter"] == "{username}"
    sent = outbox_for("max")[-1]
    assert sent["message"] == f"Sign in as max with {sent['code']}.", sent
    cognito.forgot_password(ClientId=msg_client, Username="eve")
    assert last_event("custom-message")["triggerSource"] == "CustomMessage_ForgotPassword"
    sent = outbox_for("eve")[-1]
    assert sent["kind"] == "ForgotPassword" and sent["code"] in sent["message"], sent
    assert "without the code" not in sent["message"], sent
    access = sign_in(cognito, msg_client, "eve")["AuthenticationResult"]["AccessToken"]
    cognito.update_user_attributes(
        AccessToken=access, UserAttributes=[{"Name": "email", "Value": "eve2@other.example"}],
        ClientMetadata={"reason": "moved"})
    event = last_event("custom-message")
    check_common(event, "CustomMessage_UpdateUserAttribute", msg_pool, "eve", msg_client)
    assert event["request"]["clientMetadata"] == {"reason": "moved"}, event["request"]
    check("custom message: sign-up code, invitation, attribute update, and a text without "
          "the code ignored")

    # CUSTOM_AUTH: the challenges the define / create / verify functions decide.
    auth_pool, _ = pool_with(cognito, "triggers-custom-auth", {
        "DefineAuthChallenge": arn("define-auth-challenge"),
        "CreateAuthChallenge": arn("create-auth-challenge"),
        "VerifyAuthChallengeResponse": arn("verify-auth-challenge"),
    })
    auth_client = cognito.create_user_pool_client(
        UserPoolId=auth_pool, ClientName="custom",
        ExplicitAuthFlows=["ALLOW_CUSTOM_AUTH", "ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )["UserPoolClient"]["ClientId"]
    cognito.admin_create_user(UserPoolId=auth_pool, Username="quinn", MessageAction="SUPPRESS")
    cognito.admin_set_user_password(UserPoolId=auth_pool, Username="quinn",
                                    Password=PASSWORD, Permanent=True)

    def custom(**extra):
        return cognito.initiate_auth(ClientId=auth_client, AuthFlow="CUSTOM_AUTH",
                                     AuthParameters={"USERNAME": "quinn"}, **extra)

    def answer(session, text):
        return cognito.respond_to_auth_challenge(
            ClientId=auth_client, ChallengeName="CUSTOM_CHALLENGE", Session=session,
            ChallengeResponses={"USERNAME": "quinn", "ANSWER": text})

    first = custom(ClientMetadata={"channel": "app"})
    assert first["ChallengeName"] == "CUSTOM_CHALLENGE", first
    assert first["ChallengeParameters"] == {"question": "What is 6 x 7?", "USERNAME": "quinn"}
    event = last_event("define-auth-challenge")
    check_common(event, "DefineAuthChallenge_Authentication", auth_pool, "quinn", auth_client)
    assert event["request"]["session"] == [] and event["request"]["userNotFound"] is False
    assert event["request"]["clientMetadata"] == {"channel": "app"}
    assert event["response"] == {"challengeName": None, "issueTokens": None,
                                 "failAuthentication": None}
    event = last_event("create-auth-challenge")
    check_common(event, "CreateAuthChallenge_Authentication", auth_pool, "quinn", auth_client)
    assert event["request"]["challengeName"] == "CUSTOM_CHALLENGE"
    assert event["response"] == {"publicChallengeParameters": None,
                                 "privateChallengeParameters": None, "challengeMetadata": None}
    second = answer(first["Session"], "41")
    assert second["ChallengeName"] == "CUSTOM_CHALLENGE", second
    event = last_event("verify-auth-challenge")
    check_common(event, "VerifyAuthChallengeResponse_Authentication", auth_pool, "quinn",
                 auth_client)
    assert event["request"]["privateChallengeParameters"] == {"answer": "42"}
    assert event["request"]["challengeAnswer"] == "41"
    assert event["response"] == {"answerCorrect": None}
    assert last_event("define-auth-challenge")["request"]["session"] == [
        {"challengeName": "CUSTOM_CHALLENGE", "challengeResult": False,
         "challengeMetadata": "QUESTION-0"}]
    tokens = answer(second["Session"], "42")["AuthenticationResult"]
    assert claims(tokens["AccessToken"])["username"] == "quinn"
    message = expect_error("NotAuthorizedException", answer, second["Session"], "42")
    assert message == "Invalid session for the user, session is expired.", message
    round_ = custom()
    for _ in range(2):
        round_ = answer(round_["Session"], "0")
    message = expect_error("NotAuthorizedException", answer, round_["Session"], "0")
    assert message == "Incorrect username or password.", message
    # Where the client hides which users exist, an unknown name gets the same challenges
    # (the functions are told userNotFound) and never tokens.
    hiding = cognito.create_user_pool_client(
        UserPoolId=auth_pool, ClientName="hiding", ExplicitAuthFlows=["ALLOW_CUSTOM_AUTH"],
        PreventUserExistenceErrors="ENABLED")["UserPoolClient"]["ClientId"]
    ghost = cognito.initiate_auth(ClientId=hiding, AuthFlow="CUSTOM_AUTH",
                                  AuthParameters={"USERNAME": "ghost"})
    assert ghost["ChallengeParameters"] == {"question": "What is 6 x 7?", "USERNAME": "ghost"}
    event = last_event("create-auth-challenge")
    assert event["request"]["userNotFound"] is True and event["request"]["userAttributes"] == {}
    message = expect_error(
        "NotAuthorizedException", cognito.respond_to_auth_challenge, ClientId=hiding,
        ChallengeName="CUSTOM_CHALLENGE", Session=ghost["Session"],
        ChallengeResponses={"USERNAME": "ghost", "ANSWER": "42"})
    assert message == "Incorrect username or password.", message
    assert last_event("verify-auth-challenge")["request"]["userNotFound"] is True
    expect_error("UserNotFoundException", cognito.initiate_auth,
                 ClientId=auth_client, AuthFlow="CUSTOM_AUTH",
                 AuthParameters={"USERNAME": "ghost"})
    check("CUSTOM_AUTH: challenges made, judged and decided by the pool's functions")

    # The same through amazon-cognito-identity-js's customChallenge callback.
    node_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "node")
    setup = {"pool_id": auth_pool, "client_id": auth_client, "username": "quinn",
             "password": PASSWORD}
    run = subprocess.run(["node", "custom_auth.js", URL, json.dumps(setup)], cwd=node_dir,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0 and "node custom auth ok" in run.stdout, (run.stdout, run.stderr)
    assert last_event("define-auth-challenge")["request"]["session"][:2] == [
        {"challengeName": "SRP_A", "challengeResult": True, "challengeMetadata": None},
        {"challengeName": "PASSWORD_VERIFIER", "challengeResult": True,
         "challengeMetadata": None}], "the password step is in the session's rounds"
    # The library sends its ClientMetadata with InitiateAuth (not with its answers).
    assert any(event["request"]["clientMetadata"] == {"channel": "js"}
               for event in events_of("define-auth-challenge"))
    check("CUSTOM_AUTH through amazon-cognito-identity-js: challenges only, "
          "and the password (SRP) first")

    # V3: machine-to-machine tokens of the client_credentials grant too.
    m2m_pool, _ = pool_with(cognito, "triggers-v3", {
        "PreTokenGenerationConfig": {"LambdaVersion": "V3_0", "LambdaArn": arn("pre-token-v3")},
    })
    cognito.create_user_pool_domain(UserPoolId=m2m_pool, Domain="triggers-v3")
    cognito.create_resource_server(
        UserPoolId=m2m_pool, Identifier="https://api.example.com", Name="api",
        Scopes=[{"ScopeName": "read", "ScopeDescription": "read"},
                {"ScopeName": "write", "ScopeDescription": "write"}])
    machine = cognito.create_user_pool_client(
        UserPoolId=m2m_pool, ClientName="machine", GenerateSecret=True,
        AllowedOAuthFlows=["client_credentials"], AllowedOAuthFlowsUserPoolClient=True,
        AllowedOAuthScopes=["https://api.example.com/read", "https://api.example.com/write"],
    )["UserPoolClient"]
    basic = base64.b64encode(f"{machine['ClientId']}:{machine['ClientSecret']}".encode())
    grant = urllib.request.Request(
        f"{URL}/domain/triggers-v3/oauth2/token", method="POST",
        data=b"grant_type=client_credentials",
        headers={"Content-Type": "application/x-www-form-urlencoded",
                 "Authorization": "Basic " + basic.decode()})
    with urllib.request.urlopen(grant) as answer:
        access = claims(json.loads(answer.read())["access_token"])
    assert access["caller"] == "TokenGeneration_ClientCredentials", access
    assert access["scope"] == "https://api.example.com/read", access
    event = last_event("pre-token-v3")
    assert event["version"] == "3" and event["userName"] is None, event
    assert event["callerContext"]["clientId"] == machine["ClientId"]
    assert sorted(event["request"]["scopes"]) == ["https://api.example.com/read",
                                                  "https://api.example.com/write"]
    check("V3 customizes a client_credentials token")

    # Failures: Cognito's error for each, and nothing half done.
    bad_pool, bad_client = pool_with(cognito, "triggers-failing", {
        "PostConfirmation": arn("post-confirmation-fails"),
        "PreAuthentication": arn("pre-authentication-garbage"),
        "PostAuthentication": arn("post-authentication-slow"),
        "PreTokenGeneration": arn("no-such-function"),
    })
    cognito.sign_up(ClientId=bad_client, Username="tom", Password=PASSWORD,
                    UserAttributes=[{"Name": "email", "Value": "tom@other.example"}])
    message = expect_error("UserLambdaValidationException", cognito.admin_confirm_sign_up,
                           UserPoolId=bad_pool, Username="tom")
    assert message == "PostConfirmation failed with error Something went wrong.", message
    status = cognito.admin_get_user(UserPoolId=bad_pool, Username="tom")["UserStatus"]
    assert status == "CONFIRMED", "a failed post confirmation undid the confirmation"
    message = expect_error("InvalidLambdaResponseException", sign_in, cognito, bad_client,
                           "tom")
    assert message == "Unrecognizable lambda output", message
    check("a failed post confirmation keeps the confirmation; an unreadable answer")

    cognito.update_user_pool(UserPoolId=bad_pool, AutoVerifiedAttributes=["email"],
                             LambdaConfig={"PostAuthentication": arn("post-authentication-slow"),
                                           "PreTokenGeneration": arn("no-such-function")})
    started = time.monotonic()
    message = expect_error("UnexpectedLambdaException", sign_in, cognito, bad_client, "tom")
    took = time.monotonic() - started
    assert message == ("PostAuthentication invocation failed due to error "
                       "Socket timeout while invoking Lambda function."), message
    assert 4.5 < took < 6.5, f"the timeout took {took:.1f} s, not Cognito's 5"
    check("a function that does not answer in 5 seconds")

    cognito.update_user_pool(UserPoolId=bad_pool, AutoVerifiedAttributes=["email"],
                             LambdaConfig={"PreTokenGeneration": arn("no-such-function")})
    message = expect_error("UnexpectedLambdaException", sign_in, cognito, bad_client, "tom")
    assert message == ("PreTokenGeneration invocation failed due to error "
                       "ResourceNotFoundException."), message
    cognito.update_user_pool(UserPoolId=bad_pool, AutoVerifiedAttributes=["email"])
    assert "AuthenticationResult" in sign_in(cognito, bad_client, "tom")
    check("a function the Lambda API does not know; a pool without triggers signs in")

    server.shutdown()


if __name__ == "__main__":
    main()
