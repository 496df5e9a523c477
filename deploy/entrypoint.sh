#!/bin/sh
# Run one Procfile process by name (web, ws, worker, beat, release), or any other command as given.
set -eu
cd "$(dirname "$0")/.."
if [ "$#" -eq 1 ] && grep -q "^$1:" Procfile; then
  command=$(grep "^$1:" Procfile | head -n 1 | cut -d: -f2-)
  exec sh -c "exec $command"
fi
exec "$@"
