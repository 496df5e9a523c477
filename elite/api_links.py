"""OpenAPI links: which answer feeds which next call (a drf-spectacular postprocessing hook).

A client that created a request reads it at `requests/{id}`; a coach who accepted one moves the order it
became. The links say so in the document (Swagger UI shows them) and drive Schemathesis' stateful phase,
which chains real ids from real answers instead of guessing them. They cross apps (a request becomes an
order, an order is paid), so they are written down here, in the composition root.

Each row: (source operationId, status, link name, target operationId, parameters, request body), where a
value is an OpenAPI runtime expression. A row naming an operation or parameter the document does not have
fails the schema generation, so a renamed route cannot leave a dead link behind.
"""

from __future__ import annotations

from typing import Any

FIRST = "$response.body#/results/0/id"  # the first item of a cursor page
ID = "$response.body#/id"

LINKS: tuple[tuple[str, str, str, str, dict[str, str], dict[str, str] | None], ...] = (
    # The directory → a profile, or a request to that coach.
    ("coaches_list", "200", "GetCoach", "coaches_retrieve", {"id": FIRST}, None),
    ("coaches_list", "200", "AskCoach", "requests_create", {}, {"coach_id": FIRST}),
    ("coaches_retrieve", "200", "AskThisCoach", "requests_create", {}, {"coach_id": ID}),
    # A request, from the client's or the coach's side.
    ("requests_create", "201", "GetRequest", "requests_retrieve", {"id": ID}, None),
    ("requests_me_list", "200", "GetRequest", "requests_retrieve", {"id": FIRST}, None),
    ("requests_available_list", "200", "GetRequest", "requests_retrieve", {"id": FIRST}, None),
    ("requests_available_list", "200", "AcceptRequest", "requests_accept_partial_update", {"id": FIRST}, None),
    ("requests_available_list", "200", "RejectRequest", "requests_reject_partial_update", {"id": FIRST}, None),
    ("requests_retrieve", "200", "AcceptRequest", "requests_accept_partial_update", {"id": ID}, None),
    ("requests_retrieve", "200", "RejectRequest", "requests_reject_partial_update", {"id": ID}, None),
    # Accepting a request answers with the order it became.
    ("requests_accept_partial_update", "200", "GetOrder", "orders_retrieve", {"id": ID}, None),
    ("requests_accept_partial_update", "200", "MoveOrder", "orders_status_partial_update", {"id": ID}, None),
    ("requests_accept_partial_update", "200", "OpenThread", "threads_create", {}, {"order_id": ID}),
    # An order: read it, move it, deliver, download, pay, talk.
    ("orders_me_list", "200", "GetOrder", "orders_retrieve", {"id": FIRST}, None),
    ("orders_me_list", "200", "PayByStripe", "payments_checkout_session_create", {}, {"order_id": FIRST}),
    ("orders_retrieve", "200", "MoveOrder", "orders_status_partial_update", {"id": ID}, None),
    ("orders_retrieve", "200", "Deliver", "orders_delivery_files_create", {"id": ID}, None),
    ("orders_retrieve", "200", "Download", "orders_download_list", {"id": ID}, None),
    ("orders_retrieve", "200", "PayByStripe", "payments_checkout_session_create", {}, {"order_id": ID}),
    ("orders_retrieve", "200", "PayByPayPal", "payments_paypal_order_create", {}, {"order_id": ID}),
    ("orders_retrieve", "200", "OpenThread", "threads_create", {}, {"order_id": ID}),
    ("orders_status_partial_update", "200", "GetOrder", "orders_retrieve", {"id": ID}, None),
    ("orders_delivery_files_create", "201", "Download", "orders_download_list", {"id": ID}, None),
    # Files: an upload is read or deleted by its id.
    ("files_upload_create", "201", "GetFile", "files_retrieve", {"id": ID}, None),
    ("files_upload_create", "201", "DeleteFile", "files_destroy", {"id": ID}, None),
    # Conversations.
    ("threads_list", "200", "GetMessages", "threads_messages_list", {"id": FIRST}, None),
    ("threads_create", "201", "GetMessages", "threads_messages_list", {"id": ID}, None),
    ("threads_create", "200", "GetMessages", "threads_messages_list", {"id": ID}, None),
    ("threads_create", "201", "SendMessage", "threads_messages_create", {"id": ID}, None),
    ("threads_create", "200", "SendMessage", "threads_messages_create", {"id": ID}, None),
    # Staff.
    ("admin_users_list", "200", "SuspendUser", "admin_users_suspend_partial_update", {"id": FIRST}, None),
)


def _operations(schema: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        operation["operationId"]: operation
        for methods in schema["paths"].values()
        for operation in methods.values()
        if isinstance(operation, dict) and "operationId" in operation
    }


def add_links(result: dict[str, Any], generator=None, request=None, public=None) -> dict[str, Any]:
    """Write LINKS into the responses of their source operations; refuse a link to nowhere."""
    operations = _operations(result)
    for source, status, name, target, parameters, body in LINKS:
        for operation_id in (source, target):
            if operation_id not in operations:
                raise ValueError(f"API link {source} → {target}: no operation {operation_id!r}")
        response = operations[source]["responses"].get(status)
        if response is None:
            raise ValueError(f"API link {name}: {source} does not answer {status}")
        known = {p["name"] for p in operations[target].get("parameters", []) if p.get("in") == "path"}
        if set(parameters) - known:
            raise ValueError(f"API link {name}: {target} has no path parameter {sorted(set(parameters) - known)}")
        link: dict[str, Any] = {"operationId": target}
        if parameters:
            link["parameters"] = dict(parameters)
        if body is not None:
            link["requestBody"] = dict(body)
        response.setdefault("links", {})[name] = link
    return result
