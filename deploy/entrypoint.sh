#!/bin/sh
# Run one Procfile process by name (web, ws, worker, beat, release), or any other command as given.
set -eu
cd "$(dirname "$0")/.."
if [ "$#" -eq 1 ] && grep -q "^$1:" Procfile; then
  command=$(grep "^$1:" Procfile | head -n 1 | cut -d: -f2-)
  # `env`: a line may start with variable assignments (worker: CELERY_METRICS_PORT=... celery ...), which
  # `exec` alone cannot run; the process still replaces the shell, so it gets the container's signals.
  exec sh -c "exec env $command"
fi
exec "$@"
