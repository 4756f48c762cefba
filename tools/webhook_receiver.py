"""A webhook receiver that checks every delivery with the `standardwebhooks` package
(the specification's reference library), not with the service's own code.

It listens on 127.0.0.1 (a free port), prints {"port": N}, then one JSON line per
delivery: its webhook-id, its event type, and which of the current secrets verified it
(their indices). It answers 204 when one did, 401 when none did. Each line on stdin is a
JSON list of `whsec_` secrets that replaces the current ones (the test learns a secret
only after registering this receiver's URL); {"secrets": N} says it took them.
"""

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

secrets: list[str] = []


def read_secrets() -> None:
    global secrets
    for line in sys.stdin:
        secrets = json.loads(line)
        print(json.dumps({"secrets": len(secrets)}), flush=True)


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        verified = []
        for index, secret in enumerate(list(secrets)):
            try:
                Webhook(secret).verify(body, dict(self.headers.items()))
                verified.append(index)
            except WebhookVerificationError:
                pass
        event = json.loads(body)
        line = {"id": self.headers.get("webhook-id"), "type": event.get("type"), "verifiedWith": verified}
        print(json.dumps(line), flush=True)
        self.send_response(204 if verified else 401)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


if __name__ == "__main__":
    threading.Thread(target=read_secrets, daemon=True).start()
    server = HTTPServer(("127.0.0.1", 0), Receiver)
    print(json.dumps({"port": server.server_port}), flush=True)
    server.serve_forever()
