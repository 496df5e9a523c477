"""Web, websocket and Celery processes load no websocket server; only `manage.py runserver` does."""

import subprocess
import sys

import pytest

from elite.tests.test_ops import ROOT, last_json_line, run_django

LOADED = """
import json, sys
{entry}
print(json.dumps({{name: name in sys.modules for name in ("daphne", "twisted")}}))
"""


@pytest.mark.parametrize(
    "entry",
    [
        "import elite.wsgi",
        "import elite.asgi",
        "import django; django.setup(); from elite.celery import app; app.loader.import_default_modules()",
    ],
    ids=["gunicorn", "uvicorn", "celery"],
)
def test_serving_processes_do_not_import_daphne_or_twisted(entry):
    result = run_django(LOADED.format(entry=entry), DATABASE_URL="sqlite:///:memory:")
    assert result.returncode == 0, result.stderr
    assert last_json_line(result.stdout) == {"daphne": False, "twisted": False}


def test_make_run_still_gets_daphnes_asgi_runserver():
    result = subprocess.run(
        [sys.executable, "manage.py", "runserver", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "--noasgi" in result.stdout  # the option only Daphne's runserver has
