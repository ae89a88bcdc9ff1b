"""A pre token generation function (V2) behind a webhook, for the OIDC relying-party test:
every call is verified with the Standard Webhooks library; the ID token gets
`tier: gold`, the access token `plan: pro`. Serves until killed.

Arguments: the port to listen on and the webhook's signing secret."""

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook

PORT, SECRET = int(sys.argv[1]), sys.argv[2]


class Function(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        headers = {name: self.headers[name]
                   for name in ("webhook-id", "webhook-timestamp", "webhook-signature")}
        event = Webhook(SECRET).verify(body, headers)
        if event["triggerSource"].startswith("TokenGeneration_"):
            event["response"]["claimsAndScopeOverrideDetails"] = {
                "idTokenGeneration": {"claimsToAddOrOverride": {
                    "tier": "gold", "source": event["triggerSource"]}},
                "accessTokenGeneration": {"claimsToAddOrOverride": {"plan": "pro"}},
            }
        answer = json.dumps(event).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)


ThreadingHTTPServer(("127.0.0.1", PORT), Function).serve_forever()
