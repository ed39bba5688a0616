#!/usr/bin/env python3
"""Streams benchmark of usher; `benches/run --streams` starts the server, then calls this.

Python 3.11 standard library only; the helpers of benches/usher_bench.py (admin API calls,
sign-ins, wrk runs and their parsing, CPU and RSS readings) are reused. Given a running server
(pinned by benches/run) with a lease longer than the run, a content server (scope
usher:streams), an admin client, a first-party web app and P people, it:

1. through the admin API, creates a tier whose max_streams is above what any account will
   play, and subscribes every person to it;
2. signs every person in to the web app once: one viewer access token each;
3. fills: N = P × D streams started over HTTP with wrk -t1 -c32 (benches/streams.lua start …
   fill), D devices per person (bench-0 … bench-(D-1)), the start rate reported as
   information; then lists every person's streams through the admin API: exactly D each, one
   per device, N in all;
4. warms up, then measures in interleaved rounds, each with wrk -t1 -c32: /healthz (the
   ceiling), heartbeats of every held stream (their ids from the latest listing, shuffled),
   and starts of every (viewer, device) pair in turn, each one the device starting again, so
   it replaces its own stream: a full start transaction, and N stays N (listed and checked
   after every start run, which also gives the next heartbeat run the new ids); after every
   run it waits until the server is idle (the heartbeats' lease writes are written behind)
   and notes how long that took and the CPU it cost;
5. prints per round the ratio of heartbeats and of starts to /healthz of the same round, their
   medians (min–max) with PASS/FAIL, the server's CPU per answer, its RSS with the streams
   held, and the error counts (a heartbeat answered 404 or a start answered 409 is an error).

Exit status: 0 when every request answered as expected (whether or not targets were met), 1
when any did not or the held streams were not N after a run, 2 on a setup failure.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import random
import re
import statistics
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import usher_bench as ub  # noqa: E402 - the benchmark helpers next to this file
from usher_bench import (  # noqa: E402
    ADMIN_API,
    APP_SCOPE,
    BENCH_DIR,
    CONNECTIONS,
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

ENDPOINTS = ("healthz", "heartbeat", "stream_start")
TARGET_HEARTBEAT_RATIO = 0.5
TARGET_START_RATIO = 0.1
# Far above any account's streams here: no start may be refused, so a 409 is an error.
STREAMS_TIER = {
    "slug": "streams", "name": "Streams", "rank": 30, "features": ["hd"],
    "max_streams": 1000, "stream_limit_policy": "refuse",
}
# After every run the driver waits until the server is idle (below IDLE_CPU of a core over
# IDLE_WINDOW seconds), so the lease writes a heartbeat run leaves behind are not counted
# against the next run; how long that takes and the CPU it costs are reported.
IDLE_CPU = 0.05
IDLE_WINDOW = 0.5
IDLE_LIMIT = 300.0
# After a start run, the held streams are listed until two listings this far apart agree.
SETTLE_INTERVAL = 0.5
RE_OUTCOMES = re.compile(r"not_found=(\d+) conflict=(\d+)")

LIMITS = {
    "healthz": "the HTTP stack itself (actix-web, one worker) on one core; no application work",
    "heartbeat": (
        "HTTP, a cached client authentication (SHA-256 of the Authorization header), a lookup of the "
        "lease in memory and an atomic update, the extension queued for the batch write (one map insert under "
        "a mutex); every stream_write_interval_ms (1 s) one SQLite transaction updates the lease of every "
        "stream heartbeated since the last one (up to all N), on the same core"
    ),
    "stream_start": (
        "HTTP and form parsing, the content server's cached authentication, the viewer's token and "
        "entitlements from memory, then the start waits for the next batch: the starts that arrive while one "
        "batch commits are written together, one transaction on the blocking pool, each start in its own "
        "savepoint: the account's lock row, its streams read (D rows, four columns), the device's old stream "
        "deleted and its end recorded on the change feed, the new stream inserted; one commit per batch"
    ),
}


# ---------------------------------------------------------------------------- setup


def admin_headers(host: str, port: int, admin: dict) -> dict[str, str]:
    connection = Http(host, port)
    try:
        answer = ub.token_request(
            connection, basic_authorization(admin["client_id"], admin["client_secret"]),
            {"grant_type": "client_credentials", "scope": "usher:admin"}, "admin token",
        )
    finally:
        connection.close()
    return {"Authorization": f"Bearer {answer['access_token']}", "Content-Type": "application/json"}


def admin_call(connection: Http, bearer: dict[str, str], method: str, path: str, body: dict | None,
               expected: tuple[int, ...]) -> bytes:
    status, _, data = connection.request(method, ADMIN_API + path, None if body is None else json.dumps(body), bearer)
    if status not in expected:
        raise SetupError(f"{method} {ADMIN_API}{path} answered HTTP {status}: {data[:300]!r}")
    return data


def subscribe_everyone(host: str, port: int, bearer: dict[str, str], people: list[Person]) -> None:
    setup = Http(host, port)
    try:
        admin_call(setup, bearer, "POST", "/tiers", STREAMS_TIER, (201,))
    finally:
        setup.close()
    period_end = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=365)).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    subscription = {"tier": STREAMS_TIER["slug"], "status": "active", "current_period_end": period_end}
    ub.in_parallel(
        host, port, people,
        lambda connection, person: admin_call(connection, bearer, "PUT", f"/users/{person.id}/subscription", subscription, (200,)),
    )


def sign_in_everyone(host: str, port: int, app: dict, people: list[Person], password: str) -> list[str]:
    """One viewer access token per person, in the order of `people`."""
    app_authorization = basic_authorization(app["client_id"], app["client_secret"])
    answers = ub.in_parallel(
        host, port, people,
        lambda connection, person: ub.sign_in(connection, app["client_id"], app_authorization, person, password),
    )
    return [answer["access_token"] for answer in answers]


def held_streams(host: str, port: int, bearer: dict[str, str], people: list[Person], devices: int) -> list[str]:
    """Every person's streams as the admin API lists them; checks that each person plays
    exactly one stream on each of the devices bench-0 … bench-(devices-1)."""
    wanted = {f"bench-{index}" for index in range(devices)}

    def streams_of(connection: Http, person: Person) -> list[str]:
        listed = json.loads(admin_call(connection, bearer, "GET", f"/users/{person.id}/streams", None, (200,)))
        on_devices = sorted(stream["device_id"] for stream in listed)
        if len(listed) != devices or set(on_devices) != wanted:
            raise SetupError(
                f"{person.email} plays {len(listed)} streams on {len(set(on_devices))} devices, "
                f"not one on each of {devices}"
            )
        return [stream["stream_id"] for stream in listed]

    return [stream_id for ids in ub.in_parallel(host, port, people, streams_of) for stream_id in ids]


def settled_streams(host: str, port: int, bearer: dict[str, str], people: list[Person], devices: int) -> list[str]:
    """held_streams once two listings SETTLE_INTERVAL apart agree: the starts wrk left under way
    are written after it stopped, and on PostgreSQL the server waiting for them looks idle."""
    listed = held_streams(host, port, bearer, people, devices)
    began = time.monotonic()
    while time.monotonic() - began < IDLE_LIMIT:
        time.sleep(SETTLE_INTERVAL)
        again = held_streams(host, port, bearer, people, devices)
        if again == listed:
            return listed
        listed = again
    raise SetupError(f"the held streams still changed {IDLE_LIMIT:g} s after the run")


def write_heartbeat_file(path: str, stream_ids: list[str], round_index: int) -> None:
    """The ids shuffled, so consecutive heartbeats are for different accounts."""
    shuffled = list(stream_ids)
    random.Random(round_index).shuffle(shuffled)
    with open(path, "w", encoding="ascii") as file:
        file.write("\n".join(shuffled) + "\n")


# ---------------------------------------------------------------------------- wrk


class StreamsRunner(ub.Runner):
    """ub.Runner (CPU of the server, of wrk and of everything else per run) for the streams
    endpoints: streams.lua with the content server's Basic authorization."""

    def __init__(self, args: argparse.Namespace, authorization: str, heartbeat_file: str, viewer_file: str, devices: int):
        super().__init__(args, authorization, heartbeat_file, viewer_file)
        self.devices = devices

    def command(self, endpoint: str, seconds: float, cold: bool = False) -> list[str]:
        if endpoint == "healthz":
            return super().command(endpoint, seconds)
        wrk = [
            "taskset", "-c", str(self.args.client_core), "wrk",
            "-t1", f"-c{CONNECTIONS}", f"-d{seconds:g}s", "--latency", "--timeout", "10s",
            "-s", os.path.join(BENCH_DIR, "streams.lua"), self.base_url, "--",
        ]
        if endpoint == "heartbeat":
            return wrk + ["heartbeat", self.token_file, self.authorization]
        if endpoint == "stream_start":
            return wrk + ["start", self.entitled_token_file, self.authorization, str(self.devices)] + (["fill"] if cold else [])
        raise ValueError(endpoint)


