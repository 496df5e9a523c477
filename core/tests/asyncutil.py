"""Run code from a synchronous test as if no event loop ran in the test's thread.

pytest-playwright's sync API leaves an event loop running in the main thread for the rest of the
session once a browser test has run on the worker, and async_to_sync / asyncio.run refuse to start
inside it. A gunicorn worker or uvicorn's sync-view thread has no running loop, so tests of code that
calls async_to_sync (the /ready probe, an async scenario) run it in a thread of their own, which closes
its database connections when done.
"""

from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import async_to_sync
from django.db import connections


def off_the_loop(fn, *args, **kwargs):
    """fn(*args, **kwargs) in a fresh thread: no event loop runs there, whatever the test's thread has."""

    def in_thread():
        try:
            return fn(*args, **kwargs)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(in_thread).result()


def run(scenario):
    """An async scenario (a coroutine function without arguments) run to its end, off the loop."""
    return off_the_loop(lambda: async_to_sync(scenario)())
