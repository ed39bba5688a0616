"""Receives Usher's entitlement change events and verifies each with the standardwebhooks
library before acting on it.

    pip install standardwebhooks
    USHER_WEBHOOK_SECRET=whsec_... PORT=9000 python webhook_receiver.py
"""

import os
from http.server import BaseHTTPRequestHandler, HTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

# During a secret rotation Usher signs with the new and the previous secret: a receiver
# still configured with either accepts the delivery.
webhook = Webhook(os.environ["USHER_WEBHOOK_SECRET"])
# Delivery is at least once: the same event may come again. Production keeps these ids in a
# shared store for a few minutes longer than the timestamp tolerance (five minutes).
seen_ids = set()


def handle(event):
    """Drops what was decided for the people concerned; their next request asks again."""
    users = ",".join(event["affected_users"])
    print(f"verified {event['event']} id={event['id']} users={users} "
          f"ent_ver={event.get('ent_ver')}", flush=True)


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        try:
            # The raw body, as received: parsing and re-serialising it breaks the signature.
            event = webhook.verify(body, dict(self.headers))
        except WebhookVerificationError as error:
            print(f"refused: {error}", flush=True)
            self.send_response(400)
            self.end_headers()
            return
        if event["id"] not in seen_ids:
            seen_ids.add(event["id"])
            handle(event)
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


server = HTTPServer((os.environ.get("HOST", "127.0.0.1"), int(os.environ.get("PORT", "9000"))), Receiver)
print(f"listening on {server.server_port}", flush=True)
server.serve_forever()