def wait_until_idle(pid: int) -> tuple[float, float, bool]:
    """Seconds until the server was idle, its CPU seconds meanwhile, and whether it got idle
    within IDLE_LIMIT."""
    began, cpu_before = time.monotonic(), ub.cpu_seconds_of(pid)
    idle = False
    while not idle and time.monotonic() - began < IDLE_LIMIT:
        window_before = ub.cpu_seconds_of(pid)
        time.sleep(IDLE_WINDOW)
        idle = (ub.cpu_seconds_of(pid) - window_before) / IDLE_WINDOW < IDLE_CPU
    # The last window was idle: the work ended before it began.
    return time.monotonic() - began - (IDLE_WINDOW if idle else 0.0), ub.cpu_seconds_of(pid) - cpu_before, idle


def outcomes(result: ub.WrkResult) -> tuple[int, int]:
    """The heartbeats answered 404 and the starts answered 409 (streams.lua counts them)."""
    match = RE_OUTCOMES.search(result.raw)
    return (int(match.group(1)), int(match.group(2))) if match else (0, 0)


def cpu_us_per_answer(result: ub.WrkResult) -> float:
    return result.server_cpu * 1e6 / result.rps if result.rps else float("nan")


def describe(result: ub.WrkResult) -> str:
    return ub.describe(result).replace("  server CPU", f"  server CPU/answer {cpu_us_per_answer(result):5.1f}µs, server CPU", 1)


