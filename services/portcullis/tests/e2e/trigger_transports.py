"""Triggers over the self-hosted transports, black-box: the pre sign-up function behind a
webhook whose every call is verified by the Standard Webhooks reference library, the
post confirmation function behind NATS request/reply (nats-py), as the server's
configuration file routes them.

Arguments: the server's URL, the webhook's port, its signing secret, the NATS URL."""

import asyncio
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import nats
from e2e_common import check, expect_error, idp
from standardwebhooks.webhooks import Webhook

HOOK_PORT, SECRET, NATS_URL = int(sys.argv[2]), sys.argv[3], sys.argv[4]
PASSWORD = "Correct-Horse-9"
ACCOUNT = "123456789012"
CALLS = []
LOCK = threading.Lock()


def arn(name):
    return f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{name}"


def record(transport, arn_header, event):
    with LOCK:
        CALLS.append((transport, arn_header, event))


def calls(transport):
    with LOCK:
        return [(arn_header, event) for (t, arn_header, event) in CALLS if t == transport]


class Hooks(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        headers = {name: self.headers[name]
                   for name in ("webhook-id", "webhook-timestamp", "webhook-signature")}
        # Raises unless the signature and timestamp verify.
        event = Webhook(SECRET).verify(body, headers)
        record("webhook", self.headers["Portcullis-Function-Arn"], event)
        email = event["request"]["userAttributes"].get("email", "")
        if email.endswith("@blocked.example"):
            return self.answer(400, {"errorMessage": "blocked over the webhook"})
        event["response"]["autoConfirmUser"] = email.endswith("@example.com")
        self.answer(200, event)

    def answer(self, status, value):
        body = json.dumps(value).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def serve_nats(subject):
    """Answers the post confirmation function's requests on `subject` until exit."""
    ready = threading.Event()

    async def run():
        connection = await nats.connect(NATS_URL)

        async def handle(message):
            event = json.loads(message.data)
            record("nats", (message.headers or {}).get("Portcullis-Function-Arn"), event)
            if event["userName"] == "nats-fails":
                answer = {"errorType": "Error", "errorMessage": "refused over nats"}
            else:
                answer = event
            await message.respond(json.dumps(answer).encode())

        await connection.subscribe(subject, cb=handle)
        await connection.flush()
        ready.set()
        await asyncio.Event().wait()

    threading.Thread(target=lambda: asyncio.run(run()), daemon=True).start()
    assert ready.wait(10), "the NATS responder did not start"


def main():
    server = ThreadingHTTPServer(("127.0.0.1", HOOK_PORT), Hooks)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    serve_nats("functions.post-confirmation")
    cognito = idp()
    pool_id = cognito.create_user_pool(
        PoolName="transports", AutoVerifiedAttributes=["email"],
        LambdaConfig={"PreSignUp": arn("pre-sign-up"),
                      "PostConfirmation": arn("post-confirmation")},
    )["UserPool"]["Id"]
    client_id = cognito.create_user_pool_client(
        UserPoolId=pool_id, ClientName="app")["UserPoolClient"]["ClientId"]

    def sign_up(name, email):
        return cognito.sign_up(ClientId=client_id, Username=name, Password=PASSWORD,
                               UserAttributes=[{"Name": "email", "Value": email}])

    assert sign_up("wendy", "wendy@example.com")["UserConfirmed"] is True
    arn_header, event = calls("webhook")[-1]
    assert arn_header == arn("pre-sign-up"), arn_header
    assert event["triggerSource"] == "PreSignUp_SignUp" and event["userName"] == "wendy"
    message = expect_error("UserLambdaValidationException", sign_up, "mallory",
                           "m@blocked.example")
    assert message == "PreSignUp failed with error blocked over the webhook.", message
    check("pre sign-up behind a webhook the Standard Webhooks library verifies")

    assert sign_up("nora", "nora@other.example")["UserConfirmed"] is False
    cognito.admin_confirm_sign_up(UserPoolId=pool_id, Username="nora")
    arn_header, event = calls("nats")[-1]
    assert arn_header == arn("post-confirmation"), arn_header
    assert event["triggerSource"] == "PostConfirmation_ConfirmSignUp"
    assert event["request"]["userAttributes"]["cognito:user_status"] == "CONFIRMED"
    sign_up("nats-fails", "nf@other.example")
    message = expect_error("UserLambdaValidationException", cognito.admin_confirm_sign_up,
                           UserPoolId=pool_id, Username="nats-fails")
    assert message == "PostConfirmation failed with error refused over nats.", message
    check("post confirmation behind NATS request/reply")
    server.shutdown()


if __name__ == "__main__":
    main()
