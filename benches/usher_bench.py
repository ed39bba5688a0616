#!/usr/bin/env python3
"""Load benchmark driver for usher; `benches/run` starts the server and then calls this.

Python 3.11 standard library only. Given a running server (pinned by benches/run) and a
confidential client, it:

1. mints N distinct client-credentials access tokens over keep-alive connections and
   writes them to a file, one per line;
2. checks with curl that sample tokens introspect as active;
3. runs one "cold" introspection pass over every token (a signature verification each;
   this also fills the server's verified-token cache), then a warm-up per endpoint;
4. measures /healthz, introspection and client-credentials issuance with wrk
   (-t1 -c32 --latency), interleaved, several times each;
5. prints medians, ratios to the /healthz ceiling, PASS/FAIL against the targets, what
   limits each figure, and the error counts.

Exit status: 0 when every request class answered without errors (whether or not targets
were met), 1 when any request failed (non-2xx, socket errors, inactive tokens, missing
access_token) or the server died, 2 on a setup failure.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import re
import resource
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
from dataclasses import dataclass, field

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
CONNECTIONS = 32
ENDPOINTS = ("healthz", "introspection", "client_credentials")
TARGET_INTROSPECTION_RATIO = 0.7
TARGET_INTROSPECTION_P99_FACTOR = 2.0
TARGET_TOKEN_RATIO = 0.1

LIMITS = {
    "healthz": "the HTTP stack itself (actix-web, one worker) on one core; no application work",
    "introspection": (
        "after the first sighting of a token: HTTP + form parsing, a cached client authentication "
        "(SHA-256 of the Authorization header), a verified-token map lookup that holds the rendered answer; "
        "the first sighting costs one ES256 signature verification (see the cold pass)"
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


# ---------------------------------------------------------------------------- wrk


RE_RPS = re.compile(r"^Requests/sec:\s+([\d.]+)", re.M)
RE_TOTAL = re.compile(r"^\s*(\d+) requests in ([\d.]+)(us|ms|s|m|h)", re.M)
RE_PCT = re.compile(r"^\s*(50|75|90|99)(?:\.0+)?%\s+([\d.]+)(us|ms|s|m|h)\s*$", re.M)
RE_NON2XX = re.compile(r"Non-2xx or 3xx responses:\s+(\d+)")
RE_SOCKET = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")
RE_CHECK = re.compile(r"usher-check: responses=(\d+) non200=(\d+) inactive=(\d+) tokens=(\d+)")


class Runner:
    def __init__(self, args: argparse.Namespace, authorization: str, token_file: str):
        self.args = args
        self.base_url = args.base_url
        self.authorization = authorization
        self.token_file = token_file

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
    check = dict(zip(("responses", "non200", "inactive", "tokens"), map(int, check_match.groups()))) if check_match else {}
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
            if check["non200"]:
                errors.append(f"{check['non200']} non-200 responses (Lua check)")
            if check["inactive"]:
                what = "answers without \"active\":true" if endpoint == "introspection" else "answers without an access_token"
                errors.append(f"{check['inactive']} {what}")
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
        f"  {result.label:<28} {fmt_rps(result.rps):>9} req/s  p50 {p50:>8}  p99 {p99:>8}  "
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
            "check_failures": sum(r.check.get("non200", 0) + r.check.get("inactive", 0) for r in runs),
            "requests": sum(r.requests for r in runs),
        }
    return summary


def print_report(summary: dict[str, dict], cold: WrkResult | None, runs: int, seconds: float) -> list[str]:
    ceiling = summary["healthz"]
    header = (
        f"{'endpoint':<19} {'req/s':>8} {'(min–max)':<19} {'p50':>8} {'p99':>8} {'(p99 min–max)':<19} "
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
            f"{endpoint:<19} {fmt_rps(s['rps_median']):>8} {spread:<19} "
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
    if cold is not None:
        log(
            f"(informational) introspection, first sighting of each of {cold.check.get('tokens', 0):,} tokens "
            f"(cold cache, one pass): {fmt_rps(cold.rps)} req/s, p50 {fmt_latency(cold.latency_us.get(50, float('nan')))}, "
            f"p99 {fmt_latency(cold.latency_us.get(99, float('nan')))}"
        )

    intro, token = summary["introspection"], summary["client_credentials"]
    intro_ratio = intro["rps_median"] / ceiling["rps_median"]
    intro_p99 = intro["p99_us"] / ceiling["p99_us"]
    token_ratio = token["rps_median"] / ceiling["rps_median"]
    verdicts = [
        (intro_ratio >= TARGET_INTROSPECTION_RATIO,
         f"introspection throughput {intro_ratio:.2f} of the /healthz ceiling (target ≥ {TARGET_INTROSPECTION_RATIO})"),
        (intro_p99 <= TARGET_INTROSPECTION_P99_FACTOR,
         f"introspection p99 {intro_p99:.2f}× the /healthz p99 (target ≤ {TARGET_INTROSPECTION_P99_FACTOR:g}×)"),
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
        elif endpoint == "client_credentials":
            extra = f", non-200 or no access_token: {s['check_failures']}"
        log(
            f"  {endpoint:<20} non-2xx: {s['non2xx']}, socket errors: {s['socket_errors']}{extra} "
            f"(of {s['requests']:,} requests)"
        )
    return [text for ok, text in verdicts if not ok]


# ---------------------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--client-json", required=True, help="output of `usher client create --json`")
    parser.add_argument("--work-dir", required=True)
    parser.add_argument("--server-pid", type=int, required=True)
    parser.add_argument("--client-core", type=int, default=0)
    parser.add_argument("--tokens", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--warmup", type=float, default=3)
    parser.add_argument("--save-raw", action="store_true", help="keep every wrk output in the work dir")
    args = parser.parse_args()

    parsed = urllib.parse.urlsplit(args.base_url)
    with open(args.client_json, encoding="utf-8") as file:
        client = json.load(file)
    authorization = basic_authorization(client["client_id"], client["client_secret"])
    token_file = os.path.join(args.work_dir, "tokens.txt")
    failed: list[str] = []

    try:
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

        runner = Runner(args, authorization, token_file)
        log()
        log("Cold pass: one introspection of every token (first sightings; fills the verified-token cache)")
        cold = runner.run("introspection", max(60.0, args.tokens / 100), "introspection (cold pass)", cold=True)
        log(describe(cold))
        if cold.check.get("responses", 0) < args.tokens:
            cold.errors.append(f"the cold pass answered {cold.check.get('responses', 0)} of {args.tokens} tokens")
        failed += [f"cold pass: {e}" for e in cold.errors]

        log()
        log(f"Warm-up: {args.warmup:g} s per endpoint")
        for endpoint in ENDPOINTS:
            result = runner.run(endpoint, args.warmup, f"{endpoint} (warm-up)")
            log(describe(result))
            failed += [f"{endpoint} warm-up: {e}" for e in result.errors]

        log()
        log(f"Measuring: {args.runs} round(s) of healthz → introspection → client_credentials, {args.seconds:g} s each")
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
        missed = print_report(summarise(results), cold, args.runs, args.seconds)
    except SetupError as error:
        log(f"ERROR: {error}")
        return 2

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