# ---------------------------------------------------------------------------- report


def print_report(args: argparse.Namespace, results: list[ub.WrkResult], fill: ub.WrkResult, rss: dict[str, int | None],
                 people: int, devices: int, after: dict[str, tuple[float, float, bool]]) -> list[str]:
    rounds: dict[int, dict[str, ub.WrkResult]] = {}
    for result in results:
        rounds.setdefault(int(result.label.rsplit("#", 1)[1]), {})[result.endpoint] = result
    ratios: dict[str, list[float]] = {"heartbeat": [], "stream_start": []}
    for by_endpoint in rounds.values():
        for endpoint in ratios:
            ratios[endpoint].append(ub.ratio(by_endpoint[endpoint].rps, by_endpoint["healthz"].rps))

    log()
    log(f"Streams results: {args.streams:,} live streams ({people:,} people × {devices} devices), wrk -t1 -c{CONNECTIONS}, "
        f"{len(rounds)} round(s) × {args.seconds:g} s per endpoint, interleaved; medians (min–max) over rounds")
    header = (f"{'endpoint':<14} {'req/s':>8} {'(min–max)':<19} {'p50':>8} {'p99':>8} {'vs /healthz of its round':>26} "
              f"{'server CPU':>10} {'CPU/answer':>10} {'wrk CPU':>8}")
    log("=" * len(header))
    log(header)
    log("-" * len(header))
    for endpoint in ENDPOINTS:
        runs = [r for r in results if r.endpoint == endpoint]
        rps = [r.rps for r in runs]
        spread = f"({fmt_rps(min(rps))}–{fmt_rps(max(rps))})"
        if endpoint in ratios:
            values = ratios[endpoint]
            against = f"{statistics.median(values):.2f}× ({min(values):.2f}–{max(values):.2f})"
        else:
            against = "1"
        log(
            f"{endpoint:<14} {fmt_rps(statistics.median(rps)):>8} {spread:<19} "
            f"{fmt_latency(statistics.median(r.latency_us.get(50, float('nan')) for r in runs)):>8} "
            f"{fmt_latency(statistics.median(r.latency_us.get(99, float('nan')) for r in runs)):>8} {against:>26} "
            f"{statistics.median(r.server_cpu for r in runs):>10.0%} "
            f"{statistics.median(cpu_us_per_answer(r) for r in runs):>8.1f}µs "
            f"{statistics.median(r.wrk_cpu for r in runs):>8.0%}"
        )
    log("-" * len(header))
    log("server CPU / wrk CPU: share of one core each used during the runs; CPU/answer: the server's CPU time per answer "
        "(its user + system time over the run, /proc/PID/stat, divided by the answers).")
    other = max(r.other_cpu for r in results)
    note = "  WARNING: other processes competed for the CPUs; figures are noisy" if other > 0.10 else ""
    log(f"Background load: other processes used at most {other:.0%} of a core during any measured run.{note}")
    for endpoint in ENDPOINTS:
        runs = [r for r in results if r.endpoint == endpoint]
        waits = [after[r.label] for r in runs]
        log(f"After the {endpoint} runs the server stayed busy for {statistics.median(w[0] for w in waits):.1f} s "
            f"(median; {min(w[0] for w in waits):.1f}–{max(w[0] for w in waits):.1f}) using "
            f"{statistics.median(w[1] for w in waits):.2f} CPU s; its CPU per answer, that included: "
            f"{statistics.median((r.server_cpu * r.seconds + after[r.label][1]) * 1e6 / r.requests for r in runs):.1f}µs"
            + ("" if all(w[2] for w in waits) else f"  (still busy after {IDLE_LIMIT:g} s)"))
    log(f"(informational) the fill: {fmt_rps(fill.rps)} starts/s while the streams went from 0 to {args.streams:,}, "
        f"p50 {fmt_latency(fill.latency_us.get(50, float('nan')))}, p99 {fmt_latency(fill.latency_us.get(99, float('nan')))}, "
        f"server CPU/answer {cpu_us_per_answer(fill):.1f}µs")
    held = (rss["filled"] or 0) - (rss["before"] or 0)
    log(f"Server RSS: {fmt_mib(rss['before'])} MiB before the fill, {fmt_mib(rss['filled'])} MiB with {args.streams:,} "
        f"streams held ({held * 1024 / args.streams:,.0f} bytes per stream), {fmt_mib(rss['end'])} MiB at the end")

    heartbeat, start = (statistics.median(ratios[endpoint]) for endpoint in ("heartbeat", "stream_start"))
    verdicts = [
        (heartbeat >= TARGET_HEARTBEAT_RATIO,
         f"heartbeat throughput {heartbeat:.2f}× /healthz of the same round, median of {len(rounds)} "
         f"(target ≥ {TARGET_HEARTBEAT_RATIO}) with {args.streams:,} live streams"),
        (start >= TARGET_START_RATIO,
         f"stream start throughput {start:.2f}× /healthz of the same round, median of {len(rounds)} "
         f"(target ≥ {TARGET_START_RATIO}) with {args.streams:,} live streams"),
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
        runs = [r for r in results if r.endpoint == endpoint]
        not_found, conflict = (sum(outcomes(r)[k] for r in runs) for k in (0, 1))
        checks = sum(r.check.get("non200", 0) + r.check.get("inactive", 0) for r in runs)
        extra = ""
        if endpoint == "heartbeat":
            extra = f", not 200 with expires_in: {checks} (404, the stream over: {not_found})"
        elif endpoint == "stream_start":
            extra = f", not 201 with stream_id: {checks} (409, refused at the limit: {conflict})"
        log(f"  {endpoint:<14} non-2xx: {sum(r.non2xx for r in runs)}, "
            f"socket errors: {sum(sum(r.socket_errors.values()) for r in runs)}{extra} "
            f"(of {sum(r.requests for r in runs):,} requests)")
    return [text for ok, text in verdicts if not ok]


# ---------------------------------------------------------------------------- main


def run(args: argparse.Namespace) -> tuple[list[str], list[str]]:
    parsed = urllib.parse.urlsplit(args.base_url)
    host, port = parsed.hostname, parsed.port
    with open(args.content_json, encoding="utf-8") as file:
        content = json.load(file)
    with open(args.admin_json, encoding="utf-8") as file:
        admin = json.load(file)
    with open(args.app_json, encoding="utf-8") as file:
        app = json.load(file)
    with open(args.password_file, encoding="utf-8") as file:
        password = file.read()
    people = ub.load_people(args.people_dir)
    if args.streams % len(people):
        raise SetupError(f"{args.streams:,} streams do not divide among {len(people):,} people")
    devices = args.streams // len(people)
    if devices > STREAMS_TIER["max_streams"]:
        raise SetupError(f"{devices} streams per person is above the tier's max_streams {STREAMS_TIER['max_streams']}")
    viewer_file = os.path.join(args.work_dir, "viewers.txt")
    heartbeat_file = os.path.join(args.work_dir, "stream-ids.txt")

    bearer = admin_headers(host, port, admin)
    log(f"Through the admin API: tier {STREAMS_TIER['slug']} (max_streams {STREAMS_TIER['max_streams']}, "
        f"{STREAMS_TIER['stream_limit_policy']}), {len(people):,} people subscribed to it…")
    started = time.monotonic()
    subscribe_everyone(host, port, bearer, people)
    log(f"  done in {time.monotonic() - started:.1f} s")
    log(f"Signing in {len(people):,} people (authorization code + PKCE, scope {APP_SCOPE}), "
        f"{ub.SETUP_CONNECTIONS} at a time: one viewer access token each…")
    started = time.monotonic()
    viewers = sign_in_everyone(host, port, app, people, password)
    with open(viewer_file, "w", encoding="ascii") as file:
        file.write("\n".join(viewers) + "\n")
    log(f"  {len(viewers):,} viewer tokens in {time.monotonic() - started:.1f} s, written to {viewer_file}")

    runner = StreamsRunner(args, basic_authorization(content["client_id"], content["client_secret"]),
                           heartbeat_file, viewer_file, devices)
    rss = {"before": rss_kib(args.server_pid)}
    log()
    log(f"Fill: {args.streams:,} starts with wrk -t1 -c{CONNECTIONS} (streams.lua start … fill), "
        f"{len(people):,} people × devices bench-0 … bench-{devices - 1}")
    fill = runner.run("stream_start", max(120.0, args.streams / 100), "stream_start (fill)", cold=True)
    log(describe(fill))
    failed = [f"fill: {e}" for e in fill.errors]
    if fill.check.get("responses", 0) < args.streams:
        raise SetupError(f"the fill answered {fill.check.get('responses', 0):,} of {args.streams:,} starts")
    wait_until_idle(args.server_pid)
    stream_ids = settled_streams(host, port, bearer, people, devices)
    rss["filled"] = rss_kib(args.server_pid)
    log(f"  listed through the admin API: {len(stream_ids):,} live streams, {devices} per person, one per device; "
        f"server RSS {fmt_mib(rss['filled'])} MiB ({fmt_mib(rss['before'])} MiB before)")

    after: dict[str, tuple[float, float, bool]] = {}

    def run_and_check(endpoint: str, seconds: float, label: str, round_index: int) -> ub.WrkResult:
        nonlocal stream_ids
        if endpoint == "heartbeat":
            write_heartbeat_file(heartbeat_file, stream_ids, round_index)
        result = runner.run(endpoint, seconds, label)
        log(describe(result))
        # Work the run left behind (the starts wrk had under way when it stopped, the
        # heartbeats' lease writes) ends before anything else is measured or listed.
        after[label] = wait_until_idle(args.server_pid)
        waited, cpu, idle = after[label]
        log(f"    the server was busy {waited:.1f} s more ({cpu:.2f} CPU s)" + ("" if idle else ", and still is"))
        if endpoint == "stream_start":
            # Every start replaced its device's stream: as many as before, with new ids.
            try:
                stream_ids = settled_streams(host, port, bearer, people, devices)
            except SetupError as error:
                result.errors.append(f"after the run: {error}")
        if args.save_raw:
            with open(os.path.join(args.work_dir, f"wrk-{label.replace(' ', '-').replace('#', '')}.txt"), "w",
                      encoding="utf-8") as file:
                file.write(result.raw)
        if not alive(args.server_pid):
            raise SetupError("the server died during the benchmark")
        return result

    log()
    log(f"Warm-up: {args.warmup:g} s per endpoint")
    for endpoint in ENDPOINTS:
        result = run_and_check(endpoint, args.warmup, f"{endpoint} (warm-up)", 0)
        failed += [f"{endpoint} warm-up: {e}" for e in result.errors]

    log()
    log(f"Measuring: {args.runs} round(s) of {' → '.join(ENDPOINTS)}, {args.seconds:g} s each; the held streams "
        "are listed and checked after every start run")
    results: list[ub.WrkResult] = []
    for round_index in range(1, args.runs + 1):
        for endpoint in ENDPOINTS:
            result = run_and_check(endpoint, args.seconds, f"{endpoint} #{round_index}", round_index)
            results.append(result)
            failed += [f"{result.label}: {e}" for e in result.errors]
    rss["end"] = rss_kib(args.server_pid)
    log(f"  after the last round: {len(stream_ids):,} live streams, {devices} per person, one per device")
    missed = print_report(args, results, fill, rss, len(people), devices, after)
    return failed, missed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--content-json", required=True, help="`usher client create --json` of a client with scope usher:streams")
    parser.add_argument("--admin-json", required=True, help="the same for a client_credentials client with scope usher:admin")
    parser.add_argument("--app-json", required=True, help="the same for a first-party confidential web app")
    parser.add_argument("--people-dir", required=True, help="one `usher user create --json` output per person: N.json")
    parser.add_argument("--password-file", required=True, help="every person's password")
    parser.add_argument("--work-dir", required=True)
    parser.add_argument("--server-pid", type=int, required=True)
    parser.add_argument("--client-core", type=int, default=0)
    parser.add_argument("--streams", type=int, default=100_000, help="live streams held: a multiple of the people")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--warmup", type=float, default=3)
    parser.add_argument("--save-raw", action="store_true", help="keep every wrk output in the work dir")
    args = parser.parse_args()
    try:
        failed, missed = run(args)
    except SetupError as error:
        log(f"ERROR: {error}")
        return 2
    return ub.finish(failed, missed)


if __name__ == "__main__":
    sys.exit(main())
