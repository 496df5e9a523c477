"""Run an async test scenario from a synchronous test, even after Playwright started its loop.

pytest-playwright's sync API leaves an event loop running in the main thread for the rest of the
session, and async_to_sync / asyncio.run refuse to start inside it; so each scenario gets a thread
of its own (which closes its database connections when done).
"""

from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import async_to_sync
from django.db import connections


def run(scenario):
    def in_thread():
        try:
            return async_to_sync(scenario)()
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(in_thread).result()
