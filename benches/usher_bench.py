#!/usr/bin/env python3
"""Load benchmark driver for usher; `benches/run` starts the server and then calls this.

Python 3.11 standard library only. Given a running server (pinned by benches/run), a
confidential client-credentials client, an admin client (scope usher:admin), a first-party
web app and people created with `usher user create`, it:

1. mints N distinct client-credentials access tokens over keep-alive connections and
   writes them to a file, one per line;
2. through the admin API, creates a tier with features and five pay-per-view products,
   and gives every person an active subscription to the tier, grants for three products and
   two profiles (an adult's and a kid's);
3. signs every person in to the web app (authorization code flow with PKCE, scope
   `openid entitlements profiles offline_access`, choosing the kid's profile on "Who's
   watching?") and mints N person access tokens in all by
   refreshing (one rotating refresh chain per person, people in parallel), written to a
   second file;
4. checks with curl that sample tokens of both kinds introspect as active, the person
   tokens with their tier, features, products, profile and maturity;
5. runs one "cold" introspection pass over every token of each kind (a signature
   verification each; this also fills the server's verified-token cache and entitlement
   cache), then a warm-up per endpoint;
6. measures /healthz, introspection of both kinds and client-credentials issuance with wrk
   (-t1 -c32 --latency), interleaved, several times each;
7. prints medians, ratios to the /healthz ceiling, PASS/FAIL against the targets, what
   limits each figure, and the error counts.

With --storm, after steps 2 to 4 (no client-credentials tokens) it measures people's token
introspection (the cold pass, a warm-up, then wrk for --seconds) quiet, and again while 32
and then 128 threads of this driver sign in with a password over and over (POST /login);
it samples the server's RSS every 100 ms, reads it --recovery seconds after each storm, and
prints throughput, p99 and RSS against the quiet phase and the idle RSS, with PASS/FAIL.
Sign-ins answered 503 (the password lane shedding load) are counted, not errors.

Exit status: 0 when every request class answered without errors (whether or not targets
were met), 1 when any request failed (non-2xx, socket errors, inactive tokens, person
tokens answered without their tier, missing access_token; with --storm also sign-ins that
failed other than with 503) or the server died, 2 on a setup failure.
"""

from __future__ import annotations

import argparse
import base64
import datetime
import glob
import hashlib
import html
import http.client
import json
import os
import re
import resource
import secrets
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Callable, Iterable, TypeVar

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
CONNECTIONS = 32
ENDPOINTS = ("healthz", "introspection", "introspection_entitled", "client_credentials")
TARGET_INTROSPECTION_RATIO = 0.7
TARGET_INTROSPECTION_P99_FACTOR = 2.0
TARGET_ENTITLED_RATIO = 0.6
TARGET_ENTITLED_P99_FACTOR = 2.0
TARGET_TOKEN_RATIO = 0.1

# The entitled class: what every person holds, and how their tokens are minted.
ADMIN_API = "/admin/api/v1"
TIER = {"slug": "premium", "name": "Premium", "rank": 20, "features": ["hd", "4k", "ad_free"], "max_streams": 4}
PRODUCTS = [f"event-{number}" for number in range(1, 6)]
GRANTS_PER_PERSON = 3
APP_REDIRECT_URI = "http://127.0.0.1:9/callback"  # never loaded: the code is read from Location
APP_SCOPE = "openid entitlements profiles offline_access"
# Every person's profiles; their tokens speak for the last one (chosen on "Who's watching?").
PROFILES = [{"name": "Adult", "maturity": "18"}, {"name": "Kid", "maturity": "7", "kids": True}]
# Checked by introspect.lua in every answer of the entitled class, besides "active":true.
ENTITLED_EXPECT = '"tier":"premium"'
SETUP_CONNECTIONS = 4

# --storm: introspection of people's tokens while password sign-ins pile up in the server's
# password lane (argon2id: tens of ms of a core and 19 MiB each).
STORM_ENDPOINT = "introspection_entitled"
STORM_LEVELS = (32, 128)  # concurrent sign-ins: inside the lane's default 1 + 64, then far beyond it
STORM_RAMP_SECONDS = 2.0  # the sign-ins start this long before wrk, so the lane is full when it starts
STORM_SETTLE_SECONDS = 1.0  # before the idle RSS reading, so no request is under way
STORM_ERROR_PAUSE = 0.1  # after a failed sign-in, so a broken server is not hammered in a loop
RSS_SAMPLE_SECONDS = 0.1
DEFAULT_RETRY_AFTER_SECONDS = 2.0
# The server's default password_hash_queue; benches/run clears every USHER_* variable.
DEFAULT_PASSWORD_HASH_QUEUE = 64
CSRF_COOKIE = "usher_csrf"
SIGNED_IN_LOCATION = "/account"  # where POST /login sends a person who came to sign in directly
# Both the full password lane and a database that is away answer 503 with Retry-After; only
# the lane's page says this (PageError::busy in src/web/pages.rs).
LANE_BUSY_TEXT = b"Many people are signing in right now"
TARGET_STORM_RATIO = 0.5
TARGET_STORM_P99_FACTOR = 10.0
TARGET_STORM_RSS_KIB = 1024 * 1024
TARGET_RECOVERY_FACTOR = 2.0

LIMITS = {
    "healthz": "the HTTP stack itself (actix-web, one worker) on one core; no application work",
    "introspection": (
        "after the first sighting of a token: HTTP + form parsing, a cached client authentication "
        "(SHA-256 of the Authorization header), a verified-token map lookup that holds the rendered answer; "
        "the first sighting costs one ES256 signature verification (see the cold pass)"
    ),
    "introspection_entitled": (
        "the same cached token answer as introspection, plus a sharded map lookup (16 read-locked shards, "
        "foldhash) for the person's entitlements kept rendered as JSON members, and one small buffer copy of both "
        "(~390-byte answer instead of ~255; the person token, with its entitlement claims, makes the request "
        "~180 bytes longer), and a map lookup of the token's profile's maturity as it is now (rendered too) with a "
        "third copy; the first sighting costs one ES256 verification, and a person's first token may "
        "also cost one entitlement computation in the database (see its cold pass)"
    ),
    "client_credentials": (
        "one ES256 signature per token (ring, key parsed once) plus JWT claims encoding and a random jti; "
        "client authentication is cached"
    ),
}


class SetupError(Exception):
    pass


@dataclass
class WrkResult:
    endpoint: str
    label: str
    rps: float
    requests: int
    seconds: float
    latency_us: dict[int, float]
    non2xx: int
    socket_errors: dict[str, int]
    check: dict[str, int]
    server_cpu: float
    wrk_cpu: float
    other_cpu: float
    exit_code: int
    raw: str
    errors: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------------- helpers


def log(message: str = "") -> None:
    print(message, flush=True)


def basic_authorization(client_id: str, secret: str) -> str:
    """RFC 6749 §2.3.1: Basic base64(urlencode(id) ":" urlencode(secret))."""
    pair = f"{urllib.parse.quote(client_id, safe='')}:{urllib.parse.quote(secret, safe='')}"
    return "Basic " + base64.b64encode(pair.encode()).decode()


