"""Custom email and SMS senders, black-box: the functions behind a stand-in of the Lambda
Invoke API get every code and temporary password encrypted, and decrypt them with the AWS
Encryption SDK for Python as a function written for Cognito does — under a raw AES key
(mode `raw`), or through a KMS keyring whose `Decrypt` calls reach a stand-in of KMS
(mode `kms`), which also checks the server's `GenerateDataKey` signatures with botocore.

Arguments: the server's URL, the port to serve the Lambda API on, the mode, the port of
the KMS stand-in, the AES key (base64) or the KMS key pair, and the server's outbox."""

import base64
import json
import os
import sys
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import aws_encryption_sdk
import botocore.auth
import botocore.awsrequest
import botocore.credentials
from aws_encryption_sdk.identifiers import (CommitmentPolicy, EncryptionKeyType,
                                            WrappingAlgorithm)
from aws_encryption_sdk.internal.crypto.wrapping_keys import WrappingKey
from aws_encryption_sdk.key_providers.raw import RawMasterKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from e2e_common import check, expect_error, idp

LAMBDA_PORT = int(sys.argv[2])
MODE = sys.argv[3]
KMS_PORT = int(sys.argv[4])
SECRET = sys.argv[5]
OUTBOX = sys.argv[6]
ACCOUNT = "123456789012"
KEY_ARN = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/8d1e7f8a-2f6c-4c4b-9d4e-{'0' * 11}1"
PASSWORD = "Correct-Horse-9"
SMS = {"SnsCallerArn": f"arn:aws:iam::{ACCOUNT}:role/sns", "ExternalId": "portcullis"}


def arn(name):
    return f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{name}"


# --- the functions ---------------------------------------------------------------------

EVENTS = []
LOCK = threading.Lock()


