"""A content server that decides each request with Usher's tokens.

GET /segment/...    the access token checked locally against the JWKS (no call to Usher),
                    unless a webhook said the person's entitlements changed since it was issued
GET /play/PRODUCT   introspection: entitlements and revocation as they are now
POST /usher-events  Usher's entitlement change events, verified (Standard Webhooks)

    pip install PyJWT cryptography standardwebhooks
    ISSUER=http://localhost:8080 CLIENT_ID=... CLIENT_SECRET=... \
    USHER_WEBHOOK_SECRET=whsec_... PORT=9000 python content_server.py
"""

import base64
import json
import os
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt  # PyJWT
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

ISSUER = os.environ["ISSUER"]
# The issuer, unless Usher's operator set access_token_audience.
AUDIENCE = os.environ.get("AUDIENCE", ISSUER)
CLIENT = f"{urllib.parse.quote(os.environ['CLIENT_ID'])}:{urllib.parse.quote(os.environ['CLIENT_SECRET'])}"
BASIC_AUTH = "Basic " + base64.b64encode(CLIENT.encode()).decode()
webhook = Webhook(os.environ["USHER_WEBHOOK_SECRET"])


def get_json(url):
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.load(response)


DISCOVERY = get_json(f"{ISSUER}/.well-known/openid-configuration")


class Jwks:
    """Usher's public keys by kid: kept for a minute (the JWKS's Cache-Control: max-age=60),
    fetched again at once for an unknown kid (a key rotation), but at most once per
    REFETCH_COOLDOWN seconds, so tokens with made-up kids cannot make us hammer Usher."""

    MAX_AGE = 60
    REFETCH_COOLDOWN = 5

    def __init__(self, uri):
        self.uri, self.keys, self.fetched_at = uri, {}, float("-inf")
        self.lock = threading.Lock()

    def key(self, kid):
        with self.lock:
            age = time.monotonic() - self.fetched_at
            if age > self.MAX_AGE or (kid not in self.keys and age > self.REFETCH_COOLDOWN):
                self.keys = {key["kid"]: jwt.PyJWK(key) for key in get_json(self.uri)["keys"]}
                self.fetched_at = time.monotonic()
            if kid not in self.keys:
                raise jwt.InvalidTokenError(f"unknown kid {kid}")
            return self.keys[kid]


jwks = Jwks(DISCOVERY["jwks_uri"])


def verify_locally(token):
    """The token's claims if Usher signed it as an access token for us and it has not expired."""
    header = jwt.get_unverified_header(token)
    if header.get("typ", "").lower() not in ("at+jwt", "application/at+jwt"):
        raise jwt.InvalidTokenError("not an access token (RFC 9068 typ at+jwt)")
    key = jwks.key(header.get("kid"))
    # The algorithm comes from our copy of the key, never from the token alone.
    return jwt.decode(token, key.key, algorithms=[key.algorithm_name], issuer=ISSUER,
                      audience=AUDIENCE, options={"require": ["exp", "iat", "iss", "aud", "sub"]})


class Unavailable(Exception):
    """Usher answered 503: retry after Retry-After seconds."""


def introspect(token):
    request = urllib.request.Request(
        DISCOVERY["introspection_endpoint"],
        data=urllib.parse.urlencode({"token": token}).encode(),
        headers={"Authorization": BASIC_AUTH},
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return json.load(response)
    except urllib.error.HTTPError as error:
        if error.code == 503:
            raise Unavailable(error.headers.get("Retry-After", "2")) from error
        raise


# What webhooks told us: per person, the entitlement version after their latest change, and
# the time of the latest change to a tier or product they hold (those events carry no ent_ver).
latest_ent_ver, changed_at = {}, {}


def claims_may_be_stale(claims):
    sub = claims["sub"]
    return (claims.get("ent_ver", 0) < latest_ent_ver.get(sub, 0)
            or claims["iat"] <= changed_at.get(sub, -1))


def decision(decided_by, answer):
    return {"decided_by": decided_by, "sub": answer["sub"], "tier": answer.get("tier"),
            "features": answer.get("features", []), "ppv": answer.get("ppv", []),
            "ent_ver": answer.get("ent_ver")}


class ContentServer(BaseHTTPRequestHandler):
    def reply(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def bearer(self):
        scheme, _, token = self.headers.get("Authorization", "").partition(" ")
        return token if scheme.lower() == "bearer" and token else None

    def do_GET(self):
        token = self.bearer()
        if token is None:
            return self.reply(401, {"error": "no bearer token"})
        try:
            if self.path.startswith("/segment/"):
                claims = verify_locally(token)
                if not claims_may_be_stale(claims):
                    return self.reply(200, decision("token", claims))
                # The person's entitlements changed since the token was issued: ask Usher.
                answer = introspect(token)
                if not answer["active"]:
                    return self.reply(401, {"error": "token not active"})
                return self.reply(200, decision("introspection", answer))
            if self.path.startswith("/play/"):
                answer = introspect(token)
                if not answer["active"]:
                    return self.reply(401, {"error": "token not active"})
                product = self.path[len("/play/"):]
                status = 200 if product in answer.get("ppv", []) else 403
                return self.reply(status, decision("introspection", answer))
            return self.reply(404, {"error": "not found"})
        except jwt.InvalidTokenError as error:
            return self.reply(401, {"error": str(error)})
        except Unavailable as retry_after:
            return self.reply(503, {"error": f"Usher unavailable, retry after {retry_after} s"})

    def do_POST(self):
        if self.path != "/usher-events":
            return self.reply(404, {"error": "not found"})
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        try:
            # The raw body as received: parsing and re-serialising it breaks the signature.
            event = webhook.verify(body, dict(self.headers))
        except WebhookVerificationError as error:
            print(f"refused webhook: {error}", flush=True)
            return self.reply(400, {"error": "bad signature"})
        # Delivery is at least once: applying an event twice changes nothing.
        for user in event["affected_users"]:
            if user == event.get("user_id") and event.get("ent_ver") is not None:
                latest_ent_ver[user] = max(latest_ent_ver.get(user, 0), event["ent_ver"])
            else:
                changed_at[user] = max(changed_at.get(user, -1), event["created_at"])
        print(f"event {event['event']} id={event['id']} users={','.join(event['affected_users'])} "
              f"ent_ver={event.get('ent_ver')}", flush=True)
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(
    (os.environ.get("HOST", "127.0.0.1"), int(os.environ.get("PORT", "9000"))), ContentServer)
print(f"listening on {server.server_port}", flush=True)
server.serve_forever()
