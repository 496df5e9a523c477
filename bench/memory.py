"""Worker memory over a long run: does a gunicorn worker's RSS level off, and after how many requests?

    BENCH_DATABASE_URL=postgres://…/bench_perf .venv/bin/python bench/memory.py

gunicorn with 2 sync workers on the bench's settings and database (bench/marketplace.py seeds it),
then MEMORY_BLOCKS (10) blocks of MEMORY_SECONDS (30 s) of wrk (2 threads, 4 connections) cycling
through the page mix of the bench's RSS rows: the bare view, landing, the heaviest client's dashboard
and notifications. After each block it prints every worker's RSS and its growth per 10,000 requests
per worker in that block. bench/marketplace.py's repetitions are ~1,000–1,500 requests per worker, inside
the warm-up this shows (the first ~5,000 requests per worker), so their RSS rows read as growth.
MEMORY_GUNICORN_ARGS adds gunicorn options (e.g. "--max-requests 2000"); MEMORY_PORT (8766).

MEMORY_MIX=varied adds the two rows that ask a new URL per request (never-seen directory filters and
a random coach, as bench/marketplace.py's rows, seeded per wrk thread): they fill the bounded
per-process memories (the directory's cards, `{% static %}` URLs, core.pages' read-ahead), so this
mix shows whether those level off too. The default mix keeps the figures comparable with earlier runs.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import load  # noqa: E402
from bench.marketplace import BASELINE, SERVER_ENV, heaviest_users, session_cookie, setup_django  # noqa: E402

MIX_NAME = os.environ.get("MEMORY_MIX", "pages")

PORT = int(os.environ.get("MEMORY_PORT", "8766"))
BLOCKS = int(os.environ.get("MEMORY_BLOCKS", "10"))
SECONDS = int(os.environ.get("MEMORY_SECONDS", "30"))
EXTRA_ARGS = os.environ.get("MEMORY_GUNICORN_ARGS", "").split()

MIX = """
local paths = {"%(baseline)s", "/", "/dashboard/", "/notifications/"}
local cookies = {"", "", "%(cookie)s", "%(cookie)s"}
local i = 0
request = function()
  i = i + 1
  local k = (i %% 4) + 1
  if cookies[k] ~= "" then return wrk.format("GET", paths[k], {["Cookie"] = cookies[k]}) end
  return wrk.format("GET", paths[k])
end
"""

# The same four pages, and every third request a never-seen directory filter or a random listed coach.
VARIED_MIX = """
local paths = {"%(baseline)s", "/", "/dashboard/", "/notifications/"}
local cookies = {"", "", "%(cookie)s", "%(cookie)s"}
local ids = {%(coach_ids)s}
local i = 0
request = function()
  i = i + 1
  if i %% 6 == 0 then
    return wrk.format("GET", "/coaches/?service=cv&language=en&sort=price&max_price=" .. math.random(4000, 40000) / 100)
  elseif i %% 6 == 3 then
    return wrk.format("GET", "/coaches/" .. ids[math.random(1, #ids)] .. "/")
  end
  local k = (i %% 4) + 1
  if cookies[k] ~= "" then return wrk.format("GET", paths[k], {["Cookie"] = cookies[k]}) end
  return wrk.format("GET", paths[k])
end
"""


def mix_script() -> str:
    from coaches.models import CoachProfile

    client, _ = heaviest_users()
    values = {"baseline": BASELINE.path, "cookie": session_cookie(client)}
    if MIX_NAME == "pages":
        return MIX % values
    if MIX_NAME != "varied":
        sys.exit(f"MEMORY_MIX is 'pages' or 'varied', not {MIX_NAME!r}")
    ids = CoachProfile.objects.listed().order_by("id").values_list("id", flat=True)
    return load.SEEDED_LUA_PRELUDE + VARIED_MIX % {**values, "coach_ids": ", ".join(map(str, ids))}


def main() -> None:
    setup_django()
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(mix_script())
    if EXTRA_ARGS:
        popen = subprocess.Popen
        load.subprocess.Popen = lambda command, **kw: popen(command + EXTRA_ARGS, **kw)  # type: ignore[assignment, misc]
    with tempfile.NamedTemporaryFile("w+", prefix="bench-memory-", suffix=".log", delete=False) as logfile:
        server = load.start_server(PORT, SERVER_ENV, logfile)
        try:
            pids = load.worker_pids(server)
            before = {pid: load.rss_kb(pid) for pid in pids}
            print(
                f"mix {MIX_NAME}; workers {pids}, RSS at start {', '.join(f'{kb} KB' for kb in before.values())}",
                flush=True,
            )
            served = 0
            for block in range(1, BLOCKS + 1):
                wrk = [
                    "wrk",
                    "-t2",
                    "-c4",
                    f"-d{SECONDS}s",
                    "-s",
                    script.name,
                    f"http://127.0.0.1:{PORT}/",
                    "--",
                    str(block),
                ]
                out = subprocess.run(wrk, capture_output=True, text=True, check=True).stdout
                requests = int(next(line for line in out.splitlines() if "requests in" in line).split()[0])
                errors = [line.strip() for line in out.splitlines() if "Non-2xx" in line]
                served += requests
                pids = load.worker_pids(server)  # a worker recycled by --max-requests is a new pid
                now = {pid: load.rss_kb(pid) for pid in pids}
                before = {pid: before.get(pid, now[pid]) for pid in pids}
                per_worker = requests / len(pids)
                rows = ", ".join(
                    f"{now[pid]} KB ({now[pid] - before[pid]:+d} = "
                    f"{(now[pid] - before[pid]) * 10_000 / per_worker / 1024:.2f} MB/10k)"
                    for pid in pids
                )
                print(
                    f"block {block}: {requests} requests ({served / len(pids):,.0f} per worker so far), "
                    f"load {os.getloadavg()[0]:.1f}: {rows} {' '.join(errors)}",
                    flush=True,
                )
                before = now
        finally:
            load.stop_server(server)
            print(f"gunicorn log: {logfile.name}")


if __name__ == "__main__":
    main()
