#!/usr/bin/env python3
"""Resilience benchmarks of usher; `benches/run --spike|--million|--db-away|--freeze` starts
the database and the servers, then calls this. Python 3.11 standard library only; the
helpers of benches/usher_bench.py (minting, sign-ins, entitlements, wrk parsing) are reused.

--spike    A mixed baseline load over every instance: introspection of people's and
           service tokens and client-credentials issuance (wrk, each connection pacing its
           requests), refresh-token rotations, password sign-ins and entitlement changes
           through the admin API (threads of this driver, each pacing its requests). Then
           the same with 100 times the connections and threads for the step, then the
           baseline again. p50/p99 per class and phase, 5xx, each instance's RSS, and how
           long after the step introspection's latency came back.
--million  Mints N distinct client-credentials tokens with wrk (token.lua records them),
           checks that every one introspects as active, then measures cached introspection
           of all N against the first 10,000, interleaved, in the same run.
--db-away  Introspection and token requests while the private PostgreSQL cluster is frozen
           (SIGSTOP of the postmaster and every backend), then while it is stopped
           (pg_ctl stop -m immediate): answers slower than 1 s, and 5xx other than 503 with
           Retry-After.
--freeze   Entitlement writes through the admin API of two instances while the private
           cluster is frozen for 5 s again and again; then every person's tier, ppv and
           ent_ver as both instances' introspection tells them, against the database.

Exit status: 0 when no request failed (whether or not targets were met), 1 when requests
failed as the mode defines it or a server died, 2 on a setup failure.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Callable

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import usher_bench as ub  # noqa: E402 - the benchmark helpers next to this file
from usher_bench import (  # noqa: E402
    ADMIN_API,
    BENCH_DIR,
    PRODUCTS,
    TIER,
    Http,
    Person,
    SetupError,
    alive,
    basic_authorization,
    fmt_latency,
    fmt_mib,
    fmt_rps,
    log,
    rss_kib,
)

RE_EXTRA = re.compile(r"server_errors=(\d+) retry_after_503=(\d+) max_us=(\d+)")
SLOW_SECONDS = 1.0
BASIC_TIER = {"slug": "basic", "name": "Basic", "rank": 10, "features": ["sd"], "max_streams": 1}

# --spike: the baseline load, per class; the step multiplies connections and threads.
SPIKE_FACTOR = 100
SPIKE_INTROSPECTION = (2, 20)  # wrk connections, ms each waits after an answer: ~100 req/s per kind of token
SPIKE_TOKENS = (2, 200)  # ~10 client-credentials tokens/s
SPIKE_REFRESH = (2, 0.4)  # threads, seconds each waits: ~5 refreshes/s
SPIKE_SIGN_IN = (1, 10.0)  # ~0.1 password sign-ins/s
SPIKE_ENTITLEMENT = (1, 1.0)  # ~1 entitlement change/s
SPIKE_PROBE_SECONDS = 0.02  # the recovery probe introspects this often
# The driver's load threads (up to 400 in the step) run this many nice levels below wrk and the
# probe on the load generator's core, so wrk's timing does not include waiting behind them.
SPIKE_DRIVER_NICE = 10
# The introspection wrk processes run this many levels above normal when the driver may raise
# them (root): on the load generator's core they share the CPU with PostgreSQL's backends (an
# unpinned server), the client-credentials wrk and the driver, and the time a response waits
# for wrk to be scheduled is not the server's.
SPIKE_INTROSPECTION_WRK_NICE = -10 if os.geteuid() == 0 else 0
TARGET_SPIKE_P99_FACTOR = 10.0
RECOVERY_P99_FACTOR = 2.0

# --million
MILLION_BASE = 10_000
TARGET_MILLION_RATIO = 0.5

# --freeze
FREEZE_SECONDS = 5.0
FREEZE_WRITERS = 4


# ---------------------------------------------------------------------------- instances


@dataclass
class Instance:
    url: str
    host: str
    port: int
    pid: int
    content_port: int  # the content servers' listener (content_bind); the public port when there is none


def instances_of(args: argparse.Namespace) -> list[Instance]:
    urls = args.base_urls.split(",")
    pids = [int(pid) for pid in args.server_pids.split(",")]
    content_ports = [int(port) for port in args.content_ports.split(",") if port]
    found = []
    for index, (url, pid) in enumerate(zip(urls, pids)):
        parsed = urllib.parse.urlsplit(url)
        content_port = content_ports[index] if index < len(content_ports) else parsed.port
        found.append(Instance(url, parsed.hostname, parsed.port, pid, content_port))
    return found


def content_side(instances: list[Instance]) -> list[Instance]:
    """The instances as content servers reach them: on their own listener when they have one."""
    return [
        dataclasses.replace(i, url=f"http://{i.host}:{i.content_port}", port=i.content_port) for i in instances
    ]


def all_alive(instances: list[Instance]) -> bool:
    return all(alive(instance.pid) for instance in instances)


def latency_text(us: float) -> str:
    return "—" if us != us else fmt_latency(us)  # NaN: nothing was answered


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


# ---------------------------------------------------------------------------- wrk


@dataclass
class WrkRun:
    result: ub.WrkResult
    server_errors: int = 0
    retry_after_503: int = 0
    max_us: int = 0


class Wrk:
    """One wrk process, started now, its threads spread over the instances (USHER_WRK_PORTS)."""

    def __init__(
        self, args: argparse.Namespace, instances: list[Instance], endpoint: str, script_args: list[str],
        connections: int, seconds: float, label: str, nice: int = 0,
    ):
        self.endpoint, self.label = endpoint, label
        script = "introspect.lua" if endpoint.startswith("introspection") else "token.lua"
        threads = len(instances)
        command = [
            "taskset", "-c", str(args.client_core), "nice", "-n", str(nice), "wrk", f"-t{threads}", f"-c{max(connections, threads)}",
            f"-d{seconds:g}s", "--latency", "--timeout", "10s",
            "-s", os.path.join(BENCH_DIR, script), instances[0].url, "--", *script_args,
        ]
        environment = dict(os.environ, USHER_WRK_PORTS=",".join(str(i.port) for i in instances))
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment)

    def finish(self) -> WrkRun:
        stdout, stderr = self.process.communicate()
        output = stdout + stderr
        result = ub.parse_wrk(self.endpoint, self.label, output, self.process.returncode, 0.0, 0.0)
        run = WrkRun(result)
        extra = RE_EXTRA.search(output)
        if extra:
            run.server_errors, run.retry_after_503, run.max_us = map(int, extra.groups())
        return run


def wrk_once(
    args: argparse.Namespace, instances: list[Instance], endpoint: str, script_args: list[str],
    connections: int, seconds: float, label: str,
) -> WrkRun:
    return Wrk(args, instances, endpoint, script_args, connections, seconds, label).finish()


def cold_pass(args: argparse.Namespace, instance: Instance, token_file: str, authorization: str, tokens: int, stream: bool = False) -> ub.WrkResult:
    """One introspection of every token on one instance: fills its verified-token cache (and
    entitlement cache), and checks that every token is active."""
    command = [
        "taskset", "-c", str(args.client_core), "wrk", "-t1", "-c32", f"-d{max(60, tokens // 1000)}s", "--latency",
        "--timeout", "10s", "-s", os.path.join(BENCH_DIR, "introspect.lua"), instance.url, "--",
        token_file, authorization, "cold", *(["stream"] if stream else []),
    ]
    code, output = ub.run_until_cold_pass_done(command)
    result = ub.parse_wrk("introspection", f"cold pass on :{instance.port}", output, code, 0.0, 0.0)
    if result.check.get("responses", 0) < tokens:
        result.errors.append(f"the cold pass answered {result.check.get('responses', 0)} of {tokens} tokens")
    return result


# ---------------------------------------------------------------------------- paced requests from Python


@dataclass
class Answer:
    started: float
    seconds: float
    status: int  # 0: no answer (connection error)
    retry_after: bool
    note: str = ""  # what the operation said about a failed answer (its body, say)


def failure_notes(answers: list[Answer]) -> list[str]:
    """Up to three distinct notes of the given answers, for a summary line."""
    return sorted({a.note for a in answers if a.note})[:3]


class Recorder:
    def __init__(self) -> None:
        self.answers: list[Answer] = []
        self.lock = threading.Lock()

    def add(self, answer: Answer) -> None:
        with self.lock:
            self.answers.append(answer)

    def between(self, start: float, end: float) -> list[Answer]:
        with self.lock:
            return [a for a in self.answers if start <= a.started < end]


Operation = Callable[[Http], tuple[int, bool, str]]  # -> (status, Retry-After present, note)


class PacedWorkers:
    """`count` threads, each on its own keep-alive connection to instance (index mod n),
    each running its operation, then waiting `pace` seconds, until stopped (what wrk's
    delay() does for the wrk classes). Every answer is recorded with its latency."""

    def __init__(
        self, instances: list[Instance], make: Callable[[int], Operation], count: int, pace: float,
        recorder: Recorder, first_index: int = 0, timeout: float = 30.0, nice: int = 0,
    ):
        self.nice = nice
        self.stop_event = threading.Event()
        self.recorder = recorder
        self.in_flight = 0
        self.lock = threading.Lock()
        self.threads = [
            threading.Thread(
                target=self._work, args=(instances[(first_index + i) % len(instances)], make(first_index + i), pace, timeout, i),
                daemon=True,
            )
            for i in range(count)
        ]

    def start(self) -> PacedWorkers:
        for thread in self.threads:
            thread.start()
        return self

    def stop(self) -> None:
        self.stop_event.set()
        for thread in self.threads:
            thread.join()

    def _work(self, instance: Instance, operation: Operation, pace: float, timeout: float, index: int) -> None:
        if self.nice:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), self.nice)  # this thread only (Linux)
        # Threads start spread over one pace, so a class's requests do not come in bursts.
        if self.stop_event.wait(pace * (index % 50) / 50):
            return
        connection = Http(instance.host, instance.port)
        connection.connection.timeout = timeout
        try:
            while not self.stop_event.is_set():
                started = time.monotonic()
                with self.lock:
                    self.in_flight += 1
                try:
                    status, retry_after, note = operation(connection)
                except Exception as error:  # noqa: BLE001 - recorded as a failed request
                    status, retry_after, note = 0, False, repr(error)
                    connection.close()
                    connection = Http(instance.host, instance.port)
                    connection.connection.timeout = timeout
                finally:
                    with self.lock:
                        self.in_flight -= 1
                self.recorder.add(Answer(started, time.monotonic() - started, status, retry_after, note))
                self.stop_event.wait(pace)
        finally:
            connection.close()


def retry_after(response) -> bool:  # noqa: ANN001 - http.client.HTTPResponse
    return response.getheader("Retry-After") is not None


def admin_bearer(instance: Instance, admin: dict) -> dict[str, str]:
    connection = Http(instance.host, instance.port)
    try:
        answer = ub.token_request(
            connection, basic_authorization(admin["client_id"], admin["client_secret"]),
            {"grant_type": "client_credentials", "scope": "usher:admin"}, "admin token",
        )
    finally:
        connection.close()
    return {"Authorization": f"Bearer {answer['access_token']}", "Content-Type": "application/json"}


def refresh_operation(app_authorization: str, chain: list[str]) -> Operation:
    """Rotates one refresh chain: each answer's refresh token is the next request's. A failed
    attempt keeps the token (a retry of a lost answer is allowed)."""

    def operate(connection: Http) -> tuple[int, bool, str]:
        body = urllib.parse.urlencode({"grant_type": "refresh_token", "refresh_token": chain[0]})
        status, response, data = connection.request("POST", "/oauth/token", body, ub.form_headers(app_authorization))
        if status == 200:
            chain[0] = json.loads(data)["refresh_token"]
        return status, retry_after(response), "" if status == 200 else data[:120].decode("utf-8", "replace")

    return operate


def sign_in_operation(people: list[Person], password: str, offset: int) -> Operation:
    """A password sign-in as a browser without a session: the login form's CSRF token once
    per connection, then POST /login, people round robin. Success is the 303 to /account."""
    state: dict = {"csrf": None, "turn": offset}

    def operate(connection: Http) -> tuple[int, bool, str]:
        if state["csrf"] is None:
            state["csrf"] = ub.login_csrf(connection)
        token, browser_id = state["csrf"]
        person = people[state["turn"] % len(people)]
        state["turn"] += 7
        body = urllib.parse.urlencode({
            "csrf": token, "request": "", "passkey_offer": "", "email": person.email, "password": password,
        })
        headers = ub.form_headers()
        headers["Cookie"] = f"{ub.CSRF_COOKIE}={browser_id}"
        status, response, data = connection.request("POST", "/login", body, headers)
        if status == 303 and response.getheader("Location") == ub.SIGNED_IN_LOCATION:
            return 200, False, ""
        note = "password lane full" if ub.LANE_BUSY_TEXT in data else ub.page_message(data)
        return status, retry_after(response), note

    return operate


def entitlement_operation(bearer: dict[str, str], people: list[Person], offset: int) -> Operation:
    """An entitlement change through the admin API: alternately grants a product to a person
    and revokes that grant (their tier stays; their ppv and ent_ver change)."""
    state: dict = {"grant": None, "turn": offset}

    def operate(connection: Http) -> tuple[int, bool, str]:
        if state["grant"] is None:
            person = people[state["turn"] % len(people)]
            state["turn"] += 3
            body = json.dumps({"product": random.choice(PRODUCTS)})
            status, response, data = connection.request("POST", f"{ADMIN_API}/users/{person.id}/grants", body, bearer)
            if status in (200, 201):
                state["grant"] = (person.id, json.loads(data)["id"])
                return 200, False, ""
            return status, retry_after(response), data[:120].decode("utf-8", "replace")
        user_id, grant_id = state["grant"]
        status, response, data = connection.request("DELETE", f"{ADMIN_API}/users/{user_id}/grants/{grant_id}", None, bearer)
        if status == 204:
            state["grant"] = None
            return 200, False, ""
        return status, retry_after(response), data[:120].decode("utf-8", "replace")

    return operate


# ---------------------------------------------------------------------------- people and tokens


def person_tokens_and_chains(
    instance: Instance, app: dict, people: list[Person], password: str, count: int
) -> tuple[list[tuple[str, Person]], list[list[str]]]:
    """`count` person access tokens (each person signs in once, then refreshes with rotation),
    interleaved by person, and every person's current refresh token, as a one-item list the
    refresh workers update in place."""
    app_authorization = basic_authorization(app["client_id"], app["client_secret"])
    quotas = [max(1, count // len(people) + (1 if index < count % len(people) else 0)) for index in range(len(people))]

    def mint(connection: Http, job: tuple[Person, int]) -> tuple[list[str], str]:
        person, quota = job
        answer = ub.sign_in(connection, app["client_id"], app_authorization, person, password)
        tokens = [answer["access_token"]]
        refresh = answer["refresh_token"]
        while len(tokens) < quota:
            answer = ub.token_request(
                connection, app_authorization, {"grant_type": "refresh_token", "refresh_token": refresh},
                f"{person.email}: refresh #{len(tokens)}",
            )
            refresh = answer["refresh_token"]
            tokens.append(answer["access_token"])
        return tokens, refresh

    jobs = list(zip(people, quotas))
    per_person = ub.in_parallel(instance.host, instance.port, jobs, mint)
    minted: list[tuple[str, Person]] = []
    for round_index in range(max(len(tokens) for tokens, _ in per_person)):
        for (person, _), (tokens, _) in zip(jobs, per_person):
            if round_index < len(tokens):
                minted.append((tokens[round_index], person))
    return minted[:count] if count >= len(people) else minted, [[refresh] for _, refresh in per_person]


def write_lines(path: str, lines: list[str]) -> None:
    with open(path, "w", encoding="ascii") as file:
        file.write("\n".join(lines) + "\n")


def prepare_mixed_tokens(
    args: argparse.Namespace, instances: list[Instance], authorization: str, admin: dict, app: dict, password: str,
) -> tuple[list[Person], list[list[str]], str]:
    """Entitlements for every person, N service tokens, N person tokens (and every person's
    refresh chain), written interleaved to one file; a cold pass on every instance."""
    first = instances[0]
    people = ub.load_people(args.people_dir)
    log(f"Entitlements through the admin API: tiers {TIER['slug']} and {BASIC_TIER['slug']}, {len(PRODUCTS)} products, "
        f"{len(people)} people with a subscription and {ub.GRANTS_PER_PERSON} grants each…")
    started = time.monotonic()
    ub.grant_entitlements(first.host, first.port, basic_authorization(admin["client_id"], admin["client_secret"]), people)
    bearer = admin_bearer(first, admin)
    connection = Http(first.host, first.port)
    try:
        status, _, data = connection.request("POST", f"{ADMIN_API}/tiers", json.dumps(BASIC_TIER), bearer)
    finally:
        connection.close()
    if status != 201:
        raise SetupError(f"POST {ADMIN_API}/tiers answered HTTP {status}: {data[:200]!r}")
    log(f"  done in {time.monotonic() - started:.1f} s")

    log(f"Minting {args.tokens:,} service tokens and {args.tokens:,} person tokens (sign-in, then refresh rotation)…")
    started = time.monotonic()
    service = ub.mint_tokens(first.host, first.port, authorization, args.tokens)
    minted, chains = person_tokens_and_chains(first, app, people, password, args.tokens)
    mixed = [token for pair in zip(service, (token for token, _ in minted)) for token in pair]
    token_file = os.path.join(args.work_dir, "tokens-mixed.txt")
    write_lines(token_file, mixed)
    write_lines(os.path.join(args.work_dir, "tokens-service.txt"), service)
    write_lines(os.path.join(args.work_dir, "tokens-person.txt"), [token for token, _ in minted])
    log(f"  {len(mixed):,} tokens, service and person interleaved, in {time.monotonic() - started:.1f} s: {token_file}")
    ub.check_sample(first.url, authorization, service, "before load")
    ub.check_entitled_sample(first.url, authorization, minted, "before load")
    for instance in instances:
        cold = cold_pass(args, instance, token_file, authorization, len(mixed))
        log(ub.describe(cold))
        if cold.errors:
            raise SetupError(f"cold pass on {instance.url}: {'; '.join(cold.errors)}")
    return people, chains, token_file


# ---------------------------------------------------------------------------- --spike


@dataclass
class ClassFigures:
    requests: int
    rate: float
    p50_us: float
    p99_us: float
    server_errors: int
    other_errors: int


def figures_of_wrk(run: WrkRun) -> ClassFigures:
    result = run.result
    other = result.non2xx + sum(result.socket_errors.values()) - run.server_errors
    other += result.check.get("inactive", 0)
    return ClassFigures(
        result.requests, result.rps, result.latency_us.get(50, float("nan")), result.latency_us.get(99, float("nan")),
        run.server_errors, max(0, other),
    )


def figures_of_answers(answers: list[Answer], seconds: float) -> ClassFigures:
    latencies = [a.seconds * 1e6 for a in answers]
    return ClassFigures(
        len(answers), len(answers) / seconds if seconds else 0.0, percentile(latencies, 0.5), percentile(latencies, 0.99),
        sum(1 for a in answers if a.status >= 500), sum(1 for a in answers if a.status < 200 or 300 <= a.status < 500),
    )


class RssSampler:
    def __init__(self, instances: list[Instance]):
        self.samplers = [ub.Sampler(instance.pid) for instance in instances]

    def __enter__(self) -> RssSampler:
        for sampler in self.samplers:
            sampler.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        for sampler in self.samplers:
            sampler.__exit__(*exc)

    def peaks(self) -> list[int | None]:
        return [sampler.peak_kib() for sampler in self.samplers]


def run_spike(args: argparse.Namespace, instances: list[Instance], authorization: str, admin: dict, app: dict, password: str) -> tuple[list[str], list[str]]:
    people, chains, token_file = prepare_mixed_tokens(args, instances, authorization, admin, app, password)
    bearer = admin_bearer(instances[0], admin)
    app_authorization = basic_authorization(app["client_id"], app["client_secret"])
    phase_seconds = (5.0, 5.0, 10.0) if args.quick else (30.0, 30.0, 30.0)
    names = ("before", "step", "after")

    def python_class(name: str, base: tuple[int, float], make: Callable[[int], Operation]) -> dict:
        return {"name": name, "base": base, "make": make, "recorder": Recorder()}

    python_classes = [
        python_class("refresh", SPIKE_REFRESH, lambda i: refresh_operation(app_authorization, chains[i % len(chains)])),
        python_class("sign_in", SPIKE_SIGN_IN, lambda i: sign_in_operation(people, password, i)),
        python_class("entitlement_change", SPIKE_ENTITLEMENT, lambda i: entitlement_operation(bearer, people, i)),
    ]
    if len(chains) < SPIKE_REFRESH[0] * SPIKE_FACTOR:
        log(f"  note: {len(chains)} people for {SPIKE_REFRESH[0] * SPIKE_FACTOR} refresh threads: some chains are shared "
            "(a shared chain's stale token is refused 400 and counted as an error)")

    log()
    log(
        f"Spike: baseline {phase_seconds[0]:g} s, step ×{SPIKE_FACTOR} for {phase_seconds[1]:g} s, back for {phase_seconds[2]:g} s, "
        f"over {len(instances)} instance(s). Baseline: introspection of service tokens and of person tokens, each wrk "
        f"-c{SPIKE_INTROSPECTION[0]} pace {SPIKE_INTROSPECTION[1]} ms, "
        f"client credentials wrk -c{SPIKE_TOKENS[0]} pace {SPIKE_TOKENS[1]} ms, refresh {SPIKE_REFRESH[0]} thread(s) pace {SPIKE_REFRESH[1]:g} s, "
        f"sign-in {SPIKE_SIGN_IN[0]} pace {SPIKE_SIGN_IN[1]:g} s, entitlement change {SPIKE_ENTITLEMENT[0]} pace {SPIKE_ENTITLEMENT[1]:g} s; "
        f"the step multiplies connections and threads by {SPIKE_FACTOR}"
    )
    if SPIKE_INTROSPECTION_WRK_NICE:
        log(f"  the introspection wrk processes run at nice {SPIKE_INTROSPECTION_WRK_NICE}, the driver's load threads at "
            f"nice {SPIKE_DRIVER_NICE}: on core {args.client_core} wrk's timing is the server's, not time spent waiting "
            "behind the rest of the load generator or PostgreSQL's backends")
    else:
        log(f"  not root: the introspection wrk processes run at normal priority (their timing includes any wait for "
            f"core {args.client_core}); the driver's load threads at nice {SPIKE_DRIVER_NICE}")
    probe_answers = Recorder()
    probe_token = open(token_file, encoding="ascii").readline().strip()

    def probe(connection: Http) -> tuple[int, bool, str]:
        status, response, _ = connection.request(
            "POST", "/oauth/introspect", urllib.parse.urlencode({"token": probe_token}), ub.form_headers(authorization)
        )
        return status, retry_after(response), ""

    probes = PacedWorkers(content_side(instances), lambda _: probe, len(instances), SPIKE_PROBE_SECONDS, probe_answers).start()
    base_workers = [
        PacedWorkers(instances, c["make"], c["base"][0], c["base"][1], c["recorder"], nice=SPIKE_DRIVER_NICE).start()
        for c in python_classes
    ]
    wrk_runs: dict[str, list[WrkRun]] = {"introspection_service": [], "introspection_person": [], "client_credentials": []}
    kind_files = {
        "introspection_service": os.path.join(args.work_dir, "tokens-service.txt"),
        "introspection_person": os.path.join(args.work_dir, "tokens-person.txt"),
    }
    bounds: list[tuple[float, float]] = []
    rss: dict[str, list[int | None]] = {}
    step_end = 0.0
    drained_at = 0.0
    cpu: dict[str, tuple[float, float, float]] = {}
    for phase, seconds in zip(names, phase_seconds):
        factor = SPIKE_FACTOR if phase == "step" else 1
        extra: list[PacedWorkers] = []
        started = time.monotonic()
        driver_before, wrk_before = ub.own_cpu_seconds(), ub.children_cpu_seconds()
        servers_before = sum(ub.cpu_seconds_of(instance.pid) for instance in instances)
        with RssSampler(instances) as sampler:
            if phase == "step":
                extra = [
                    PacedWorkers(instances, c["make"], c["base"][0] * (SPIKE_FACTOR - 1), c["base"][1], c["recorder"],
                                 first_index=c["base"][0], nice=SPIKE_DRIVER_NICE).start()
                    for c in python_classes
                ]
            runs = [
                Wrk(args, content_side(instances), kind, [path, authorization, f"pace={SPIKE_INTROSPECTION[1]}"],
                    SPIKE_INTROSPECTION[0] * factor, seconds, f"{kind} {phase}", nice=SPIKE_INTROSPECTION_WRK_NICE)
                for kind, path in kind_files.items()
            ] + [
                Wrk(args, instances, "client_credentials", [authorization, f"pace={SPIKE_TOKENS[1]}"],
                    SPIKE_TOKENS[0] * factor, seconds, f"client_credentials {phase}"),
            ]
            finished = [run.finish() for run in runs]
            ended = time.monotonic()
            if extra:
                step_end = ended
                for workers in extra:
                    workers.stop()
                drained_at = time.monotonic()
        bounds.append((started, ended))
        wall = time.monotonic() - started
        cpu[phase] = (
            (ub.own_cpu_seconds() - driver_before) / wall, (ub.children_cpu_seconds() - wrk_before) / wall,
            (sum(ub.cpu_seconds_of(instance.pid) for instance in instances) - servers_before) / wall,
        )
        for kind, run in zip(wrk_runs, finished):
            wrk_runs[kind].append(run)
        rss[phase] = sampler.peaks()
        log(f"  {phase}: {ended - started:.1f} s; RSS peak {', '.join(fmt_mib(k) for k in rss[phase])} MiB; CPU (share of "
            f"one core): this driver {cpu[phase][0]:.0%}, wrk {cpu[phase][1]:.0%}, server(s) {cpu[phase][2]:.0%}")
    end_rss = [rss_kib(instance.pid) for instance in instances]
    for workers in base_workers:
        workers.stop()
    probes.stop()

    # What each class did in each phase.
    table: dict[str, list[ClassFigures]] = {
        kind: [figures_of_wrk(run) for run in runs] for kind, runs in wrk_runs.items()
    }
    for c in python_classes:
        table[c["name"]] = [figures_of_answers(c["recorder"].between(s, e), e - s) for s, e in bounds]
    errors = [a for c in python_classes for a in c["recorder"].answers if a.status >= 500 or a.status < 200 or 300 <= a.status < 500]

    # Recovery: from the step's end to the first second in which the probe's p99 is back
    # within RECOVERY_P99_FACTOR of its baseline, the step's Python requests all answered.
    before_probe = [a.seconds for a in probe_answers.between(*bounds[0])]
    probe_p99 = percentile(before_probe, 0.99)
    recovered_at = None
    window = max(step_end, drained_at)
    while window + 1.0 <= bounds[2][1]:
        sample = [a.seconds for a in probe_answers.between(window, window + 1.0)]
        if sample and percentile(sample, 0.99) <= RECOVERY_P99_FACTOR * probe_p99:
            recovered_at = window
            break
        window += 0.25
    recovery = (recovered_at - step_end) if recovered_at is not None else float("nan")

    header = f"{'class':<21} " + " ".join(f"{n + ' req/s':>13} {'p50':>8} {'p99':>8} {'5xx':>5}" for n in names)
    log()
    log(f"Spike results ({args.backend}, {len(instances)} instance(s)): per phase, requests per second, p50, p99 and 5xx answers")
    log("=" * len(header))
    log(header)
    log("-" * len(header))
    for name, figures in table.items():
        cells = " ".join(
            f"{fmt_rps(f.rate) if f.rate >= 10 else f'{f.rate:.2f}':>13} {latency_text(f.p50_us):>8} {latency_text(f.p99_us):>8} {f.server_errors:>5}"
            for f in figures
        )
        log(f"{name:<21} {cells}")
    log("-" * len(header))
    multipliers = ", ".join(
        f"{name} ×{ub.ratio(figures[1].rate, figures[0].rate):.0f}" for name, figures in table.items() if figures[0].rate
    )
    log(
        "CPU during the step, as a share of one core: this driver (the Python classes) "
        f"{cpu['step'][0]:.0%}, wrk {cpu['step'][1]:.0%} (both on core {args.client_core}), server(s) {cpu['step'][2]:.0%} (core "
        f"{args.server_core}); load average {open('/proc/loadavg', encoding='ascii').read().split()[0]} at the end"
    )
    log(f"Achieved step multipliers (step rate / baseline rate): {multipliers}")
    for index, instance in enumerate(instances):
        log(
            f"RSS of instance {index + 1} (:{instance.port}), MiB: peak before {fmt_mib(rss['before'][index])}, "
            f"peak during the step {fmt_mib(rss['step'][index])}, peak after {fmt_mib(rss['after'][index])}, "
            f"at the end {fmt_mib(end_rss[index])}"
        )
    log(
        f"Recovery: the step's Python requests were all answered {drained_at - step_end:.2f} s after it ended; the "
        f"introspection probe (one request per {SPIKE_PROBE_SECONDS * 1000:g} ms per instance, baseline p99 "
        f"{fmt_latency(probe_p99 * 1e6)}) was back within {RECOVERY_P99_FACTOR:g}× that p99 "
        + (f"{recovery:.2f} s after the step ended" if recovered_at is not None else "NOT within the after phase")
    )
    notes = failure_notes(errors)
    total_5xx = sum(f.server_errors for figures in table.values() for f in figures)
    other = sum(f.other_errors for figures in table.values() for f in figures)
    log(f"Errors: {total_5xx} answers 5xx, {other} other failures (4xx, socket errors, inactive){': ' + '; '.join(notes) if notes else ''}")

    verdicts = [(total_5xx == 0, f"{total_5xx} answers 5xx over the whole run (target 0)")]
    for kind in kind_files:
        intro = table[kind]
        p99_factor = ub.ratio(intro[1].p99_us, intro[0].p99_us)
        verdicts.append((
            p99_factor <= TARGET_SPIKE_P99_FACTOR,
            f"{kind} p99 during the step {fmt_latency(intro[1].p99_us)}, {p99_factor:.2f}× the baseline's "
            f"{fmt_latency(intro[0].p99_us)} (target ≤ {TARGET_SPIKE_P99_FACTOR:g}×)",
        ))
    verdicts.append((all_alive(instances), "every instance is still alive"))
    log()
    log("Targets:")
    for ok, text in verdicts:
        log(f"  {'PASS' if ok else 'FAIL'}  {text}")
    failed = [f"{total_5xx} answers 5xx"] if total_5xx else []
    if other:
        failed.append(f"{other} requests failed other than with 5xx")
    if not all_alive(instances):
        failed.append("a server died")
    return failed, [text for ok, text in verdicts if not ok]


# ---------------------------------------------------------------------------- --million


def mint_with_wrk(args: argparse.Namespace, instance: Instance, authorization: str, count: int, path: str) -> float:
    """`count` client-credentials tokens minted with wrk (token.lua records them), written to
    `path`; returns the rate."""
    command = [
        "taskset", "-c", str(args.client_core), "wrk", "-t1", "-c32", f"-d{max(120, count // 2000)}s", "--latency",
        "--timeout", "10s", "-s", os.path.join(BENCH_DIR, "token.lua"), instance.url, "--",
        authorization, f"record={path}", f"count={count}",
    ]
    code, output = ub.run_until_cold_pass_done(command)
    result = ub.parse_wrk("client_credentials", "minting", output, code, 0.0, 0.0)
    os.replace(f"{path}.1", path)
    if result.errors:
        raise SetupError(f"minting with wrk: {'; '.join(result.errors)}")
    return result.rps


def run_million(args: argparse.Namespace, instances: list[Instance], authorization: str) -> tuple[list[str], list[str]]:
    instance = instances[0]
    big_file = os.path.join(args.work_dir, "tokens-all.txt")
    small_file = os.path.join(args.work_dir, "tokens-10k.txt")
    idle_kib = rss_kib(instance.pid)
    log(f"Minting {args.tokens:,} client-credentials tokens with wrk -t1 -c32 (token.lua records every access_token)…")
    started = time.monotonic()
    rate = mint_with_wrk(args, instance, authorization, args.tokens, big_file)
    with open(big_file, encoding="ascii") as file:
        tokens = [line.strip() for line in file if line.strip()]
    distinct = len(set(tokens))
    if len(tokens) != args.tokens or distinct != args.tokens:
        raise SetupError(f"wanted {args.tokens:,} distinct tokens, got {len(tokens):,} ({distinct:,} distinct)")
    write_lines(small_file, tokens[:MILLION_BASE])
    minted_kib = rss_kib(instance.pid)
    log(f"  {distinct:,} distinct tokens in {time.monotonic() - started:.1f} s ({fmt_rps(rate)} tokens/s); server RSS "
        f"{fmt_mib(idle_kib)} MiB before, {fmt_mib(minted_kib)} MiB after")
    del tokens
    log(f"Cold pass: one introspection of each of the {args.tokens:,} tokens (checks that every one is active)")
    cold = cold_pass(args, instance, big_file, authorization, args.tokens, stream=True)
    log(ub.describe(cold))
    failed = [f"cold pass: {e}" for e in cold.errors]
    runs, seconds, warmup = (1, 3.0, 1.0) if args.quick else (3, 10.0, 3.0)
    sizes = ((f"{MILLION_BASE:,} tokens", small_file), (f"{args.tokens:,} tokens", big_file))
    for label, path in sizes:
        run = wrk_once(args, instances, "introspection", [path, authorization, "stream"], 32, warmup, f"{label} (warm-up)")
        log(ub.describe(run.result))
        failed += [f"{label} warm-up: {e}" for e in run.result.errors]
    results: dict[str, list[ub.WrkResult]] = {label: [] for label, _ in sizes}
    log(f"Measuring: {runs} round(s) of {MILLION_BASE:,} → {args.tokens:,} tokens, {seconds:g} s each, wrk -t1 -c32, "
        "tokens read from the file as requests go (introspect.lua stream), round robin")
    for round_index in range(1, runs + 1):
        for label, path in sizes:
            before_cpu, before_wrk = ub.cpu_seconds_of(instance.pid), ub.children_cpu_seconds()
            began = time.monotonic()
            run = wrk_once(args, instances, "introspection", [path, authorization, "stream"], 32, seconds, f"{label} #{round_index}")
            wall = time.monotonic() - began
            run.result.server_cpu = (ub.cpu_seconds_of(instance.pid) - before_cpu) / wall
            run.result.wrk_cpu = (ub.children_cpu_seconds() - before_wrk) / wall
            log(ub.describe(run.result))
            results[label].append(run.result)
            failed += [f"{run.result.label}: {e}" for e in run.result.errors]
    end_kib = rss_kib(instance.pid)
    medians = {label: statistics.median(r.rps for r in rs) for label, rs in results.items()}
    p99s = {label: statistics.median(r.latency_us.get(99, float("nan")) for r in rs) for label, rs in results.items()}
    small, big = (label for label, _ in sizes)
    factor = ub.ratio(medians[big], medians[small])
    log()
    log(f"Million results: cached introspection, wrk -t1 -c32, {runs} × {seconds:g} s each, medians (min–max)")
    for label, rs in results.items():
        log(f"  {label:>18}: {fmt_rps(medians[label]):>8} req/s ({fmt_rps(min(r.rps for r in rs))}–{fmt_rps(max(r.rps for r in rs))}), "
            f"p50 {fmt_latency(statistics.median(r.latency_us.get(50, float('nan')) for r in rs))}, p99 {fmt_latency(p99s[label])}, "
            f"server CPU {statistics.median(r.server_cpu for r in rs):.0%}, wrk CPU {statistics.median(r.wrk_cpu for r in rs):.0%}")
    log(f"  server RSS: {fmt_mib(idle_kib)} MiB before minting, {fmt_mib(minted_kib)} MiB with {args.tokens:,} tokens cached, "
        f"{fmt_mib(end_kib)} MiB at the end; {((end_kib or 0) - (idle_kib or 0)) * 1024 / args.tokens:,.0f} bytes per cached token")
    verdicts = [(factor >= TARGET_MILLION_RATIO,
                 f"introspection with {args.tokens:,} live tokens {factor:.2f}× the rate with {MILLION_BASE:,} (target ≥ {TARGET_MILLION_RATIO})")]
    log()
    log("Targets:")
    for ok, text in verdicts:
        log(f"  {'PASS' if ok else 'FAIL'}  {text}")
    return failed, [text for ok, text in verdicts if not ok]


# ---------------------------------------------------------------------------- the private cluster


class Cluster:
    """The private PostgreSQL cluster benches/run started: frozen with SIGSTOP (postmaster
    first, so it forks no new backend, then every process it started), woken with SIGCONT,
    stopped and started with pg_ctl as the postgres user."""

    def __init__(self, args: argparse.Namespace):
        self.data, self.pg_ctl_path, self.port = args.pg_data, args.pg_ctl, args.pg_port
        self.frozen: list[int] = []

    def postmaster(self) -> int:
        with open(os.path.join(self.data, "postmaster.pid"), encoding="ascii") as file:
            return int(file.readline())

    def processes(self) -> list[int]:
        postmaster = self.postmaster()
        children = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/stat", encoding="ascii") as stat:
                        parent = int(stat.read().rsplit(")", 1)[1].split()[1])
                except (OSError, ValueError):
                    continue
                if parent == postmaster:
                    children.append(int(entry))
        return [postmaster, *children]

    def freeze(self) -> int:
        self.frozen = []
        for pid in self.processes():
            try:
                os.kill(pid, signal.SIGSTOP)
                self.frozen.append(pid)
            except ProcessLookupError:
                pass
        return len(self.frozen)

    def thaw(self) -> None:
        for pid in self.frozen:
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
        self.frozen = []

    def pg_ctl(self, *arguments: str) -> None:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", "taskset", "-c", str(ARGS.server_core), self.pg_ctl_path, "-D", self.data, *arguments],
            check=True, capture_output=True, cwd=os.path.dirname(self.data),
        )

    def stop(self) -> None:
        self.pg_ctl("-m", "immediate", "-w", "stop")

    def start(self) -> None:
        self.pg_ctl("-l", os.path.join(os.path.dirname(self.data), "postgres.log"), "-w", "start")

    def query(self, sql: str) -> list[list[str]]:
        completed = subprocess.run(
            ["psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", "usher", "-qAtF", "\t", "-c", sql],
            check=True, capture_output=True, text=True,
        )
        return [line.split("\t") for line in completed.stdout.splitlines() if line]


# ---------------------------------------------------------------------------- --db-away


@dataclass
class AwayFigures:
    answers: int
    ok: int
    unavailable: int  # 503 with Retry-After
    other_5xx: int
    other: int  # 4xx, no answer
    slow: int
    max_us: float
    slow_503: int = 0  # of `slow`: the 503s (a request that waited db_acquire_timeout_ms, then a little more)
    max_503_us: float = 0.0


def away_of_wrk(run: WrkRun) -> AwayFigures:
    result = run.result
    answered = result.check.get("responses", result.requests)
    non200 = result.check.get("non200", 0)
    timeouts = result.socket_errors.get("timeout", 0)
    others = sum(result.socket_errors.values()) - timeouts
    return AwayFigures(
        answered + timeouts, answered - non200 - result.check.get("inactive", 0), run.retry_after_503,
        run.server_errors - run.retry_after_503, non200 - run.server_errors + others + result.check.get("inactive", 0),
        # wrk's own distribution holds made-up samples (its coordinated-omission correction):
        # only its maximum is exact, so a class with any answer over 1 s counts as one.
        (1 if run.max_us > SLOW_SECONDS * 1e6 else 0) + timeouts, max(run.max_us, 1e7 if timeouts else 0),
    )


def away_of_answers(answers: list[Answer]) -> AwayFigures:
    return AwayFigures(
        len(answers), sum(1 for a in answers if a.status == 200),
        sum(1 for a in answers if a.status == 503 and a.retry_after),
        sum(1 for a in answers if a.status >= 500 and not (a.status == 503 and a.retry_after)),
        sum(1 for a in answers if a.status < 200 or 300 <= a.status < 500),
        sum(1 for a in answers if a.seconds > SLOW_SECONDS), max((a.seconds * 1e6 for a in answers), default=0.0),
        sum(1 for a in answers if a.seconds > SLOW_SECONDS and a.status == 503),
        max((a.seconds * 1e6 for a in answers if a.status == 503), default=0.0),
    )


RECOVERY_PROBE_SECONDS = 60.0
AWAY_REFRESHERS = 12


def probe_until_ok(instance: Instance, operation: Operation, limit: float) -> float:
    """When `operation` first answers 200, trying every 100 ms for `limit` seconds; NaN if never."""
    connection = Http(instance.host, instance.port)
    deadline = time.monotonic() + limit
    try:
        while time.monotonic() < deadline:
            try:
                status, _, _ = operation(connection)
            except Exception:  # noqa: BLE001 - tried again on a new connection
                connection.close()
                connection = Http(instance.host, instance.port)
                status = 0
            if status == 200:
                return time.monotonic()
            time.sleep(0.1)
    finally:
        connection.close()
    return float("nan")


def run_db_away(args: argparse.Namespace, instances: list[Instance], authorization: str, admin: dict, app: dict, password: str) -> tuple[list[str], list[str]]:
    cluster = Cluster(args)
    people, chains, token_file = prepare_mixed_tokens(args, instances, authorization, admin, app, password)
    app_authorization = basic_authorization(app["client_id"], app["client_secret"])
    up, away, back = (1.0, 5.0, 3.0) if args.quick else (2.0, 10.0, 5.0)
    log()
    log(f"Database away: each phase runs the load {up:g} s with the database up, {away:g} s with it away, {back:g} s after "
        "it is back; wrk introspection (service and person tokens, -c8, no pacing) and client credentials (-c4), "
        f"refresh rotations from {min(AWAY_REFRESHERS, len(chains))} threads of this driver (no pacing; more than the pool's 8 connections)")
    phases: list[tuple[str, dict[str, AwayFigures], float]] = []
    for name, leave, come_back in (
        ("frozen (SIGSTOP)", lambda: log(f"    froze {cluster.freeze()} PostgreSQL processes"), cluster.thaw),
        ("stopped (pg_ctl stop -m immediate)", cluster.stop, cluster.start),
    ):
        recorder = Recorder()
        total = up + away + back
        log(f"  {name}…")
        refreshers = PacedWorkers(
            instances, lambda i: refresh_operation(app_authorization, chains[i]), min(AWAY_REFRESHERS, len(chains)), 0.0, recorder
        ).start()
        runs = [
            Wrk(args, instances, "introspection", [token_file, authorization], 8, total, f"introspection, {name}"),
            Wrk(args, instances, "client_credentials", [authorization], 4, total, f"client_credentials, {name}"),
        ]
        time.sleep(up)
        leave()
        time.sleep(away)
        come_back()
        back_at = time.monotonic()
        finished = [run.finish() for run in runs]
        refreshers.stop()
        # How long after the database came back a refresh first succeeded again (probing on
        # for up to a minute when none did while the load ran).
        first_ok = min((a.started + a.seconds for a in recorder.answers if a.status == 200 and a.started + a.seconds >= back_at), default=None)
        if first_ok is None:
            first_ok = probe_until_ok(instances[0], refresh_operation(app_authorization, chains[0]), RECOVERY_PROBE_SECONDS)
        figures = {
            "introspection": away_of_wrk(finished[0]),
            "client_credentials": away_of_wrk(finished[1]),
            "refresh": away_of_answers(recorder.answers),
        }
        for klass, f in figures.items():
            log(f"    {klass:<19} {f.answers:>8} answers: {f.ok} 200, {f.unavailable} 503+Retry-After, {f.other_5xx} other 5xx, "
                f"{f.other} other, {f.slow} slower than 1 s ({f.slow_503} of them 503s; slowest 503 {fmt_latency(f.max_503_us)}; "
                f"max {fmt_latency(f.max_us)})")
        notes = failure_notes([a for a in recorder.answers if a.status not in (200, 503)])
        if notes:
            log(f"    refresh failures other than 503: {'; '.join(notes)}")
        phases.append((name, figures, first_ok - back_at))

    header = (
        f"{'phase':<36} {'class':<19} {'answers':>8} {'200':>8} {'503+RA':>7} {'other 5xx':>9} {'other':>6} {'> 1 s':>6} "
        f"{'of them 503':>11} {'max':>8} {'max 503':>8}"
    )
    log()
    log(f"Database-away results: {len(instances)} instance(s) on the private cluster; each phase {up:g} s up, {away:g} s away, {back:g} s back")
    log("=" * len(header))
    log(header)
    log("-" * len(header))
    for name, figures, _ in phases:
        for klass, f in figures.items():
            log(
                f"{name:<36} {klass:<19} {f.answers:>8} {f.ok:>8} {f.unavailable:>7} {f.other_5xx:>9} {f.other:>6} {f.slow:>6} "
                f"{f.slow_503:>11} {fmt_latency(f.max_us):>8} {fmt_latency(f.max_503_us) if f.unavailable else '—':>8}"
            )
    log("-" * len(header))
    log("> 1 s for the wrk classes: 1 when their slowest answer took longer (wrk's percentiles cannot count them).")
    for name, _, recovered in phases:
        log(f"{name}: the first refresh answered 200 {recovered:.2f} s after the database was back")
    slow = sum(f.slow for _, figures, _ in phases for f in figures.values())
    bad_5xx = sum(f.other_5xx for _, figures, _ in phases for f in figures.values())
    other = sum(f.other for _, figures, _ in phases for f in figures.values())
    verdicts = [
        (slow == 0, f"{slow} answers slower than 1 s, {sum(f.slow_503 for _, figures, _ in phases for f in figures.values())} "
                    "of them 503s after waiting for a connection (target 0)"),
        (bad_5xx == 0, f"{bad_5xx} answers 5xx other than 503 with Retry-After (target 0)"),
        (other == 0, f"{other} answers neither 200 nor 5xx, or no answer (target 0)"),
        (all_alive(instances), "every instance is still alive"),
    ]
    log()
    log("Targets:")
    for ok, text in verdicts:
        log(f"  {'PASS' if ok else 'FAIL'}  {text}")
    failed = [text for ok, text in verdicts if not ok]
    return failed, failed


# ---------------------------------------------------------------------------- --freeze


class EntitlementWriter:
    """Changes the entitlements of its own people through one instance's admin API, as fast
    as answers come: a new subscription tier, a product granted, or a grant revoked. Counts
    acknowledged writes (2xx) and the rest."""

    def __init__(self, instance: Instance, bearer: dict[str, str], people: list[Person], seed: int):
        self.instance, self.bearer, self.people = instance, bearer, people
        self.random = random.Random(seed)
        self.grants: dict[str, list[str]] = {person.id: [] for person in people}
        self.acknowledged = 0
        self.unavailable = 0
        self.other: list[str] = []
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._work, daemon=True)

    def _write(self, connection: Http) -> tuple[int, bytes]:
        person = self.random.choice(self.people)
        choice = self.random.random()
        if choice < 0.4:
            tier = self.random.choice((TIER["slug"], BASIC_TIER["slug"]))
            body = json.dumps({"tier": tier, "status": "active", "current_period_end": "2099-01-01T00:00:00Z"})
            status, _, data = connection.request("PUT", f"{ADMIN_API}/users/{person.id}/subscription", body, self.bearer)
        elif choice < 0.7 or not self.grants[person.id]:
            body = json.dumps({"product": self.random.choice(PRODUCTS)})
            status, _, data = connection.request("POST", f"{ADMIN_API}/users/{person.id}/grants", body, self.bearer)
            if status in (200, 201):
                self.grants[person.id].append(json.loads(data)["id"])
        else:
            grant = self.grants[person.id].pop(self.random.randrange(len(self.grants[person.id])))
            status, _, data = connection.request("DELETE", f"{ADMIN_API}/users/{person.id}/grants/{grant}", None, self.bearer)
        return status, data

    def _work(self) -> None:
        connection = Http(self.instance.host, self.instance.port)
        connection.connection.timeout = 60
        while not self.stop_event.is_set():
            try:
                status, data = self._write(connection)
            except Exception as error:  # noqa: BLE001 - counted; a new connection
                self.other.append(repr(error))
                connection.close()
                connection = Http(self.instance.host, self.instance.port)
                connection.connection.timeout = 60
                continue
            if 200 <= status < 300:
                self.acknowledged += 1
            elif status == 503:
                self.unavailable += 1
                self.stop_event.wait(0.2)
            else:
                self.other.append(f"HTTP {status}: {data[:120].decode('utf-8', 'replace')}")
        connection.close()


def introspected_entitlements(instance: Instance, authorization: str, token: str) -> tuple:
    answer = ub.curl_introspect(instance.url, authorization, token)
    return answer.get("tier"), tuple(sorted(set(answer.get("ppv") or []))), answer.get("ent_ver")


def database_entitlements(cluster: Cluster, people: list[Person]) -> dict[str, tuple]:
    """Every person's tier, products and ent_ver as the database holds them, by the rules
    introspection applies: an active subscription that has not ended; grants not revoked,
    begun and not ended."""
    now = int(time.time())
    ids = ",".join(f"'{person.id}'" for person in people)
    rows = cluster.query(
        "SELECT u.id, "
        f"(SELECT s.tier_slug FROM subscriptions s WHERE s.user_id = u.id AND s.status IN ('active', 'trialing', 'past_due') "
        f" AND s.current_period_end > {now}), "
        "(SELECT string_agg(DISTINCT g.product_slug, ',' ORDER BY g.product_slug) FROM product_grants g "
        f" WHERE g.user_id = u.id AND g.revoked_at IS NULL AND g.valid_from <= {now} AND (g.valid_until IS NULL OR g.valid_until > {now})), "
        "(SELECT v.version FROM entitlement_versions v WHERE v.user_id = u.id) "
        f"FROM users u WHERE u.id IN ({ids})"
    )
    return {
        row[0]: (row[1] or None, tuple(sorted(row[2].split(","))) if row[2] else (), int(row[3]) if row[3] else 0)
        for row in rows
    }


def run_freeze(args: argparse.Namespace, instances: list[Instance], authorization: str, admin: dict, app: dict, password: str) -> tuple[list[str], list[str]]:
    cluster = Cluster(args)
    people = ub.load_people(args.people_dir)
    first = instances[0]
    log(f"Entitlements through the admin API for {len(people)} people, and one access token per person (sign-in)…")
    ub.grant_entitlements(first.host, first.port, basic_authorization(admin["client_id"], admin["client_secret"]), people)
    bearer = admin_bearer(first, admin)
    connection = Http(first.host, first.port)
    try:
        status, _, data = connection.request("POST", f"{ADMIN_API}/tiers", json.dumps(BASIC_TIER), bearer)
    finally:
        connection.close()
    if status != 201:
        raise SetupError(f"POST {ADMIN_API}/tiers answered HTTP {status}: {data[:200]!r}")
    minted, _ = person_tokens_and_chains(first, app, people, password, len(people))
    token_of = {person.id: token for token, person in minted}
    token_file = os.path.join(args.work_dir, "tokens-people.txt")
    write_lines(token_file, list(token_of.values()))

    rounds, gap = (2, 3.0) if args.quick else (5, 5.0)
    log()
    log(f"Freeze soak: {FREEZE_WRITERS} writers (entitlement changes, {FREEZE_WRITERS // len(instances)} per instance, each on its own people), "
        f"wrk introspection of every person's token on both instances (-c4, no pacing); {rounds} × ({gap:g} s running, "
        f"{FREEZE_SECONDS:g} s with every PostgreSQL process stopped by SIGSTOP, then SIGCONT), then {gap:g} s more")
    writers = [
        EntitlementWriter(instances[index % len(instances)], bearer, people[index::FREEZE_WRITERS], seed=index)
        for index in range(FREEZE_WRITERS)
    ]
    for writer in writers:
        writer.thread.start()
    total = rounds * (gap + FREEZE_SECONDS) + gap
    introspection = Wrk(args, instances, "introspection", [token_file, authorization], 4, total, "introspection during the soak")
    # wrk's percentiles cannot count slow answers (see introspect.lua): these threads can.
    probed = Recorder()
    people_tokens = list(token_of.values())

    def probe_operation(index: int) -> Operation:
        turn = [index]

        def operate(connection: Http) -> tuple[int, bool, str]:
            turn[0] += 1
            body = urllib.parse.urlencode({"token": people_tokens[turn[0] % len(people_tokens)]})
            status, response, _ = connection.request("POST", "/oauth/introspect", body, ub.form_headers(authorization))
            return status, retry_after(response), ""

        return operate

    probes = PacedWorkers(instances, probe_operation, len(instances), 0.01, probed).start()
    for round_index in range(1, rounds + 1):
        time.sleep(gap)
        frozen = cluster.freeze()
        acknowledged = sum(w.acknowledged for w in writers)
        time.sleep(FREEZE_SECONDS)
        cluster.thaw()
        log(f"  freeze {round_index}: {frozen} processes stopped for {FREEZE_SECONDS:g} s; "
            f"{acknowledged} writes acknowledged before it, {sum(w.acknowledged for w in writers)} after")
    time.sleep(gap)
    for writer in writers:
        writer.stop_event.set()
    for writer in writers:
        writer.thread.join()
    run = introspection.finish()
    probes.stop()
    log(ub.describe(run.result))
    # Every instance applies the others' changes from the change feed within sync_interval_ms.
    time.sleep(2.0)

    truth = database_entitlements(cluster, people)
    differences: list[str] = []
    for person in people:
        expected = truth.get(person.id)
        for index, instance in enumerate(instances):
            seen = introspected_entitlements(instance, authorization, token_of[person.id])
            if seen != expected:
                differences.append(f"{person.email} on instance {index + 1}: introspection {seen}, database {expected}")
    acknowledged = sum(w.acknowledged for w in writers)
    unavailable = sum(w.unavailable for w in writers)
    other = [problem for w in writers for problem in w.other]
    introspection_5xx = run.server_errors
    log()
    log(f"Freeze results: {acknowledged} writes acknowledged (2xx), {unavailable} answered 503, {len(other)} other failures"
        + (f" (e.g. {'; '.join(other[:3])})" if other else ""))
    probe = away_of_answers(probed.answers)
    log(f"  introspection during the soak (wrk -c4): {run.result.requests:,} answers, {introspection_5xx} 5xx "
        f"({run.retry_after_503} 503 with Retry-After), slowest {fmt_latency(run.max_us)}; probes (one thread per instance, "
        f"a request every 10 ms): {probe.answers:,} answers, {probe.ok:,} 200, {probe.unavailable} 503 with Retry-After, "
        f"{probe.other_5xx} other 5xx, {probe.slow} slower than 1 s (slowest {fmt_latency(probe.max_us)})")
    log(f"  compared: {len(people)} people × {len(instances)} instances (tier, ppv, ent_ver) against the database: "
        f"{len(differences)} differences")
    for line in differences[:10]:
        log(f"    {line}")
    verdicts = [
        (not differences, f"{len(differences)} differences between the instances' introspection and the database (target 0)"),
        (acknowledged > 0, f"{acknowledged} acknowledged writes (some must have been made)"),
        (all_alive(instances), "every instance is still alive"),
    ]
    log()
    log("Targets:")
    for ok, text in verdicts:
        log(f"  {'PASS' if ok else 'FAIL'}  {text}")
    failed = [text for ok, text in verdicts if not ok]
    if other:
        failed.append(f"{len(other)} writes failed other than with 503")
    return failed, [text for ok, text in verdicts if not ok]


# ---------------------------------------------------------------------------- main


ARGS: argparse.Namespace


def main() -> int:
    global ARGS
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = parser.add_mutually_exclusive_group(required=True)
    for name in ("spike", "million", "db-away", "freeze"):
        mode.add_argument(f"--{name}", action="store_true")
    parser.add_argument("--base-urls", required=True, help="every instance's base URL, comma-separated")
    parser.add_argument("--server-pids", required=True, help="their process ids, in the same order")
    parser.add_argument("--content-ports", default="", help="their content servers' listeners (content_bind), in the same order; empty: none")
    parser.add_argument("--backend", default="sqlite")
    parser.add_argument("--client-json", required=True)
    parser.add_argument("--admin-json", required=True)
    parser.add_argument("--app-json", required=True)
    parser.add_argument("--people-dir", required=True)
    parser.add_argument("--password-file", required=True)
    parser.add_argument("--work-dir", required=True)
    parser.add_argument("--client-core", type=int, default=0)
    parser.add_argument("--server-core", type=int, default=1)
    parser.add_argument("--tokens", type=int, default=10_000)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--pg-data", help="the private cluster's data directory (--db-away, --freeze)")
    parser.add_argument("--pg-ctl")
    parser.add_argument("--pg-port", type=int)
    args = parser.parse_args()
    ARGS = args

    instances = instances_of(args)
    with open(args.client_json, encoding="utf-8") as file:
        client = json.load(file)
    authorization = basic_authorization(client["client_id"], client["client_secret"])
    with open(args.admin_json, encoding="utf-8") as file:
        admin = json.load(file)
    with open(args.app_json, encoding="utf-8") as file:
        app = json.load(file)
    with open(args.password_file, encoding="utf-8") as file:
        password = file.read()
    try:
        if args.spike:
            failed, missed = run_spike(args, instances, authorization, admin, app, password)
        elif args.million:
            failed, missed = run_million(args, instances, authorization)
        elif args.db_away:
            failed, missed = run_db_away(args, instances, authorization, admin, app, password)
        else:
            failed, missed = run_freeze(args, instances, authorization, admin, app, password)
    except SetupError as error:
        log(f"ERROR: {error}")
        return 2
    return ub.finish(failed, missed)


if __name__ == "__main__":
    sys.exit(main())
