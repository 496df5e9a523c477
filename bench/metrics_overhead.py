"""What the metrics middleware costs: page throughput with and without it, in the same run.

`.venv/bin/python bench/metrics_overhead.py` (also run by `make bench`). Starts gunicorn (2 sync workers,
Prometheus multiprocess mode, as in the Procfile) on production settings twice — with
ops.middleware.MetricsMiddleware and without it (bench/metrics_settings.py) — and measures the same
pages with Debian's `wrk`, the two servers back to back ROUNDS times (the order swapped each round); the
cost is the median of the rounds' paired ratios, so load that drifts during the run hurts both alike.
Target (issue 17): under 5 % cost.
Environment: BENCH_METRICS_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/ews_bench_metrics,
created and migrated if missing), BENCH_DURATION (4 s per run), BENCH_ROUNDS (4), REDIS_URL.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATABASE_URL = os.environ.get("BENCH_METRICS_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/ews_bench_metrics")
DURATION = int(os.environ.get("BENCH_DURATION", "4"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "4"))
PAGES = (("health probe (smallest view)", "/health"), ("landing page (queries + template)", "/"))
TARGET_COST = 0.05

ENV = {
    **os.environ,
    "DJANGO_SETTINGS_MODULE": "bench.metrics_settings",
    "DATABASE_URL": DATABASE_URL,
    "DEBUG": "false",
    "SECRET_KEY": "bench-only-" + "m" * 60,
    "ALLOWED_HOSTS": "127.0.0.1,localhost",
    "SECURE_SSL_REDIRECT": "false",
    "STATIC_MANIFEST": "false",
    "CLAMD_URL": "tcp://127.0.0.1:3310",
    "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
    "CACHE_KEY_PREFIX": "bench-metrics",
    "LOG_LEVEL": "WARNING",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def prepare_database() -> None:
    """Create the database if missing and migrate it (quick once it exists)."""
    server, name = DATABASE_URL.rsplit("/", 1)
    exists = subprocess.run(
        ["psql", f"{server}/postgres", "-tAc", f"SELECT 1 FROM pg_database WHERE datname='{name}'"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    if exists != "1":
        subprocess.run(["psql", f"{server}/postgres", "-qc", f'CREATE DATABASE "{name}"'], check=True)
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=ENV, check=True)


def start(metrics: str, port: int, folder: Path) -> subprocess.Popen:
    multiproc = folder / f"metrics-{metrics}-{port}"
    multiproc.mkdir()
    env = {**ENV, "BENCH_METRICS": metrics, "PROMETHEUS_MULTIPROC_DIR": str(multiproc)}
    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    command = [gunicorn, "-c", "deploy/gunicorn.conf.py", "elite.wsgi:application"]
    command += ["--bind", f"127.0.0.1:{port}", "--workers", "2", "--log-level", "warning"]
    process = subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2)  # nosec B310 - loopback only
            return process
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                sys.exit(f"gunicorn (metrics {metrics}) did not start")
            time.sleep(0.3)


def stop(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    process.wait(timeout=20)


def requests_per_second(port: int, path: str, duration: int) -> float:
    command = ["wrk", "-t2", "-c16", f"-d{duration}s", "--timeout", "5s", f"http://127.0.0.1:{port}{path}"]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    if re.search(r"Non-2xx or 3xx responses: (\d+)", output):
        sys.exit(f"{path} answered errors:\n{output}")
    match = re.search(r"Requests/sec:\s+([\d.]+)", output)
    assert match, output
    return float(match.group(1))


def main() -> None:
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed (apt-get install wrk).")
    prepare_database()
    runs: dict[tuple[str, str], list[float]] = {}
    with tempfile.TemporaryDirectory() as folder:
        servers = {metrics: (port := free_port(), start(metrics, port, Path(folder))) for metrics in ("off", "on")}
        try:
            for _label, path in PAGES:
                for port, _process in servers.values():
                    requests_per_second(port, path, 1)  # warm up
            for round_number in range(ROUNDS):
                order = list(servers.items()) if round_number % 2 == 0 else list(servers.items())[::-1]
                for _label, path in PAGES:
                    for metrics, (port, _process) in order:
                        runs.setdefault((path, metrics), []).append(requests_per_second(port, path, DURATION))
        finally:
            for _port, process in servers.values():
                stop(process)
    report(runs)


def report(runs: dict[tuple[str, str], list[float]]) -> None:
    print(f"\nMetrics middleware overhead — gunicorn 2 workers, wrk 2×16, {ROUNDS} paired rounds × {DURATION} s")
    print(f"{'page':<36} {'without req/s':>14} {'with req/s':>11} {'cost':>7}")
    worst = 0.0
    for label, path in PAGES:
        off, on = runs[(path, "off")], runs[(path, "on")]
        cost = statistics.median(1 - with_ / without for without, with_ in zip(off, on, strict=True) if without)
        worst = max(worst, cost)
        print(f"{label:<36} {statistics.median(off):>14.0f} {statistics.median(on):>11.0f} {cost:>6.1%}")
    verdict = "within" if worst < TARGET_COST else "OVER"
    print(f"target: under {TARGET_COST:.0%} cost — {verdict} (worst {worst:.1%}; medians of paired runs)")


if __name__ == "__main__":
    main()