def cpu_seconds_of(pid: int) -> float:
    """User + system CPU time of a process (all its threads), in seconds."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    # fields[0] is the state (field 3); utime and stime are fields 14 and 15.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def busy_cpu_seconds() -> float:
    """CPU time every process on the machine used, all cores together (/proc/stat; counts
    steal time, which a busy hypervisor takes from us)."""
    with open("/proc/stat", encoding="ascii") as stat:
        fields = [int(value) for value in stat.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    busy = sum(fields[:8]) - idle  # user nice system idle iowait irq softirq steal
    return busy / os.sysconf("SC_CLK_TCK")


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


UNIT_US = {"us": 1.0, "ms": 1e3, "s": 1e6, "m": 60e6, "h": 3600e6}


def to_us(value: str, unit: str) -> float:
    return float(value) * UNIT_US[unit]


def fmt_latency(us: float) -> str:
    if us < 1000:
        return f"{us:.0f}µs"
    if us < 1e6:
        return f"{us / 1e3:.2f}ms"
    return f"{us / 1e6:.2f}s"


def fmt_rps(rps: float) -> str:
    return f"{rps:,.0f}"


# ---------------------------------------------------------------------------- minting


def mint_tokens(host: str, port: int, authorization: str, count: int, workers: int = 4) -> list[str]:
    """Mints `count` access tokens with `workers` keep-alive connections."""
    body = "grant_type=client_credentials"
    headers = {
        "Authorization": authorization,
        "Content-Type": "application/x-www-form-urlencoded",
    }
    tokens: list[str] = []
    failures: list[str] = []
    lock = threading.Lock()
    share = [count // workers + (1 if index < count % workers else 0) for index in range(workers)]

    def worker(quota: int) -> None:
        connection = http.client.HTTPConnection(host, port, timeout=30)
        mine: list[str] = []
        try:
            while len(mine) < quota and not failures:
                try:
                    connection.request("POST", "/oauth/token", body=body, headers=headers)
                    response = connection.getresponse()
                    data = response.read()
                except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                    connection.close()
                    connection = http.client.HTTPConnection(host, port, timeout=30)
                    continue
                if response.status != 200:
                    with lock:
                        failures.append(f"HTTP {response.status}: {data[:200]!r}")
                    return
                mine.append(json.loads(data)["access_token"])
        except Exception as error:  # noqa: BLE001 - reported and turned into a setup failure
            with lock:
                failures.append(repr(error))
        finally:
            connection.close()
            with lock:
                tokens.extend(mine)

    threads = [threading.Thread(target=worker, args=(quota,)) for quota in share]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise SetupError(f"minting tokens failed: {failures[0]}")
    return tokens


def curl_introspect(base_url: str, authorization: str, token: str) -> dict:
    completed = subprocess.run(
        [
            "curl", "-sS", "--max-time", "10",
            "-H", f"Authorization: {authorization}",
            "--data-urlencode", f"token={token}",
            "-w", "\n%{http_code}",
            f"{base_url}/oauth/introspect",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise SetupError(f"curl introspection failed: {completed.stderr.strip()}")
    text, _, status = completed.stdout.rpartition("\n")
    if status != "200":
        raise SetupError(f"introspection answered HTTP {status}: {text[:200]}")
    return json.loads(text)


def check_sample(base_url: str, authorization: str, tokens: list[str], when: str) -> None:
    picks = sorted({0, len(tokens) // 2, len(tokens) - 1})
    for index in picks:
        answer = curl_introspect(base_url, authorization, tokens[index])
        if answer.get("active") is not True:
            raise SetupError(f"{when}: token #{index} introspects as {answer}")
    log(f"  curl check ({when}): tokens #{', #'.join(map(str, picks))} introspect as active")


# ---------------------------------------------------------------------------- entitled people


class Http:
    """One keep-alive HTTP/1.1 connection; reconnects once when the server closed it."""

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.connection = http.client.HTTPConnection(host, port, timeout=30)

    def request(
        self, method: str, path: str, body: str | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, http.client.HTTPResponse, bytes]:
        for attempt in (1, 2):
            try:
                self.connection.request(method, path, body=body, headers=headers or {})
                response = self.connection.getresponse()
                return response.status, response, response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.connection.close()
                self.connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.connection.close()


Item = TypeVar("Item")
Outcome = TypeVar("Outcome")


def in_parallel(
    host: str, port: int, items: Iterable[Item], work: Callable[[Http, Item], Outcome], workers: int = SETUP_CONNECTIONS
) -> list[Outcome]:
    """Runs work(connection, item) for every item on `workers` threads, each with its own
    keep-alive connection; results in the order of `items`. The first failure stops every
    thread and is raised as a SetupError."""
    pending = list(enumerate(items))
    results: dict[int, Outcome] = {}
    failures: list[str] = []
    lock = threading.Lock()

    def worker() -> None:
        connection = Http(host, port)
        try:
            while True:
                with lock:
                    if failures or not pending:
                        return
                    index, item = pending.pop(0)
                outcome = work(connection, item)
                with lock:
                    results[index] = outcome
        except Exception as error:  # noqa: BLE001 - reported and turned into a setup failure
            with lock:
                failures.append(str(error) if isinstance(error, SetupError) else repr(error))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise SetupError(failures[0])
    return [results[index] for index in sorted(results)]


def form_headers(authorization: str | None = None) -> dict[str, str]:
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if authorization:
        headers["Authorization"] = authorization
    return headers


def token_request(connection: Http, authorization: str, fields: dict[str, str], what: str) -> dict:
    status, _, data = connection.request(
        "POST", "/oauth/token", urllib.parse.urlencode(fields), form_headers(authorization)
    )
    if status != 200:
        raise SetupError(f"{what}: the token endpoint answered HTTP {status}: {data[:300]!r}")
    answer = json.loads(data)
    if "access_token" not in answer:
        raise SetupError(f"{what}: no access_token in {answer}")
    return answer


@dataclass
class Person:
    id: str
    email: str
    products: list[str]
    # The profile the person's tokens speak for, once created.
    profile: str = ""


def load_people(people_dir: str) -> list[Person]:
    """The `usher user create --json` outputs, person1 first; products assigned round robin."""
    paths = sorted(glob.glob(os.path.join(people_dir, "*.json")), key=lambda p: int(os.path.basename(p)[:-5]))
    people = []
    for index, path in enumerate(paths):
        with open(path, encoding="utf-8") as file:
            created = json.load(file)
        products = [PRODUCTS[(index + k) % len(PRODUCTS)] for k in range(GRANTS_PER_PERSON)]
        people.append(Person(id=created["id"], email=created["email"], products=products))
    if not people:
        raise SetupError(f"no people in {people_dir}")
    return people


def grant_entitlements(host: str, port: int, admin_authorization: str, people: list[Person]) -> None:
    """Through the admin API: the tier, the products, and per person a subscription a year
    long and three grants."""
    setup = Http(host, port)
    try:
        answer = token_request(
            setup, admin_authorization, {"grant_type": "client_credentials", "scope": "usher:admin"}, "admin token"
        )
    finally:
        setup.close()
    bearer = {"Authorization": f"Bearer {answer['access_token']}", "Content-Type": "application/json"}

    def call(connection: Http, method: str, path: str, body: dict, expected: tuple[int, ...]) -> bytes:
        status, _, data = connection.request(method, ADMIN_API + path, json.dumps(body), bearer)
        if status not in expected:
            hint = " (is the admin API there?)" if status == 404 else ""
            raise SetupError(f"{method} {ADMIN_API}{path} answered HTTP {status}{hint}: {data[:300]!r}")
        return data

    catalogue = [("/tiers", TIER)] + [
        ("/products", {"slug": slug, "title": slug.replace("-", " ").capitalize()}) for slug in PRODUCTS
    ]
    in_parallel(host, port, catalogue, lambda c, item: call(c, "POST", item[0], item[1], (201,)), workers=1)

    period_end = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=365)).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )

    def entitle(connection: Http, person: Person) -> None:
        call(
            connection, "PUT", f"/users/{person.id}/subscription",
            {"tier": TIER["slug"], "status": "active", "current_period_end": period_end}, (200,),
        )
        for product in person.products:
            call(connection, "POST", f"/users/{person.id}/grants", {"product": product}, (201,))
        for profile in PROFILES:
            created = call(connection, "POST", f"/users/{person.id}/profiles", profile, (201,))
            person.profile = json.loads(created)["id"]

    in_parallel(host, port, people, entitle)


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def hidden_input(page: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', page)
    if not match:
        raise SetupError(f"no hidden input {name!r} in the login page")
    return html.unescape(match.group(1))


def sign_in(connection: Http, app_id: str, app_authorization: str, person: Person, password: str) -> dict:
    """The authorization code flow as a browser runs it, redirects followed by hand: the login
    page, POST /login, back to /oauth/authorize with the session, the code from the redirect,
    then the code exchanged for tokens."""
    cookies: dict[str, str] = {}

    def browse(method: str, path: str, body: str | None = None) -> tuple[int, http.client.HTTPResponse, bytes]:
        headers = form_headers() if body is not None else {}
        if cookies:
            headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in cookies.items())
        status, response, data = connection.request(method, path, body, headers)
        for header, value in response.getheaders():
            if header.lower() == "set-cookie":
                name, _, rest = value.partition("=")
                cookies[name.strip()] = rest.split(";", 1)[0].strip()
        return status, response, data

    verifier, challenge = pkce_pair()
    query = urllib.parse.urlencode({
        "response_type": "code", "client_id": app_id, "redirect_uri": APP_REDIRECT_URI, "scope": APP_SCOPE,
        "state": "x", "code_challenge": challenge, "code_challenge_method": "S256",
    })
    who = person.email
    status, _, page = browse("GET", f"/oauth/authorize?{query}")
    if status != 200:
        raise SetupError(f"{who}: GET /oauth/authorize answered HTTP {status}, not the login page: {page[:200]!r}")
    text = page.decode("utf-8", "replace")
    login = urllib.parse.urlencode({
        "csrf": hidden_input(text, "csrf"), "request": hidden_input(text, "request"),
        "email": person.email, "password": password,
    })
    status, response, data = browse("POST", "/login", login)
    location = response.getheader("Location") or ""
    back = urllib.parse.urlsplit(location)  # relative or absolute: only the path and query are followed
    if status not in (302, 303) or back.path != "/oauth/authorize":
        raise SetupError(f"{who}: POST /login answered HTTP {status} (Location {location!r}): {data[:200]!r}")
    status, response, data = browse("GET", f"{back.path}?{back.query}")
    if status == 200 and b'action="/oauth/profile"' in data:  # "Who's watching?"
        picker = data.decode("utf-8", "replace")
        choice = urllib.parse.urlencode({
            "csrf": hidden_input(picker, "csrf"), "request": hidden_input(picker, "request"),
            "session": hidden_input(picker, "session"), "profile": person.profile,
        })
        status, response, data = browse("POST", "/oauth/profile", choice)
    location = response.getheader("Location") or ""
    if status not in (302, 303) or not location.startswith(APP_REDIRECT_URI + "?"):
        raise SetupError(f"{who}: authorize after login answered HTTP {status} (Location {location!r}): {data[:200]!r}")
    parameters = urllib.parse.parse_qs(urllib.parse.urlsplit(location).query)
    if "code" not in parameters:
        raise SetupError(f"{who}: no code in the redirect {location!r}")
    answer = token_request(connection, app_authorization, {
        "grant_type": "authorization_code", "code": parameters["code"][0],
        "redirect_uri": APP_REDIRECT_URI, "code_verifier": verifier,
    }, f"{who}: code exchange")
    if "refresh_token" not in answer:
        raise SetupError(f"{who}: no refresh_token for scope {APP_SCOPE!r}: {answer}")
    return answer


def mint_entitled_tokens(
    host: str, port: int, app: dict, people: list[Person], password: str, count: int
) -> list[tuple[str, Person]]:
    """`count` person access tokens spread evenly over `people`: per person, one sign-in and
    then a chain of refreshes, each using the refresh token the previous one returned
    (rotation); people in parallel. Interleaved by person, so consecutive requests in wrk
    carry different people's tokens."""
    app_authorization = basic_authorization(app["client_id"], app["client_secret"])
    quotas = [count // len(people) + (1 if index < count % len(people) else 0) for index in range(len(people))]

    def mint(connection: Http, job: tuple[Person, int]) -> list[str]:
        person, quota = job
        answer = sign_in(connection, app["client_id"], app_authorization, person, password)
        tokens = [answer["access_token"]]
        refresh = answer["refresh_token"]
        while len(tokens) < quota:
            answer = token_request(
                connection, app_authorization, {"grant_type": "refresh_token", "refresh_token": refresh},
                f"{person.email}: refresh #{len(tokens)}",
            )
            if "refresh_token" not in answer:
                raise SetupError(f"{person.email}: the refresh answer has no new refresh_token")
            refresh = answer["refresh_token"]
            tokens.append(answer["access_token"])
        return tokens

    jobs = [(person, quota) for person, quota in zip(people, quotas) if quota > 0]
    per_person = in_parallel(host, port, jobs, mint)
    minted: list[tuple[str, Person]] = []
    for round_index in range(max(map(len, per_person))):
        for (person, _), tokens in zip(jobs, per_person):
            if round_index < len(tokens):
                minted.append((tokens[round_index], person))
    return minted


def check_entitled_sample(base_url: str, authorization: str, minted: list[tuple[str, Person]], when: str) -> None:
    picks = sorted({0, len(minted) // 2, len(minted) - 1})
    versions = set()
    for index in picks:
        token, person = minted[index]
        answer = curl_introspect(base_url, authorization, token)
        problems = []
        if answer.get("active") is not True:
            problems.append("not active")
        if answer.get("sub") != person.id:
            problems.append(f"sub is not {person.id}")
        if answer.get("tier") != TIER["slug"]:
            problems.append(f"tier is not {TIER['slug']}")
        if sorted(answer.get("features") or []) != sorted(TIER["features"]):
            problems.append(f"features are not {TIER['features']}")
        if sorted(answer.get("ppv") or []) != sorted(person.products):
            problems.append(f"ppv is not {person.products}")
        if not isinstance(answer.get("ent_ver"), int):
            problems.append("no integer ent_ver")
        if answer.get("profile") != person.profile or answer.get("maturity") != PROFILES[-1]["maturity"]:
            problems.append(f"profile is not {person.profile} at maturity {PROFILES[-1]['maturity']}")
        if problems:
            raise SetupError(f"{when}: person token #{index} ({person.email}): {', '.join(problems)}: {answer}")
        versions.add(answer["ent_ver"])
    log(
        f"  curl check ({when}): person tokens #{', #'.join(map(str, picks))} introspect as active with tier "
        f"{TIER['slug']}, {len(TIER['features'])} features, their {GRANTS_PER_PERSON} products, their kid's profile, "
        f"ent_ver {', '.join(map(str, sorted(versions)))}"
    )


# ---------------------------------------------------------------------------- wrk


RE_RPS = re.compile(r"^Requests/sec:\s+([\d.]+)", re.M)
RE_TOTAL = re.compile(r"^\s*(\d+) requests in ([\d.]+)(us|ms|s|m|h)", re.M)
RE_PCT = re.compile(r"^\s*(50|75|90|99)(?:\.0+)?%\s+([\d.]+)(us|ms|s|m|h)\s*$", re.M)
RE_NON2XX = re.compile(r"Non-2xx or 3xx responses:\s+(\d+)")
RE_SOCKET = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")
# What the Lua checks expect of an answer, by endpoint: its status, and what an answer with that
# status must carry (those without it are counted as "inactive"); introspection when not listed.
EXPECTED_ANSWERS = {
    "client_credentials": (200, "an access_token"),
    "heartbeat": (200, '"expires_in"'),
    "stream_start": (201, '"stream_id"'),
}
RE_CHECK = re.compile(
    r"usher-check: responses=(\d+) non200=(\d+) inactive=(\d+) tokens=(\d+)(?: unentitled=(\d+))?"
)


class Runner:
    def __init__(self, args: argparse.Namespace, authorization: str, token_file: str, entitled_token_file: str):
        self.args = args
        self.base_url = args.base_url
        self.authorization = authorization
        self.token_file = token_file
        self.entitled_token_file = entitled_token_file

    def command(self, endpoint: str, seconds: float, cold: bool = False) -> list[str]:
        wrk = [
            "taskset", "-c", str(self.args.client_core), "wrk",
            "-t1", f"-c{CONNECTIONS}", f"-d{seconds:g}s", "--latency", "--timeout", "10s",
        ]
        if endpoint == "healthz":
            return wrk + [f"{self.base_url}/healthz"]
        if endpoint == "introspection":
            script_args = [self.token_file, self.authorization] + (["cold"] if cold else [])
            return wrk + ["-s", os.path.join(BENCH_DIR, "introspect.lua"), self.base_url, "--", *script_args]
        if endpoint == "introspection_entitled":
            # The same client authenticates as for "introspection": only the tokens differ.
            script_args = [self.entitled_token_file, self.authorization] + (["cold"] if cold else [])
            script_args.append(f"expect={ENTITLED_EXPECT}")
            return wrk + ["-s", os.path.join(BENCH_DIR, "introspect.lua"), self.base_url, "--", *script_args]
        if endpoint == "client_credentials":
            return wrk + ["-s", os.path.join(BENCH_DIR, "token.lua"), self.base_url, "--", self.authorization]
        raise ValueError(endpoint)

    def run(self, endpoint: str, seconds: float, label: str, cold: bool = False) -> WrkResult:
        server_before = cpu_seconds_of(self.args.server_pid)
        children_before = children_cpu_seconds()
        busy_before = busy_cpu_seconds()
        started = time.monotonic()
        if cold:
            exit_code, output = run_until_cold_pass_done(self.command(endpoint, seconds, cold))
        else:
            completed = subprocess.run(
                self.command(endpoint, seconds, cold), capture_output=True, text=True, check=False
            )
            exit_code, output = completed.returncode, completed.stdout + completed.stderr
        wall = time.monotonic() - started
        server_cpu = (cpu_seconds_of(self.args.server_pid) - server_before) / wall if alive(self.args.server_pid) else 0.0
        wrk_cpu = (children_cpu_seconds() - children_before) / wall
        other_cpu = max(0.0, (busy_cpu_seconds() - busy_before) / wall - server_cpu - wrk_cpu)
        result = parse_wrk(endpoint, label, output, exit_code, server_cpu, wrk_cpu)
        result.other_cpu = other_cpu
        if not alive(self.args.server_pid):
            result.errors.append("the server died")
        return result


def run_until_cold_pass_done(command: list[str]) -> tuple[int, str]:
    """Runs wrk until introspect.lua says the pass is over, then stops it with SIGINT (wrk
    then reports as usual, over the time it actually ran)."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stderr is not None
    early: list[str] = []
    for line in process.stderr:
        if line.startswith("usher-cold-pass-done"):
            process.send_signal(signal.SIGINT)
            break
        early.append(line)
    stdout, stderr = process.communicate()
    return process.returncode, stdout + "".join(early) + stderr


def parse_wrk(endpoint: str, label: str, output: str, exit_code: int, server_cpu: float, wrk_cpu: float) -> WrkResult:
    errors: list[str] = []
    rps_match = RE_RPS.search(output)
    total_match = RE_TOTAL.search(output)
    latency = {int(p): to_us(v, u) for p, v, u in RE_PCT.findall(output)}
    non2xx_match = RE_NON2XX.search(output)
    socket_match = RE_SOCKET.search(output)
    check_match = RE_CHECK.search(output)
    socket_errors = dict(zip(("connect", "read", "write", "timeout"), map(int, socket_match.groups()))) if socket_match else {}
    check = (
        {k: int(v or 0) for k, v in zip(("responses", "non200", "inactive", "tokens", "unentitled"), check_match.groups())}
        if check_match
        else {}
    )
    non2xx = int(non2xx_match.group(1)) if non2xx_match else 0
    if exit_code != 0:
        errors.append(f"wrk exited with {exit_code}")
    if not rps_match or not total_match or 50 not in latency or 99 not in latency:
        errors.append("could not parse wrk output")
    if non2xx:
        errors.append(f"{non2xx} non-2xx/3xx responses")
    if any(socket_errors.values()):
        errors.append("socket errors " + ", ".join(f"{k} {v}" for k, v in socket_errors.items() if v))
    if endpoint != "healthz":
        if not check:
            errors.append("the Lua script did not report its checks")
        else:
            status, lacking = EXPECTED_ANSWERS.get(endpoint, (200, '"active":true'))
            if check["non200"]:
                errors.append(f"{check['non200']} non-{status} responses (Lua check)")
            if check["inactive"]:
                errors.append(f"{check['inactive']} answers without {lacking}")
            if check["unentitled"]:
                errors.append(f"{check['unentitled']} active answers without {ENTITLED_EXPECT}")
    seconds = 0.0
    if total_match:
        seconds = to_us(total_match.group(2), total_match.group(3)) / 1e6
    return WrkResult(
        endpoint=endpoint,
        label=label,
        rps=float(rps_match.group(1)) if rps_match else 0.0,
        requests=int(total_match.group(1)) if total_match else 0,
        seconds=seconds,
        latency_us=latency,
        non2xx=non2xx,
        socket_errors=socket_errors,
        check=check,
        server_cpu=server_cpu,
        wrk_cpu=wrk_cpu,
        other_cpu=0.0,
        exit_code=exit_code,
        raw=output,
        errors=errors,
    )


def describe(result: WrkResult) -> str:
    p50 = fmt_latency(result.latency_us.get(50, float("nan")))
    p99 = fmt_latency(result.latency_us.get(99, float("nan")))
    line = (
        f"  {result.label:<34} {fmt_rps(result.rps):>9} req/s  p50 {p50:>8}  p99 {p99:>8}  "
        f"{result.requests:>8} requests  server CPU {result.server_cpu:4.0%}  wrk CPU {result.wrk_cpu:4.0%}  other {result.other_cpu:4.0%}"
    )
    if result.errors:
        line += "  ERRORS: " + "; ".join(result.errors)
    return line


# ---------------------------------------------------------------------------- report


def summarise(results: list[WrkResult]) -> dict[str, dict]:
    summary: dict[str, dict] = {}
    for endpoint in ENDPOINTS:
        runs = [r for r in results if r.endpoint == endpoint]
        rps = [r.rps for r in runs]
        summary[endpoint] = {
            "runs": len(runs),
            "rps_median": statistics.median(rps),
            "rps_min": min(rps),
            "rps_max": max(rps),
            "p50_us": statistics.median(r.latency_us.get(50, float("nan")) for r in runs),
            "p99_us": statistics.median(r.latency_us.get(99, float("nan")) for r in runs),
            "p99_min_us": min(r.latency_us.get(99, float("nan")) for r in runs),
            "p99_max_us": max(r.latency_us.get(99, float("nan")) for r in runs),
            "server_cpu": statistics.median(r.server_cpu for r in runs),
            "wrk_cpu": statistics.median(r.wrk_cpu for r in runs),
            "other_cpu_max": max(r.other_cpu for r in runs),
            "non2xx": sum(r.non2xx for r in runs),
            "socket_errors": sum(sum(r.socket_errors.values()) for r in runs),
            "check_failures": sum(
                r.check.get("non200", 0) + r.check.get("inactive", 0) + r.check.get("unentitled", 0) for r in runs
            ),
            "requests": sum(r.requests for r in runs),
        }
    return summary


def print_report(
    summary: dict[str, dict], colds: list[WrkResult], runs: int, seconds: float, people: int
) -> list[str]:
    ceiling = summary["healthz"]
    header = (
        f"{'endpoint':<22} {'req/s':>8} {'(min–max)':<19} {'p50':>8} {'p99':>8} {'(p99 min–max)':<19} "
        f"{'vs ceiling':>10} {'p99 vs ceiling':>14} {'server CPU':>10} {'wrk CPU':>8}"
    )
    log()
    log(f"Results: wrk -t1 -c{CONNECTIONS}, {runs} × {seconds:g} s per endpoint, interleaved; medians over runs, (min–max) over runs")
    log("=" * len(header))
    log(header)
    log("-" * len(header))
    for endpoint in ENDPOINTS:
        s = summary[endpoint]
        ratio = s["rps_median"] / ceiling["rps_median"]
        p99_ratio = s["p99_us"] / ceiling["p99_us"]
        spread = f"({fmt_rps(s['rps_min'])}–{fmt_rps(s['rps_max'])})"
        p99_spread = f"({fmt_latency(s['p99_min_us'])}–{fmt_latency(s['p99_max_us'])})"
        p99_col = f"{p99_ratio:.2f}×" if endpoint != "client_credentials" else f"({p99_ratio:.2f}×)"
        log(
            f"{endpoint:<22} {fmt_rps(s['rps_median']):>8} {spread:<19} "
            f"{fmt_latency(s['p50_us']):>8} {fmt_latency(s['p99_us']):>8} {p99_spread:<19} {ratio:>10.2f} {p99_col:>14} "
            f"{s['server_cpu']:>10.0%} {s['wrk_cpu']:>8.0%}"
        )
    log("-" * len(header))
    log("server CPU / wrk CPU: share of one core each used during the runs (medians); 100% means that side was the limit.")
    if ceiling["wrk_cpu"] >= 0.9:
        log(
            f"Note: wrk itself used {ceiling['wrk_cpu']:.0%} of core 0 on /healthz, so the ceiling is close to the load "
            "generator's limit too; the server's true ceiling may be somewhat higher (and the ratios lower)."
        )
    other = max(summary[e]["other_cpu_max"] for e in ENDPOINTS)
    note = "  WARNING: other processes competed for the CPUs; figures are noisy" if other > 0.10 else ""
    log(f"Background load: other processes used at most {other:.0%} of a core during any measured run.{note}")
    for cold in colds:
        what = (
            f"{cold.check.get('tokens', 0):,} tokens" if cold.endpoint == "introspection"
            else f"{cold.check.get('tokens', 0):,} person tokens of {people:,} people"
        )
        log(
            f"(informational) {cold.endpoint}, first sighting of each of {what} "
            f"(cold cache, one pass): {fmt_rps(cold.rps)} req/s, p50 {fmt_latency(cold.latency_us.get(50, float('nan')))}, "
            f"p99 {fmt_latency(cold.latency_us.get(99, float('nan')))}"
        )

    intro, entitled, token = summary["introspection"], summary["introspection_entitled"], summary["client_credentials"]
    intro_ratio = intro["rps_median"] / ceiling["rps_median"]
    intro_p99 = intro["p99_us"] / ceiling["p99_us"]
    entitled_ratio = entitled["rps_median"] / ceiling["rps_median"]
    entitled_p99 = entitled["p99_us"] / ceiling["p99_us"]
    token_ratio = token["rps_median"] / ceiling["rps_median"]
    verdicts = [
        (intro_ratio >= TARGET_INTROSPECTION_RATIO,
         f"introspection throughput {intro_ratio:.2f} of the /healthz ceiling (target ≥ {TARGET_INTROSPECTION_RATIO})"),
        (intro_p99 <= TARGET_INTROSPECTION_P99_FACTOR,
         f"introspection p99 {intro_p99:.2f}× the /healthz p99 (target ≤ {TARGET_INTROSPECTION_P99_FACTOR:g}×)"),
        (entitled_ratio >= TARGET_ENTITLED_RATIO,
         f"introspection_entitled throughput {entitled_ratio:.2f} of the /healthz ceiling (target ≥ {TARGET_ENTITLED_RATIO})"),
        (entitled_p99 <= TARGET_ENTITLED_P99_FACTOR,
         f"introspection_entitled p99 {entitled_p99:.2f}× the /healthz p99 (target ≤ {TARGET_ENTITLED_P99_FACTOR:g}×)"),
        (token_ratio >= TARGET_TOKEN_RATIO,
         f"client_credentials throughput {token_ratio:.2f} of the /healthz ceiling (target ≥ {TARGET_TOKEN_RATIO})"),
    ]
    log()
    log("Targets:")
    for ok, text in verdicts:
        log(f"  {'PASS' if ok else 'FAIL'}  {text}")
    log()
    log("What limits each figure:")
    for endpoint in ENDPOINTS:
        log(f"  {endpoint}: {LIMITS[endpoint]}")
    log()
    log('Errors (wrk "Non-2xx or 3xx responses", wrk socket errors, Lua response checks), summed over measured runs:')
    for endpoint in ENDPOINTS:
        s = summary[endpoint]
        extra = ""
        if endpoint == "introspection":
            extra = f", non-200 or not \"active\":true: {s['check_failures']}"
        elif endpoint == "introspection_entitled":
            extra = f", non-200, not \"active\":true or without {ENTITLED_EXPECT}: {s['check_failures']}"
        elif endpoint == "client_credentials":
            extra = f", non-200 or no access_token: {s['check_failures']}"
        log(
            f"  {endpoint:<22} non-2xx: {s['non2xx']}, socket errors: {s['socket_errors']}{extra} "
            f"(of {s['requests']:,} requests)"
        )
    return [text for ok, text in verdicts if not ok]


# ---------------------------------------------------------------------------- storm (--storm)


def rss_kib(pid: int) -> int | None:
    """A process's resident set size (VmRSS in /proc/PID/status) in KiB; None once it is gone
    (a zombie has no VmRSS line)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None


def ratio(value: float, base: float) -> float:
    """value / base, NaN when the base is missing (a wrk run that could not be parsed), so a
    failed quiet run reports its errors instead of a ZeroDivisionError."""
    return value / base if base else float("nan")


def fmt_mib(kib: float | None) -> str:
    return "—" if kib is None else f"{kib / 1024:.1f}"


def own_cpu_seconds() -> float:
    """User + system CPU time of this driver, every thread (the sign-in workers included)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def password_lane_slots(pid: int) -> int:
    """The lane's default width as the server computes it: half the cores it may run on
    (Rust's available_parallelism honours the taskset affinity), at least one."""
    return max(1, len(os.sched_getaffinity(pid)) // 2)


class Sampler:
    """Every RSS_SAMPLE_SECONDS, on its own thread: the server's RSS and, when given, how many
    sign-ins the storm has in flight (the proof that the driver really keeps them going)."""

    def __init__(self, pid: int, in_flight: Callable[[], int] | None = None):
        self.pid = pid
        self.in_flight = in_flight
        self.rss: list[int] = []
        self.flights: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        while True:
            rss = rss_kib(self.pid)
            if rss is not None:
                self.rss.append(rss)
            if self.in_flight is not None:
                self.flights.append(self.in_flight())
            if self._stop.wait(RSS_SAMPLE_SECONDS):
                return

    def peak_kib(self) -> int | None:
        return max(self.rss, default=None)

    def mean_in_flight(self) -> float:
        return statistics.fmean(self.flights) if self.flights else 0.0


def login_csrf(connection: Http) -> tuple[str, str]:
    """GET /login as a new browser: the form's CSRF token and the usher_csrf cookie it is
    bound to (the browser's id), both sent back with every sign-in."""
    status, response, page = connection.request("GET", "/login")
    if status != 200:
        raise SetupError(f"GET /login answered HTTP {status}")
    token = hidden_input(page.decode("utf-8", "replace"), "csrf")
    prefix = f"{CSRF_COOKIE}="
    cookies = [value for header, value in response.getheaders() if header.lower() == "set-cookie"]
    browser_id = next((cookie[len(prefix):].split(";", 1)[0] for cookie in cookies if cookie.startswith(prefix)), "")
    if not browser_id:
        raise SetupError(f"GET /login set no {CSRF_COOKIE} cookie")
    return token, browser_id


def retry_after_seconds(response: http.client.HTTPResponse) -> float:
    value = (response.getheader("Retry-After") or "").strip()
    return float(value) if value.isdigit() else DEFAULT_RETRY_AFTER_SECONDS


def page_message(data: bytes) -> str:
    """What an HTML error page says (its heading and message), else the start of the body."""
    text = data.decode("utf-8", "replace")
    parts = [html.unescape(match) for match in re.findall(r"<(?:h1|p)>(.*?)</(?:h1|p)>", text, re.S)[:2]]
    return ": ".join(parts) if parts else repr(data[:120])


@dataclass
class SignInTally:
    ok: int = 0
    busy: int = 0  # 503 from the full password lane: shedding as designed
    unavailable: int = 0  # 503 because the database was away (no pooled connection in time)
    other: int = 0
    examples: list[str] = field(default_factory=list)


class SignInStorm:
    """`workers` threads, each a browser that signs in with a password again and again until
    stopped: POST /login with the login page's CSRF token, people round robin, no session
    kept (every sign-in is a new one). Success is the 303 to /account. A 503 is the password
    lane shedding load, not an error: the worker waits what Retry-After says, as the page asks
    a person to, so a shed worker is out of flight for those seconds. Anything else counts
    as an error and the worker starts again on a new connection."""

    def __init__(self, host: str, port: int, people: list[Person], password: str, workers: int):
        self.host, self.port = host, port
        self.people, self.password, self.workers = people, password, workers
        self.tally = SignInTally()
        self.seconds = 0.0
        self._lock = threading.Lock()
        self._in_flight = 0
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._work, args=(index,), daemon=True) for index in range(workers)]
        self._started = 0.0

    def start(self) -> None:
        self._started = time.monotonic()
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        """Stops the workers and waits for the sign-ins in flight: afterwards the server has
        no password check left to do."""
        self._stop.set()
        for thread in self._threads:
            thread.join()
        self.seconds = time.monotonic() - self._started

    def in_flight(self) -> int:
        return self._in_flight

    def _work(self, index: int) -> None:
        connection = Http(self.host, self.port)
        csrf: tuple[str, str] | None = None
        turn = index
        try:
            while not self._stop.is_set():
                person = self.people[turn % len(self.people)]
                turn += self.workers
                with self._lock:
                    self._in_flight += 1
                try:
                    if csrf is None:
                        csrf = login_csrf(connection)
                    outcome, pause = self._sign_in_once(connection, csrf, person)
                except Exception as error:  # noqa: BLE001 - counted; the worker goes on afresh
                    outcome, pause = (str(error) if isinstance(error, SetupError) else repr(error)), STORM_ERROR_PAUSE
                    connection.close()
                    connection, csrf = Http(self.host, self.port), None
                finally:
                    with self._lock:
                        self._in_flight -= 1
                self._count(outcome)
                if pause:
                    self._stop.wait(pause)
        finally:
            connection.close()

    def _sign_in_once(self, connection: Http, csrf: tuple[str, str], person: Person) -> tuple[str, float]:
        """One POST /login: ("ok" | "busy" | what went wrong, seconds to wait before the next)."""
        token, browser_id = csrf
        body = urllib.parse.urlencode({
            "csrf": token, "request": "", "passkey_offer": "", "email": person.email, "password": self.password,
        })
        headers = form_headers()
        headers["Cookie"] = f"{CSRF_COOKIE}={browser_id}"
        status, response, data = connection.request("POST", "/login", body, headers)
        if status == 303 and response.getheader("Location") == SIGNED_IN_LOCATION:
            return "ok", 0.0
        if status == 503:
            return ("busy" if LANE_BUSY_TEXT in data else "unavailable"), retry_after_seconds(response)
        return f"HTTP {status} {page_message(data)}", STORM_ERROR_PAUSE

    def _count(self, outcome: str) -> None:
        with self._lock:
            if outcome == "ok":
                self.tally.ok += 1
            elif outcome == "busy":
                self.tally.busy += 1
            elif outcome == "unavailable":
                self.tally.unavailable += 1
            else:
                self.tally.other += 1
                if len(self.tally.examples) < 3:
                    self.tally.examples.append(outcome)


@dataclass
class StormPhase:
    name: str
    workers: int  # concurrent sign-ins; 0 for the quiet baseline
    wrk: WrkResult
    peak_rss_kib: int | None
    alive: bool
    tally: SignInTally = field(default_factory=SignInTally)
    storm_seconds: float = 0.0
    mean_in_flight: float = 0.0
    driver_cpu: float = 0.0
    recovered_rss_kib: int | None = None


def describe_storm(phase: StormPhase) -> str:
    line = describe(phase.wrk) + f"  peak RSS {fmt_mib(phase.peak_rss_kib)} MiB"
    if phase.workers:
        tally = phase.tally
        line += (
            f"\n    sign-ins over {phase.storm_seconds:.1f} s: {tally.ok} signed in, {tally.busy} answered 503 by the full "
            f"lane, {tally.unavailable} 503 with the database away, {tally.other} other; {phase.mean_in_flight:.1f} in flight on average while wrk ran; "
            f"driver CPU {phase.driver_cpu:.0%}"
        )
    return line


def quiet_phase(runner: Runner, args: argparse.Namespace) -> StormPhase:
    with Sampler(args.server_pid) as sampler:
        result = runner.run(STORM_ENDPOINT, args.seconds, "quiet")
    return StormPhase("quiet", 0, result, sampler.peak_kib(), alive(args.server_pid))


def storm_phase(runner: Runner, args: argparse.Namespace, people: list[Person], password: str, workers: int) -> StormPhase:
    """The same wrk load as the quiet phase while `workers` sign-ins run; they start
    STORM_RAMP_SECONDS earlier, so the password lane is already full when wrk starts."""
    parsed = urllib.parse.urlsplit(args.base_url)
    storm = SignInStorm(parsed.hostname, parsed.port, people, password, workers)
    with Sampler(args.server_pid) as whole:
        storm.start()
        time.sleep(STORM_RAMP_SECONDS)
        cpu_before, started = own_cpu_seconds(), time.monotonic()
        with Sampler(args.server_pid, storm.in_flight) as during:
            result = runner.run(STORM_ENDPOINT, args.seconds, f"{workers} sign-ins")
        driver_cpu = (own_cpu_seconds() - cpu_before) / (time.monotonic() - started)
        storm.stop()
    return StormPhase(
        name=f"{workers} sign-ins",
        workers=workers,
        wrk=result,
        peak_rss_kib=whole.peak_kib(),
        alive=alive(args.server_pid),
        tally=storm.tally,
        storm_seconds=storm.seconds,
        mean_in_flight=during.mean_in_flight(),
        driver_cpu=driver_cpu,
    )


def watch_recovery(pid: int, seconds: float, steps: int = 6) -> int | None:
    """The server's RSS `seconds` after a storm stopped (logged at `steps` points on the way);
    None if the server is gone."""
    points = [f"0 s {fmt_mib(rss_kib(pid))}"]
    started = time.monotonic()
    for step in range(1, steps + 1):
        time.sleep(max(0.0, started + seconds * step / steps - time.monotonic()))
        points.append(f"{seconds * step / steps:.0f} s {fmt_mib(rss_kib(pid))}")
    log(f"  RSS (MiB) after the sign-ins stopped: {', '.join(points)}")
    return rss_kib(pid)


def storm_verdicts(phases: dict[int, StormPhase], quiet: StormPhase, idle_kib: int, recovery: float) -> list[tuple[bool, str]]:
    verdicts: list[tuple[bool, str]] = []
    for workers in STORM_LEVELS:
        phase = phases.get(workers)
        if phase is None:
            verdicts.append((False, f"{workers} sign-ins: not measured (the server died before)"))
            continue
        name = phase.name
        peak = phase.peak_rss_kib or 0
        if workers == STORM_LEVELS[0]:
            throughput = ratio(phase.wrk.rps, quiet.wrk.rps)
            p99 = ratio(phase.wrk.latency_us.get(99, float("nan")), quiet.wrk.latency_us.get(99, float("nan")))
            verdicts += [
                (throughput >= TARGET_STORM_RATIO,
                 f"{name}: introspection throughput {throughput:.2f} of quiet (target ≥ {TARGET_STORM_RATIO})"),
                (p99 <= TARGET_STORM_P99_FACTOR,
                 f"{name}: introspection p99 {p99:.2f}× quiet (target ≤ {TARGET_STORM_P99_FACTOR:g}×)"),
            ]
        else:
            verdicts.append((phase.alive, f"{name}: the server {'is still alive' if phase.alive else 'DIED'}"))
        verdicts.append((
            0 < peak < TARGET_STORM_RSS_KIB,
            f"{name}: peak RSS {fmt_mib(peak)} MiB (target < {TARGET_STORM_RSS_KIB // 1024} MiB)",
        ))
        after = phase.recovered_rss_kib
        factor = after / idle_kib if after else float("nan")
        verdicts.append((
            factor <= TARGET_RECOVERY_FACTOR,
            f"{name}: RSS {recovery:g} s after the sign-ins stopped {fmt_mib(after)} MiB, {factor:.2f}× idle "
            f"{fmt_mib(idle_kib)} MiB (target ≤ {TARGET_RECOVERY_FACTOR:g}×)",
        ))
    return verdicts


def print_storm_report(
    phases: list[StormPhase], idle_kib: int, lane: str, seconds: float, recovery: float
) -> list[str]:
    quiet = phases[0]
    quiet_p99 = quiet.wrk.latency_us.get(99, float("nan"))
    after = f"RSS +{recovery:g}s"
    header = (
        f"{'phase':<13} {'req/s':>8} {'×quiet':>6} {'p99':>8} {'×quiet':>7} {'server CPU':>10} "
        f"{'peak RSS':>8} {'signed in':>9} {'503 lane':>8} {'503 db':>6} {'other':>5} {'in flight':>9} {after:>9} "
        f"{'×idle':>5} {'alive':>5}"
    )
    log()
    log(f"Storm results: wrk -t1 -c{CONNECTIONS} {STORM_ENDPOINT}, {seconds:g} s per phase; {lane}; RSS in MiB")
    log("=" * len(header))
    log(header)
    log("-" * len(header))
    for phase in phases:
        p99 = phase.wrk.latency_us.get(99, float("nan"))
        storm = phase.workers > 0
        log(
            f"{phase.name:<13} {fmt_rps(phase.wrk.rps):>8} {ratio(phase.wrk.rps, quiet.wrk.rps):>6.2f} "
            f"{fmt_latency(p99):>8} {ratio(p99, quiet_p99):>6.2f}× {phase.wrk.server_cpu:>10.0%} {fmt_mib(phase.peak_rss_kib):>8} "
            f"{phase.tally.ok if storm else '—':>9} {phase.tally.busy if storm else '—':>8} "
            f"{phase.tally.unavailable if storm else '—':>6} "
            f"{phase.tally.other if storm else '—':>5} {f'{phase.mean_in_flight:.1f}' if storm else '—':>9} "
            f"{fmt_mib(phase.recovered_rss_kib):>9} "
            f"{f'{phase.recovered_rss_kib / idle_kib:.2f}' if phase.recovered_rss_kib else '—':>5} "
            f"{'yes' if phase.alive else 'NO':>5}"
        )
    log("-" * len(header))
    log(
        f"Idle RSS before the quiet phase: {fmt_mib(idle_kib)} MiB (caches filled). Sign-ins are counted over each whole "
        f"storm ({STORM_RAMP_SECONDS:g} s ramp, the wrk run, then the sign-ins in flight finishing); \"in flight\" is the "
        "mean of the driver's sign-ins under way while wrk ran (a worker answered 503 waits out Retry-After). "
        "503 lane: the password lane was full (shedding as designed); 503 db: no database connection in time."
    )
    other = max(phase.wrk.other_cpu - phase.driver_cpu for phase in phases)
    note = "  WARNING: other processes competed for the CPUs; figures are noisy" if other > 0.10 else ""
    log(f"Background load: besides the server, wrk and this driver, other processes used at most {other:.0%} of a core.{note}")

    by_workers = {phase.workers: phase for phase in phases if phase.workers}
    verdicts = storm_verdicts(by_workers, quiet, idle_kib, recovery)
    log()
    log("Targets:")
    for ok, text in verdicts:
        log(f"  {'PASS' if ok else 'FAIL'}  {text}")
    return [text for ok, text in verdicts if not ok]


def run_storm(args: argparse.Namespace, runner: Runner, people: list[Person], password: str) -> tuple[list[str], list[str]]:
    """The --storm measurement after setup: cold pass, warm-up, idle RSS, the quiet phase,
    then each storm and its recovery. Returns (request errors, missed targets)."""
    failed: list[str] = []
    log()
    log(f"Cold pass, {STORM_ENDPOINT}: one introspection of every token (first sightings; fills both caches)")
    cold = runner.run(STORM_ENDPOINT, max(60.0, args.tokens / 100), f"{STORM_ENDPOINT} (cold pass)", cold=True)
    log(describe(cold))
    if cold.check.get("responses", 0) < args.tokens:
        cold.errors.append(f"the cold pass answered {cold.check.get('responses', 0)} of {args.tokens} tokens")
    failed += [f"{STORM_ENDPOINT} cold pass: {e}" for e in cold.errors]
    warmup = runner.run(STORM_ENDPOINT, args.warmup, f"{STORM_ENDPOINT} (warm-up)")
    log(describe(warmup))
    failed += [f"{STORM_ENDPOINT} warm-up: {e}" for e in warmup.errors]

    time.sleep(STORM_SETTLE_SECONDS)  # idle means idle: no request under way for a moment
    idle_kib = rss_kib(args.server_pid)
    if idle_kib is None:
        raise SetupError("the server died before the quiet phase")
    slots = password_lane_slots(args.server_pid)
    lane = (
        f"password lane: server defaults, {slots} slot(s) (half its {len(os.sched_getaffinity(args.server_pid))} core(s), "
        f"at least 1) + queue {DEFAULT_PASSWORD_HASH_QUEUE}, so {slots + DEFAULT_PASSWORD_HASH_QUEUE} sign-ins at once"
    )
    log()
    log(f"Idle RSS {fmt_mib(idle_kib)} MiB; {lane}")
    log(f"Measuring: quiet, then {' and '.join(map(str, STORM_LEVELS))} concurrent sign-ins, {args.seconds:g} s each, "
        f"each followed by {args.recovery:g} s without sign-ins")
    phases = [quiet_phase(runner, args)]
    log(describe_storm(phases[0]))
    failed += [f"quiet: {e}" for e in phases[0].wrk.errors]
    for workers in STORM_LEVELS:
        if not alive(args.server_pid):
            break
        phase = storm_phase(runner, args, people, password, workers)
        log(describe_storm(phase))
        failed += [f"{phase.name}: introspection {e}" for e in phase.wrk.errors]
        if phase.tally.other:
            failed.append(
                f"{phase.name}: {phase.tally.other} sign-ins failed other than with 503, e.g. "
                + "; ".join(phase.tally.examples)
            )
        if phase.alive:
            phase.recovered_rss_kib = watch_recovery(args.server_pid, args.recovery)
            phase.alive = alive(args.server_pid)
        if not phase.alive:
            failed.append(f"{phase.name}: the server died")
        phases.append(phase)
        if args.save_raw:
            with open(os.path.join(args.work_dir, f"wrk-storm-{workers}.txt"), "w", encoding="utf-8") as file:
                file.write(phase.wrk.raw)
    missed = print_storm_report(phases, idle_kib, lane, args.seconds, args.recovery)
    return failed, missed


# ---------------------------------------------------------------------------- main


def prepare_entitled_tokens(
    args: argparse.Namespace, authorization: str, admin: dict, app: dict, password: str, entitled_token_file: str
) -> tuple[list[Person], list[tuple[str, Person]]]:
    """Steps 2 to 4 for the entitled class: entitlements, sign-ins and refreshes, sample check."""
    parsed = urllib.parse.urlsplit(args.base_url)
    people = load_people(args.people_dir)
    log(
        f"Entitlements through the admin API: tier {TIER['slug']} (features {', '.join(TIER['features'])}), "
        f"{len(PRODUCTS)} products; {len(people):,} people each get an active subscription "
        f"and {GRANTS_PER_PERSON} grants…"
    )
    started = time.monotonic()
    grant_entitlements(parsed.hostname, parsed.port, basic_authorization(admin["client_id"], admin["client_secret"]), people)
    log(f"  done in {time.monotonic() - started:.1f} s")
    log(
        f"Minting {args.tokens:,} person access tokens (scope {APP_SCOPE}): each person signs in "
        f"(authorization code + PKCE), then refreshes with rotation; {SETUP_CONNECTIONS} people at a time…"
    )
    started = time.monotonic()
    minted = mint_entitled_tokens(parsed.hostname, parsed.port, app, people, password, args.tokens)
    elapsed = time.monotonic() - started
    distinct = len({token for token, _ in minted})
    if len(minted) != args.tokens or distinct != args.tokens:
        raise SetupError(f"wanted {args.tokens} distinct person tokens, got {len(minted)} ({distinct} distinct)")
    with open(entitled_token_file, "w", encoding="ascii") as file:
        file.write("\n".join(token for token, _ in minted) + "\n")
    log(
        f"  {distinct:,} distinct tokens of {len(people):,} people in {elapsed:.1f} s "
        f"(interleaved by person), written to {entitled_token_file}"
    )
    check_entitled_sample(args.base_url, authorization, minted, "before load")
    return people, minted


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--client-json", required=True, help="output of `usher client create --json`")
    parser.add_argument("--admin-json", required=True, help="the same for a client_credentials client with scope usher:admin")
    parser.add_argument("--app-json", required=True, help="the same for a first-party confidential web app")
    parser.add_argument("--people-dir", required=True, help="one `usher user create --json` output per person: N.json")
    parser.add_argument("--password-file", required=True, help="every person's password")
    parser.add_argument("--work-dir", required=True)
    parser.add_argument("--server-pid", type=int, required=True)
    parser.add_argument("--client-core", type=int, default=0)
    parser.add_argument("--tokens", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--warmup", type=float, default=3)
    parser.add_argument("--save-raw", action="store_true", help="keep every wrk output in the work dir")
    parser.add_argument(
        "--storm", action="store_true",
        help="instead of the endpoint rounds: introspection of people's tokens, quiet and during sign-in storms",
    )
    parser.add_argument("--recovery", type=float, default=60, help="--storm: seconds to watch RSS after each storm")
    args = parser.parse_args()

    parsed = urllib.parse.urlsplit(args.base_url)
    with open(args.client_json, encoding="utf-8") as file:
        client = json.load(file)
    authorization = basic_authorization(client["client_id"], client["client_secret"])
    with open(args.admin_json, encoding="utf-8") as file:
        admin = json.load(file)
    with open(args.app_json, encoding="utf-8") as file:
        app = json.load(file)
    with open(args.password_file, encoding="utf-8") as file:
        password = file.read()
    token_file = os.path.join(args.work_dir, "tokens.txt")
    entitled_token_file = os.path.join(args.work_dir, "tokens-entitled.txt")
    failed: list[str] = []
    missed: list[str] = []

    try:
        if args.storm:
            people, minted = prepare_entitled_tokens(args, authorization, admin, app, password, entitled_token_file)
            # Only the entitled class runs; the other token file is never read.
            runner = Runner(args, authorization, token_file, entitled_token_file)
            failed, missed = run_storm(args, runner, people, password)
            if alive(args.server_pid):
                log()
                check_entitled_sample(args.base_url, authorization, minted, "after the storms")
            return finish(failed, missed)

        log(f"Minting {args.tokens:,} access tokens (client credentials, 4 keep-alive connections)…")
        started = time.monotonic()
        tokens = mint_tokens(parsed.hostname, parsed.port, authorization, args.tokens)
        elapsed = time.monotonic() - started
        distinct = len(set(tokens))
        if len(tokens) != args.tokens or distinct != args.tokens:
            raise SetupError(f"wanted {args.tokens} distinct tokens, got {len(tokens)} ({distinct} distinct)")
        with open(token_file, "w", encoding="ascii") as file:
            file.write("\n".join(tokens) + "\n")
        log(f"  {distinct:,} distinct tokens in {elapsed:.1f} s, written to {token_file}")
        check_sample(args.base_url, authorization, tokens, "before load")

        log()
        people, minted = prepare_entitled_tokens(args, authorization, admin, app, password, entitled_token_file)

        runner = Runner(args, authorization, token_file, entitled_token_file)
        colds: list[WrkResult] = []
        for endpoint, what in (
            ("introspection", "fills the verified-token cache"),
            ("introspection_entitled", "fills the verified-token cache and the entitlement cache"),
        ):
            log()
            log(f"Cold pass, {endpoint}: one introspection of every token (first sightings; {what})")
            cold = runner.run(endpoint, max(60.0, args.tokens / 100), f"{endpoint} (cold pass)", cold=True)
            log(describe(cold))
            if cold.check.get("responses", 0) < args.tokens:
                cold.errors.append(f"the cold pass answered {cold.check.get('responses', 0)} of {args.tokens} tokens")
            failed += [f"{endpoint} cold pass: {e}" for e in cold.errors]
            colds.append(cold)

        log()
        log(f"Warm-up: {args.warmup:g} s per endpoint")
        for endpoint in ENDPOINTS:
            result = runner.run(endpoint, args.warmup, f"{endpoint} (warm-up)")
            log(describe(result))
            failed += [f"{endpoint} warm-up: {e}" for e in result.errors]

        log()
        log(f"Measuring: {args.runs} round(s) of {' → '.join(ENDPOINTS)}, {args.seconds:g} s each")
        results: list[WrkResult] = []
        for round_index in range(1, args.runs + 1):
            for endpoint in ENDPOINTS:
                result = runner.run(endpoint, args.seconds, f"{endpoint} #{round_index}")
                log(describe(result))
                results.append(result)
                failed += [f"{result.label}: {e}" for e in result.errors]
                if args.save_raw:
                    name = f"wrk-{endpoint}-{round_index}.txt"
                    with open(os.path.join(args.work_dir, name), "w", encoding="utf-8") as file:
                        file.write(result.raw)
                if not alive(args.server_pid):
                    raise SetupError("the server died during the benchmark")

        check_sample(args.base_url, authorization, tokens, "after load")
        check_entitled_sample(args.base_url, authorization, minted, "after load")
        missed = print_report(summarise(results), colds, args.runs, args.seconds, len(people))
    except SetupError as error:
        log(f"ERROR: {error}")
        return 2
    return finish(failed, missed)


def finish(failed: list[str], missed: list[str]) -> int:
    """The closing RESULT line and the exit status: 1 on request errors, else 0."""
    log()
    if failed:
        log("RESULT: ERRORS — some requests failed:")
        for line in failed:
            log(f"  {line}")
        return 1
    if missed:
        log(f"RESULT: no request errors; {len(missed)} target(s) missed (see FAIL above)")
    else:
        log("RESULT: no request errors; all targets met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
