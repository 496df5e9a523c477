"""A pytest plugin (root conftest): every log line the whole suite writes, passed through production's
console filters and JSON formatter, is searched for email addresses, card-like numbers, tokens and
the suite's known secrets. One found fails the run and names the test that logged it (issue 17).

The filters mask those patterns, so the search mostly proves that no line escapes them: a field a
library adds to the record (Celery's task arguments), a formatter that prints what the filter did not
see. Records are copied first: the filters change what they are given, and other handlers (caplog,
Sentry's integration) must see the original.

Our own servers and workers that tests start as processes (gunicorn, uvicorn, Celery) log through their own
filters into files; a test hands each file to `watch_process_log` and its lines are searched the same way at
the end of the run. Third-party servers (clamd, moto) are not ours and are not read.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

# A card number as it would leak: 13–19 digits (spaces or dashes allowed) passing the Luhn check, not the
# fraction of a float (Celery's task runtime, 0.0006253829997149296, is 19 digits after a dot) nor digits
# inside a hex id.
CARD_LIKE = re.compile(r"(?<![.\w])(?:\d[ -]?){12,18}\d(?![\w.])")


def luhn_valid(number: str) -> bool:
    digits = [int(d) for d in number if d.isdigit()][::-1]
    return sum(d if i % 2 == 0 else (d * 2 - 9 if d > 4 else d * 2) for i, d in enumerate(digits)) % 10 == 0


_watch: _SuiteLogs | None = None
_process_logs: list[tuple[str, Path]] = []


def watch_process_log(path: Path) -> None:
    """Search the log file of a process the running test started (one of our own) at the end of the run."""
    _process_logs.append((_watch.test if _watch else "(outside a test)", Path(path)))


class _SuiteLogs(logging.Handler):
    def __init__(self) -> None:
        from django.conf import settings
        from django.utils.module_loading import import_string

        super().__init__(level=logging.DEBUG)
        config: dict = settings.LOGGING
        for name in config["handlers"]["console"]["filters"]:
            self.addFilter(import_string(config["filters"][name]["()"])())
        self.setFormatter(production_json_formatter())
        self.test = "(outside a test)"
        self.lines = 0
        self.leaks: list[tuple[str, str, str]] = []
        self._forbidden = _forbidden_strings(settings)

    def handle(self, record: logging.LogRecord) -> bool:
        return bool(super().handle(logging.makeLogRecord(dict(vars(record)))))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
        except (TypeError, ValueError):  # a bad %-format: logging's own report, as every handler does
            self.handleError(record)
            return
        self.check(line, self.test)

    def check(self, line: str, test: str) -> None:
        from ops.sentry import EMAIL, TOKEN

        self.lines += 1
        card = next((m for m in CARD_LIKE.finditer(line) if luhn_valid(m.group())), None)
        for what, found in (("email", EMAIL.search(line)), ("card", card), ("token", TOKEN.search(line))):
            if found:
                self.leaks.append((test, what, line[:400]))
        for secret in self._forbidden:
            if secret in line:
                self.leaks.append((test, "secret", line[:400].replace(secret, "<the secret>")))


def read_process_logs(watch: _SuiteLogs, logs: list[tuple[str, Path]]) -> None:
    """Search every line of the processes' log files, each named after the test that started it."""
    for test, path in logs:
        if path.exists():  # a test whose process never started leaves no file
            for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
                watch.check(line, f"{test} ({path.name})")


def production_json_formatter() -> logging.Formatter:
    """The JSON formatter exactly as LOGGING builds it (its encoder given as ext://module.name)."""
    from django.conf import settings
    from django.utils.module_loading import import_string

    logging_config: dict = settings.LOGGING
    options: dict[str, str] = dict(logging_config["formatters"]["json"])
    factory = import_string(options.pop("()"))
    resolved = {k: import_string(v.removeprefix("ext://")) if v.startswith("ext://") else v for k, v in options.items()}
    return factory(**resolved)


def _forbidden_strings(settings) -> list[str]:
    from accounts.tests.factories import DEFAULT_PASSWORD

    values = [settings.SECRET_KEY, DEFAULT_PASSWORD, "correct-horse-battery-77"]
    values += [getattr(settings, name, "") for name in dir(settings) if name.endswith(("_SECRET", "_SECRET_KEY"))]
    return sorted({value for value in values if isinstance(value, str) and len(value) >= 12})


def pytest_sessionstart(session: pytest.Session) -> None:
    global _watch
    _watch = _SuiteLogs()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """(Re-)attach before every test: configuring logging again (django.setup() in a test module,
    a subprocess helper) empties the root logger's handlers, and a detached watch would see nothing."""
    if _watch is None:
        return
    _watch.test = item.nodeid
    root = logging.getLogger()
    if _watch not in root.handlers:
        root.addHandler(_watch)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _watch is None:
        return
    logging.getLogger().removeHandler(_watch)
    read_process_logs(_watch, _process_logs)
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        # A pytest-xdist worker: its counts and findings go to the controller, which judges the whole run.
        workeroutput["suite_logs"] = {"lines": _watch.lines, "files": len(_process_logs), "leaks": _watch.leaks}
        return
    if _watch.leaks:
        print(f"\n\nPersonal data or secrets in {len(_watch.leaks)} of {_watch.lines} log lines:")
        for test, what, line in _watch.leaks[:20]:
            print(f"  [{what}] {test}\n      {line}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    elif not _watch.lines and session.testscollected >= 200:
        # Hundreds of tests log signups, refusals and webhooks: seeing none means the watch was cut off.
        print(f"\n\nThe log check saw no line in {session.testscollected} tests: it was detached.")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


_worker_files = 0  # on the xdist controller: the process log files its workers read


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error) -> None:
    """pytest-xdist's controller, as each worker ends: add what the worker's watch saw to the run's."""
    global _worker_files
    found = getattr(node, "workeroutput", {}).get("suite_logs")
    if _watch is None or found is None:
        return  # a worker that crashed sent nothing; xdist already fails the run for it
    _watch.lines += found["lines"]
    _watch.leaks += [tuple(leak) for leak in found["leaks"]]
    _worker_files += found["files"]


def pytest_terminal_summary(terminalreporter) -> None:
    if _watch is not None and not _watch.leaks:
        terminalreporter.write_line(
            f"log lines of the suite checked for personal data: {_watch.lines}"
            f" (with {len(_process_logs) + _worker_files} log files of processes the tests started), none found"
        )
