"""Settings for bench/metrics_overhead.py: production settings, and with BENCH_METRICS=off the
metrics middleware left out (the only difference between the two servers it compares)."""

import os

from elite.settings import *  # noqa: F403
from elite.settings import MIDDLEWARE, WEBHOOK_MIDDLEWARE

if os.environ.get("BENCH_METRICS") == "off":
    MIDDLEWARE = [name for name in MIDDLEWARE if name != "ops.middleware.MetricsMiddleware"]
    WEBHOOK_MIDDLEWARE = [name for name in WEBHOOK_MIDDLEWARE if name != "ops.middleware.MetricsMiddleware"]
