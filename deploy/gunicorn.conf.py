"""gunicorn settings for the `web` process (Procfile): Prometheus' multiprocess mode.

Each worker writes its metric values to files in PROMETHEUS_MULTIPROC_DIR (deploy/metrics-dir.sh
makes it empty at start); when a worker exits (--max-requests, a crash) its live gauges are dropped
so "open" values do not linger, while its counters stay added up.
"""

import os
import tempfile

# gunicorn's control socket (gunicornc) in the temporary directory, one per server, not ~/.gunicorn/:
# the image's user cannot write its home (/app, the code), and servers started side by side shared it.
control_socket = os.path.join(tempfile.gettempdir(), f"gunicorn-{os.getpid()}.ctl")


def child_exit(server, worker):
    import os

    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