class LambdaApi(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        event = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        name = self.path.split("/")[3].split("%3A")[-1]
        with LOCK:
            EVENTS.append((name, event))
        if name == "sender-fails":
            body = json.dumps({"errorType": "Error", "errorMessage": "SES said no"}).encode()
            return self.answer(body, {"X-Amz-Function-Error": "Unhandled"})
        self.answer(json.dumps(event).encode())

    def answer(self, body, headers=None):
        self.send_response(200)
        for header, value in (headers or {}).items():
            self.send_header(header, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def events_of(name):
    with LOCK:
        return [event for (n, event) in EVENTS if n == name]


# --- a KMS stand-in: GenerateDataKey for the server, Decrypt for the function ----------

KMS_MASTER = AESGCM(os.urandom(32))
KMS_CALLS = []


def verify_kms_signature(handler, body, key_id, secret):
    authorization = handler.headers["Authorization"]
    fields = dict(part.strip().split("=", 1) for part in
                  authorization[len("AWS4-HMAC-SHA256 "):].split(","))
    scope = fields["Credential"].split("/")
    assert scope[0] == key_id and scope[2:] == ["us-east-1", "kms", "aws4_request"], scope
    request = botocore.awsrequest.AWSRequest(
        method="POST", url=f"http://127.0.0.1:{KMS_PORT}{handler.path}", data=body,
        headers={name: handler.headers[name] for name in fields["SignedHeaders"].split(";")})
    request.context["timestamp"] = handler.headers["X-Amz-Date"]
    auth = botocore.auth.SigV4Auth(botocore.credentials.Credentials(key_id, secret),
                                   "kms", "us-east-1")
    expected = auth.signature(
        auth.string_to_sign(request, auth.canonical_request(request)), request)
    assert fields["Signature"] == expected, "GenerateDataKey's signature does not verify"


class Kms(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        target = self.headers["X-Amz-Target"]
        request = json.loads(body)
        context = json.dumps(request.get("EncryptionContext", {}), sort_keys=True).encode()
        with LOCK:
            KMS_CALLS.append((target, request))
        if request.get("KeyId") not in (None, KEY_ARN):
            return self.answer(400, {"__type": "NotFoundException", "message": "no such key"})
        if target == "TrentService.GenerateDataKey":
            key_id, secret = SECRET.split(":")
            verify_kms_signature(self, body, key_id, secret)
            assert request["NumberOfBytes"] == 32, request
            plaintext, nonce = os.urandom(32), os.urandom(12)
            blob = nonce + KMS_MASTER.encrypt(nonce, plaintext, context)
            return self.answer(200, {"KeyId": KEY_ARN,
                                     "Plaintext": base64.b64encode(plaintext).decode(),
                                     "CiphertextBlob": base64.b64encode(blob).decode()})
        if target == "TrentService.Decrypt":
            blob = base64.b64decode(request["CiphertextBlob"])
            plaintext = KMS_MASTER.decrypt(blob[:12], blob[12:], context)
            return self.answer(200, {"KeyId": KEY_ARN,
                                     "Plaintext": base64.b64encode(plaintext).decode(),
                                     "EncryptionAlgorithm": "SYMMETRIC_DEFAULT"})
        self.answer(400, {"__type": "UnsupportedOperationException"})

    def answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


# --- decrypting as a function does ---------------------------------------------------------


def key_provider():
    if MODE == "raw":
        return RawMasterKey(
            provider_id="portcullis", key_id=KEY_ARN.encode(),
            wrapping_key=WrappingKey(
                wrapping_algorithm=WrappingAlgorithm.AES_256_GCM_IV12_TAG16_NO_PADDING,
                wrapping_key=base64.b64decode(SECRET),
                wrapping_key_type=EncryptionKeyType.SYMMETRIC))
    # The function's KMS keyring, its Decrypt calls sent to the stand-in.
    os.environ["AWS_ENDPOINT_URL_KMS"] = f"http://127.0.0.1:{KMS_PORT}"
    return aws_encryption_sdk.StrictAwsKmsMasterKeyProvider(key_ids=[KEY_ARN])


PROVIDER = None


def decrypt(event, pool_id):
    """The code of a custom sender event, as the AWS documentation's example decrypts it
    (the policy Cognito's examples use, which also reads committing messages)."""
    client = aws_encryption_sdk.EncryptionSDKClient(
        commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_ALLOW_DECRYPT)
    plaintext, header = client.decrypt(source=base64.b64decode(event["request"]["code"]),
                                       key_provider=PROVIDER)
    assert header.encryption_context.get("userpool-id") == pool_id, header.encryption_context
    return plaintext.decode()


def check_event(event, source, pool_id, user_name, client_id, kind="customEmailSenderRequestV1"):
    assert set(event) == {"version", "triggerSource", "region", "userPoolId", "userName",
                          "callerContext", "request", "response"}, sorted(event)
    assert event["version"] == "1" and event["triggerSource"] == source, event
    assert event["region"] == "us-east-1" and event["userPoolId"] == pool_id
    assert event["userName"] == user_name, event["userName"]
    assert event["callerContext"]["clientId"] == client_id, event["callerContext"]
    request = event["request"]
    assert set(request) == {"type", "code", "clientMetadata", "userAttributes"}, request
    assert request["type"] == kind, request
    assert event["response"] == {}, event["response"]


def outbox_for(username):
    if not os.path.exists(OUTBOX):
        return []
    with open(OUTBOX) as outbox:
        return [line for line in map(json.loads, filter(str.strip, outbox))
                if line["username"] == username]


def main():
    global PROVIDER
    lambda_api = ThreadingHTTPServer(("127.0.0.1", LAMBDA_PORT), LambdaApi)
    threading.Thread(target=lambda_api.serve_forever, daemon=True).start()
    if MODE == "kms":
        kms = ThreadingHTTPServer(("127.0.0.1", KMS_PORT), Kms)
        threading.Thread(target=kms.serve_forever, daemon=True).start()
    PROVIDER = key_provider()
    cognito = idp()

    pool = cognito.create_user_pool(
        PoolName=f"senders-{uuid.uuid4().hex[:6]}", AutoVerifiedAttributes=["email"],
        SmsConfiguration=SMS, UserPoolTier="ESSENTIALS",
        LambdaConfig={
            "CustomEmailSender": {"LambdaVersion": "V1_0", "LambdaArn": arn("email-sender")},
            "CustomSMSSender": {"LambdaVersion": "V1_0", "LambdaArn": arn("sms-sender")},
            "CustomMessage": arn("custom-message"),
            "KMSKeyID": KEY_ARN,
        })["UserPool"]
    pool_id = pool["Id"]
    assert pool["LambdaConfig"]["KMSKeyID"] == KEY_ARN, pool["LambdaConfig"]
    client_id = cognito.create_user_pool_client(
        UserPoolId=pool_id, ClientName="app",
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )["UserPoolClient"]["ClientId"]

    # Sign-up: the confirmation code reaches the function only, encrypted.
    delivery = cognito.sign_up(
        ClientId=client_id, Username="ann", Password=PASSWORD,
        UserAttributes=[{"Name": "email", "Value": "ann@example.com"}],
        ClientMetadata={"campaign": "winter"})["CodeDeliveryDetails"]
    assert delivery["DeliveryMedium"] == "EMAIL", delivery
    event = events_of("email-sender")[-1]
    check_event(event, "CustomEmailSender_SignUp", pool_id, "ann", client_id)
    assert event["request"]["clientMetadata"] == {"campaign": "winter"}, event["request"]
    assert event["request"]["userAttributes"]["email"] == "ann@example.com"
    code = decrypt(event, pool_id)
    assert len(code) == 6 and code.isdigit(), "the code is the plaintext"
    assert code not in json.dumps(event), "the event carries the code in plaintext"
    assert not outbox_for("ann"), "the pool's own sender sent the message too"
    assert not events_of("custom-message"), "the custom message trigger ran beside a sender"

    cognito.resend_confirmation_code(ClientId=client_id, Username="ann")
    event = events_of("email-sender")[-1]
    check_event(event, "CustomEmailSender_ResendCode", pool_id, "ann", client_id)
    resent = decrypt(event, pool_id)
    cognito.confirm_sign_up(ClientId=client_id, Username="ann", ConfirmationCode=resent)
    check("sign-up and resend: codes reach the custom email sender encrypted, and confirm")

    cognito.forgot_password(ClientId=client_id, Username="ann")
    event = events_of("email-sender")[-1]
    check_event(event, "CustomEmailSender_ForgotPassword", pool_id, "ann", client_id)
    cognito.confirm_forgot_password(ClientId=client_id, Username="ann",
                                    ConfirmationCode=decrypt(event, pool_id),
                                    Password=PASSWORD + "x")
    tokens = cognito.initiate_auth(
        ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "ann", "PASSWORD": PASSWORD + "x"})["AuthenticationResult"]
    check("forgot password: the reset code decrypts and resets")

    access = tokens["AccessToken"]
    cognito.update_user_attributes(
        AccessToken=access, UserAttributes=[{"Name": "email", "Value": "ann@example.org"}])
    event = events_of("email-sender")[-1]
    check_event(event, "CustomEmailSender_UpdateUserAttribute", pool_id, "ann", client_id)
    cognito.verify_user_attribute(AccessToken=access, AttributeName="email",
                                  Code=decrypt(event, pool_id))
    cognito.get_user_attribute_verification_code(AccessToken=access, AttributeName="email")
    event = events_of("email-sender")[-1]
    check_event(event, "CustomEmailSender_VerifyUserAttribute", pool_id, "ann", client_id)
    decrypt(event, pool_id)
    check("attribute updates and verification codes")

    cognito.admin_create_user(
        UserPoolId=pool_id, Username="bo", DesiredDeliveryMediums=["EMAIL", "SMS"],
        UserAttributes=[{"Name": "email", "Value": "bo@example.com"},
                        {"Name": "phone_number", "Value": "+15555550142"}])
    email_event = events_of("email-sender")[-1]
    check_event(email_event, "CustomEmailSender_AdminCreateUser", pool_id, "bo",
                "CLIENT_ID_NOT_APPLICABLE")
    sms_event = events_of("sms-sender")[-1]
    check_event(sms_event, "CustomSMSSender_AdminCreateUser", pool_id, "bo",
                "CLIENT_ID_NOT_APPLICABLE", kind="customSMSSenderRequestV1")
    temporary = decrypt(email_event, pool_id)
    assert decrypt(sms_event, pool_id) == temporary
    challenge = cognito.initiate_auth(
        ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "bo", "PASSWORD": temporary})
    assert challenge["ChallengeName"] == "NEW_PASSWORD_REQUIRED", challenge
    assert not outbox_for("bo")
    check("AdminCreateUser: the temporary password reaches both senders and signs in")

    cognito.admin_update_user_attributes(
        UserPoolId=pool_id, Username="ann",
        UserAttributes=[{"Name": "phone_number", "Value": "+15555550199"},
                        {"Name": "phone_number_verified", "Value": "true"}])
    cognito.set_user_pool_mfa_config(UserPoolId=pool_id, MfaConfiguration="OPTIONAL",
                                     SmsMfaConfiguration={"SmsConfiguration": SMS})
    cognito.admin_set_user_mfa_preference(UserPoolId=pool_id, Username="ann",
                                          SMSMfaSettings={"Enabled": True, "PreferredMfa": True})
    challenge = cognito.initiate_auth(
        ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "ann", "PASSWORD": PASSWORD + "x"})
    assert challenge["ChallengeName"] == "SMS_MFA", challenge
    event = events_of("sms-sender")[-1]
    check_event(event, "CustomSMSSender_Authentication", pool_id, "ann", client_id,
                kind="customSMSSenderRequestV1")
    answer = cognito.respond_to_auth_challenge(
        ClientId=client_id, ChallengeName="SMS_MFA", Session=challenge["Session"],
        ChallengeResponses={"USERNAME": "ann", "SMS_MFA_CODE": decrypt(event, pool_id)})
    assert answer["AuthenticationResult"]["AccessToken"]
    check("an SMS MFA code reaches the custom SMS sender and signs in")

    cognito.update_user_pool(
        UserPoolId=pool_id, AutoVerifiedAttributes=["email"],
        LambdaConfig={
            "CustomEmailSender": {"LambdaVersion": "V1_0", "LambdaArn": arn("sender-fails")},
            "KMSKeyID": KEY_ARN,
        })
    message = expect_error("UserLambdaValidationException",
                           cognito.get_user_attribute_verification_code,
                           AccessToken=access, AttributeName="email")
    assert message == "CustomEmailSender failed with error SES said no.", message
    check("a sender that fails is the caller's error")

    if MODE == "kms":
        generated = [r for (t, r) in KMS_CALLS if t == "TrentService.GenerateDataKey"]
        assert generated and all(r["KeyId"] == KEY_ARN for r in generated), generated
        assert generated[-1]["EncryptionContext"] == {"userpool-id": pool_id}, generated[-1]
        cognito.update_user_pool(
            UserPoolId=pool_id, AutoVerifiedAttributes=["email"],
            LambdaConfig={
                "CustomEmailSender": {"LambdaVersion": "V1_0", "LambdaArn": arn("email-sender")},
                "KMSKeyID": KEY_ARN.replace("key/", "key/gone-"),
            })
        message = expect_error("UnexpectedLambdaException",
                               cognito.get_user_attribute_verification_code,
                               AccessToken=access, AttributeName="email")
        assert message == ("CustomEmailSender invocation failed due to error "
                           "KMSNotFoundException."), message
        check("data keys come from KMS GenerateDataKey, signed; an unknown key is an error")

    lambda_api.shutdown()


if __name__ == "__main__":
    main()
