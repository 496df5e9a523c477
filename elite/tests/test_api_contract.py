"""The API contract: the committed docs/openapi.yaml is what the code generates, valid OpenAPI 3, documented."""

import sys
import types
from pathlib import Path

import pytest
import yaml
from django.core.management import call_command
from openapi_schema_validator import OAS30ReadValidator, OAS30WriteValidator

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "docs" / "openapi.yaml"
REGENERATE = ".venv/bin/python manage.py spectacular --validate --file docs/openapi.yaml"


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> str:
    target = tmp_path_factory.mktemp("schema") / "openapi.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    return target.read_text()


def test_committed_schema_matches_the_code(generated):
    assert COMMITTED.read_text() == generated, f"docs/openapi.yaml is stale: run `{REGENERATE}`"


def test_every_operation_has_a_summary_and_its_errors(generated):
    schema = yaml.safe_load(generated)
    for route, methods in schema["paths"].items():
        for method, operation in methods.items():
            assert operation.get("summary"), f"{method.upper()} {route} has no summary"
            for status in ("400", "401", "404", "429"):
                assert status in operation["responses"], f"{method.upper()} {route} does not document {status}"


def _bodies(schema: dict):
    """Every (operation, where, media type, content) of the document: request bodies and answers."""
    for route, methods in schema["paths"].items():
        for method, operation in methods.items():
            name = f"{method.upper()} {route}"
            for media, content in operation.get("requestBody", {}).get("content", {}).items():
                yield name, "request", media, content
            for status, response in operation["responses"].items():
                for media, content in response.get("content", {}).items():
                    yield name, status, media, content


def test_every_body_has_an_example_that_fits_its_schema(generated):
    """Each request body, answer and error (in the one problem shape) shows an example, and each example
    validates against the schema next to it: an example that drifted from its serializer fails here."""
    schema = yaml.safe_load(generated)
    components = {"components": schema["components"]}
    seen = 0
    for name, where, media, content in _bodies(schema):
        shown = content.get("examples", {})
        assert shown, f"{name}: the {where} body ({media}) has no example"
        is_request = where == "request"
        validator_class = OAS30WriteValidator if is_request else OAS30ReadValidator
        validator = validator_class({**content["schema"], **components})
        for label, example in shown.items():
            errors = [error.message for error in validator.iter_errors(example["value"])]
            assert not errors, f"{name}: {where} example {label!r} does not fit its schema: {errors}"
            seen += 1
        if where.startswith("4"):
            assert content["schema"] == {"$ref": "#/components/schemas/Problem"}, f"{name}: {where} is not a Problem"
    assert seen > 100  # the walk above really visited the document


def test_links_name_operations_and_parameters_that_exist(generated):
    """The OpenAPI links (elite/api_links.py) that drive the stateful Schemathesis phase point somewhere."""
    schema = yaml.safe_load(generated)
    operations = {op["operationId"]: op for methods in schema["paths"].values() for op in methods.values()}
    links = [
        (operation["operationId"], link)
        for operation in operations.values()
        for response in operation["responses"].values()
        for link in response.get("links", {}).values()
    ]
    assert len(links) >= 20
    for source, link in links:
        target = operations[link["operationId"]]
        names = {parameter["name"] for parameter in target.get("parameters", [])}
        assert set(link.get("parameters", {})) <= names, f"{source} → {link['operationId']}"
        if "requestBody" in link:
            body = target["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
            assert set(link["requestBody"]) <= set(schema["components"]["schemas"][body]["properties"])


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/v1/schema/", "/api/v1/docs/", "/api/v1/redoc/"])
def test_schema_and_docs_are_served(client, path):
    assert client.get(path).status_code == 200


@pytest.mark.django_db
def test_the_docs_load_their_assets_from_us_not_a_cdn(client):
    page = client.get("/api/v1/docs/").content.decode() + client.get("/api/v1/redoc/").content.decode()
    assert "/static/drf_spectacular_sidecar/" in page
    assert "cdn" not in page.lower()


def _client_example() -> dict:
    """The typed httpx client of docs/api.md, executed as written (minus its __main__ block)."""
    text = (ROOT / "docs" / "api.md").read_text()
    code = text.split("```python\n", 1)[1].split("```", 1)[0]
    module = types.ModuleType("docs_api_example")  # dataclasses look their module up in sys.modules
    sys.modules[module.__name__] = module
    exec(compile(code, "docs/api.md", "exec"), module.__dict__)
    return module.__dict__


def test_the_documented_client_logs_in_refreshes_and_lists_orders(
    live_server, transactional_db, client_user, coach_user
):
    from accounts.tests.factories import DEFAULT_PASSWORD
    from orders.tests.factories import make_order

    order = make_order(client=client_user, coach=coach_user)
    client = _client_example()["EliteClient"](live_server.url)
    client.login(client_user.email, DEFAULT_PASSWORD)
    first_refresh = client.tokens.refresh
    client.refresh()
    assert client.tokens.refresh != first_refresh
    assert [o["id"] for o in client.pages("orders/me")] == [order.pk]
