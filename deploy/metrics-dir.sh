#!/bin/sh
# usage: deploy/metrics-dir.sh NAME COMMAND...  Runs COMMAND with an empty PROMETHEUS_MULTIPROC_DIR of its
# own ($METRICS_DIR_ROOT/NAME), where each of its processes (gunicorn or uvicorn workers, Celery's pool)
# writes its metrics and /metrics adds them up. Files of an earlier run would be added too: it starts empty.
set -eu
name=$1; shift
PROMETHEUS_MULTIPROC_DIR="${METRICS_DIR_ROOT:-${TMPDIR:-/tmp}/elite-metrics}/$name"
rm -rf "$PROMETHEUS_MULTIPROC_DIR"
mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
export PROMETHEUS_MULTIPROC_DIR
exec "$@"
