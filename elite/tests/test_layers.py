"""The apps form layers (docs/architecture.md): each imports only the apps below it.

Every non-migration module is parsed with `ast`. An import counts, and so does a string that names a
model of another app ("files.FileAsset" in a ForeignKey or `apps.get_model`) or a module handed to
`importlib.import_module`. Two apps on the same floor (payments, messaging) may not import each other,
so there can be no cycle between apps.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Bottom to top; apps in one tuple share a floor and may not import each other.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("core",),
    ("audit",),
    ("accounts",),
    ("notifications",),
    ("files",),
    ("coaches",),
    ("requests_app",),
    ("orders",),
    ("payments", "messaging", "documents"),
    ("adminpanel", "ops"),
    ("elite",),
)
FLOOR = {app: floor for floor, apps in enumerate(LAYERS) for app in apps}
MODEL_REFERENCE = re.compile(r"([a-z_]+)\.([A-Z][A-Za-z0-9]+)")


@dataclass(frozen=True)
class Reference:
    path: str
    line: int
    source: str
    target: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.source} → {self.target}"


def _named_apps(node: ast.AST) -> list[tuple[str, int]]:
    if isinstance(node, ast.Import):
        return [(alias.name.split(".")[0], node.lineno) for alias in node.names]
    if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
        return [(node.module.split(".")[0], node.lineno)]
    if isinstance(node, ast.Call):
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if name == "import_module" and node.args and isinstance(node.args[0], ast.Constant):
            value = node.args[0].value
            if isinstance(value, str):
                return [(value.split(".")[0], node.lineno)]
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        match = MODEL_REFERENCE.fullmatch(node.value)
        if match:
            return [(match.group(1), node.lineno)]
    return []


def references(root: Path) -> list[Reference]:
    """Every reference from one of our apps to another, with file and line."""
    found = []
    for app in FLOOR:
        for path in sorted((root / app).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            for node in ast.walk(tree):
                for target, line in _named_apps(node):
                    if target in FLOOR and target != app:
                        found.append(Reference(str(path.relative_to(root)), line, app, target))
    return found


def violations(refs: list[Reference], *, include_tests: bool = False) -> list[Reference]:
    """References that point to the same floor or above. Tests may use the apps above them as fixtures
    (a payments test builds an order), but production code may not."""
    return [
        ref
        for ref in refs
        if FLOOR[ref.target] >= FLOOR[ref.source] and (include_tests or "tests" not in Path(ref.path).parts)
    ]


def test_no_app_imports_an_app_above_it_or_beside_it():
    bad = violations(references(ROOT))
    assert not bad, "Upward or sideways imports (see docs/architecture.md):\n" + "\n".join(map(str, bad))


def test_core_imports_no_project_app_and_no_app_imports_elite():
    refs = [ref for ref in references(ROOT) if "tests" not in Path(ref.path).parts]
    assert [str(ref) for ref in refs if ref.source == "core"] == []
    assert [str(ref) for ref in refs if ref.target == "elite"] == []


def test_every_project_app_has_a_floor():
    """A new app must be placed in LAYERS (and in docs/architecture.md) before it can be used."""
    from django.conf import settings

    ours = {app.split(".")[0] for app in settings.INSTALLED_APPS if (ROOT / app.split(".")[0]).is_dir()}
    assert ours - set(FLOOR) == set()


@pytest.mark.parametrize(
    "source, expected",
    [
        ("from payments.models import Payment\n", "payments"),
        ("import messaging.services\n", "messaging"),
        ("x = models.ForeignKey('payments.Payment', on_delete=models.CASCADE)\n", "payments"),
        ("M = apps.get_model('payments.Payment')\n", "payments"),
        ("import importlib\nimportlib.import_module('payments.services')\n", "payments"),
    ],
)
def test_the_check_catches_a_planted_upward_reference(tmp_path, source, expected):
    (tmp_path / "orders").mkdir()
    (tmp_path / "orders" / "planted.py").write_text(source)
    found = violations(references(tmp_path))
    assert [(ref.path, ref.target) for ref in found] == [("orders/planted.py", expected)]


def test_the_check_allows_downward_references_and_refuses_sideways_ones(tmp_path):
    (tmp_path / "payments").mkdir()
    (tmp_path / "payments" / "ok.py").write_text("from orders.models import Order\nfrom core.money import to_minor\n")
    (tmp_path / "payments" / "sideways.py").write_text("from messaging.models import Message\n")
    found = violations(references(tmp_path))
    assert [str(ref) for ref in found] == ["payments/sideways.py:1: payments → messaging"]
