"""Loopback servers that answer like the Stripe and PayPal APIs, so tests drive the real `stripe`
library and our PayPal client over real HTTP. Nothing in our code or the SDK is patched.

Each server records every request (method, path, headers, parsed body) for assertions, honours
idempotency keys the way the providers document it (same key → same answer, no second object),
and can be told to fail the next N requests.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlparse


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict
    body: object


@dataclass
class Failure:
    status: int
    body: dict
    headers: dict = field(default_factory=dict)


@dataclass
class Fault:
    """What goes wrong *after* the provider has acted on a request: the client never reads the answer."""

    path_prefix: str
    kind: str  # "drop": close the socket unanswered; "stall": answer after `seconds`; "5xx": answer 500
    seconds: float = 0.0


class _Server:
    """A ThreadingHTTPServer on 127.0.0.1:<free port> running in a daemon thread."""

    def __init__(self):
        self.requests: list[Recorded] = []
        self.failures: list[Failure] = []
        self.slow_paths: dict[str, float] = {}
        self.slow_request_arrived = threading.Event()
        self.faults: list[Fault] = []
        self.lock = threading.Lock()
        self.counter = itertools.count(1)
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output quiet
                pass

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                status, body, headers = outer.dispatch(self.command, self.path, dict(self.headers.items()), raw)
                fault = outer.take_fault(self.path)
                if fault is not None and fault.kind == "drop":
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if fault is not None and fault.kind == "stall":
                    time.sleep(fault.seconds)
                if fault is not None and fault.kind == "5xx":
                    status, body, headers = 500, {"error": {"type": "api_error", "message": "Internal error"}}, {}
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_DELETE = _handle

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def reset(self) -> None:
        """Forget everything a test did: the server lives for the session, its state for one test.

        pytest-django runs transactional tests after the others, so a refund or an idempotency
        reply left by an earlier test would otherwise answer a later one (ids repeat across tests)."""
        with self.lock:
            self.requests.clear()
            self.failures.clear()
            self.faults.clear()
            self.slow_paths.clear()
            self.slow_request_arrived.clear()
            self.forget()

    def forget(self) -> None:
        """The provider's own records (sessions, refunds, orders): each fake clears its own."""

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def fail_next(self, status: int, body: dict | None = None, headers: dict | None = None, times: int = 1):
        for _ in range(times):
            self.failures.append(Failure(status, body or {}, headers or {}))

    def fault_after(self, path_prefix: str, kind: str, *, seconds: float = 0.0, times: int = 1) -> None:
        """The next `times` requests to `path_prefix` are acted on, then their answer is lost (see Fault)."""
        with self.lock:
            self.faults.extend(Fault(path_prefix, kind, seconds) for _ in range(times))

    def take_fault(self, path: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if urlparse(path).path.startswith(fault.path_prefix):
                    self.faults.remove(fault)
                    return fault
        return None

    def slow_down(self, path_prefix: str, seconds: float) -> None:
        """Answer requests to `path_prefix` only after `seconds`: a provider call still in flight."""
        self.slow_paths[path_prefix] = seconds

    def dispatch(self, method, path, headers, raw):
        for prefix, seconds in self.slow_paths.items():
            if urlparse(path).path.startswith(prefix):
                self.slow_request_arrived.set()
                time.sleep(seconds)
        with self.lock:
            query = urlparse(path).query
            body = self.parse(headers, raw) if raw or not query else self.parse_query(query)
            self.requests.append(Recorded(method, urlparse(path).path, headers, body))
            if self.failures:
                failure = self.failures.pop(0)
                return failure.status, failure.body, failure.headers
            return self.route(method, urlparse(path).path, headers, body)

    def calls(self, method: str, path_prefix: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == method and r.path.startswith(path_prefix)]

    def parse(self, headers, raw):
        raise NotImplementedError

    def parse_query(self, query: str) -> dict:
        return dict(parse_qsl(query))

    def route(self, method, path, headers, body):
        raise NotImplementedError


# --- Stripe ---------------------------------------------------------------------------------


def parse_stripe_form(raw: bytes) -> dict:
    """Stripe's form encoding (a[b][0][c]=v) back into nested dicts and lists."""
    result: dict = {}
    for key, value in parse_qsl(raw.decode(), keep_blank_values=True):
        parts = re.findall(r"[^\[\]]+", key)
        node = result
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value

    def listify(node):
        if isinstance(node, dict):
            node = {k: listify(v) for k, v in node.items()}
            if node and all(k.isdigit() for k in node):
                return [node[k] for k in sorted(node, key=int)]
        return node

    return listify(result)


def stripe_signature(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """The Stripe-Signature header exactly as Stripe computes it: HMAC-SHA256 of "t.payload"."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


class FakeStripe(_Server):
    API_KEY = "sk_test_loopback"

    def __init__(self):
        self.sessions: dict[str, dict] = {}
        self.refunds: dict[str, dict] = {}
        self.idempotent: dict[str, tuple[int, dict, dict]] = {}
        super().__init__()

    def forget(self) -> None:
        self.sessions.clear()
        self.refunds.clear()
        self.idempotent.clear()

    def plant_refund(self, refund_id: str, *, amount: int, payment_intent: str, **fields) -> dict:
        """A refund made outside our API (the Stripe dashboard, another integration), shaped as Stripe's."""
        refund = {
            "id": refund_id,
            "object": "refund",
            "created": int(time.time()),
            "amount": amount,
            "currency": "gbp",
            "payment_intent": payment_intent,
            "status": "succeeded",
            "metadata": {},
            **fields,
        }
        self.refunds[refund_id] = refund
        return refund

    def parse(self, headers, raw):
        return parse_stripe_form(raw) if raw else {}

    def parse_query(self, query: str) -> dict:
        return parse_stripe_form(query.encode())

    def _error(self, status, message, type_="invalid_request_error"):
        return status, {"error": {"type": type_, "message": message}}, {}

    def route(self, method, path, headers, body):
        if headers.get("Authorization") != f"Bearer {self.API_KEY}":
            return self._error(401, "Invalid API Key provided.", "invalid_request_error")
        key = headers.get("Idempotency-Key")
        if method == "POST" and key and key in self.idempotent:
            return self.idempotent[key]
        answer = self._route(method, path, body)
        if method == "POST" and key and answer[0] < 500:
            self.idempotent[key] = answer
        return answer

    def _route(self, method, path, body):
        if method == "POST" and path == "/v1/checkout/sessions":
            item = body["line_items"][0]
            price = item["price_data"]
            n = next(self.counter)
            session = {
                "id": f"cs_test_{n}",
                "object": "checkout.session",
                "created": int(time.time()),
                "mode": body.get("mode"),
                "url": f"https://checkout.stripe.com/c/pay/cs_test_{n}",
                "status": "open",
                "payment_status": "unpaid",
                "amount_total": int(price["unit_amount"]) * int(item.get("quantity", 1)),
                "currency": price["currency"],
                "metadata": body.get("metadata", {}),
                "payment_intent": None,
                "success_url": body.get("success_url"),
                "cancel_url": body.get("cancel_url"),
                "customer_email": body.get("customer_email"),
                "client_reference_id": body.get("client_reference_id"),
                "payment_intent_metadata": (body.get("payment_intent_data") or {}).get("metadata", {}),
            }
            self.sessions[session["id"]] = session
            return 200, session, {}
        match = re.fullmatch(r"/v1/checkout/sessions/([\w-]+)", path)
        if method == "GET" and match:
            session = self.sessions.get(match.group(1))
            if session is None:
                return self._error(404, "No such checkout.session")
            return 200, session, {}
        if method == "POST" and path == "/v1/refunds":
            session = next(
                (s for s in self.sessions.values() if s["payment_intent"] == body.get("payment_intent")), None
            )
            if session is None:
                return self._error(400, "No such payment_intent")
            amount = int(body.get("amount") or session["amount_total"])
            refunded = sum(
                r["amount"] for r in self.refunds.values() if r["payment_intent"] == session["payment_intent"]
            )
            if amount + refunded > session["amount_total"]:
                return self._error(400, "Refund amount is greater than unrefunded amount on charge")
            refund = {
                "id": f"re_test_{next(self.counter)}",
                "object": "refund",
                "created": int(time.time()),
                "amount": amount,
                "currency": session["currency"],
                "payment_intent": session["payment_intent"],
                "status": "succeeded",
                "metadata": body.get("metadata", {}),
            }
            self.refunds[refund["id"]] = refund
            return 200, refund, {}
        if method == "GET" and path == "/v1/refunds":
            found = [r for r in self.refunds.values() if _created_within(r, body)]
            if body.get("payment_intent"):
                found = [r for r in found if r["payment_intent"] == body["payment_intent"]]
            return 200, _page(found, body, "/v1/refunds"), {}
        if method == "GET" and path == "/v1/checkout/sessions":
            found = [s for s in self.sessions.values() if _created_within(s, body)]
            return 200, _page(found, body, path), {}
        if method == "GET" and path == "/v1/charges":
            charges = [self.charge(s["id"]) for s in self.sessions.values() if s["payment_status"] == "paid"]
            return 200, _page([c for c in charges if _created_within(c, body)], body, path), {}
        return self._error(404, f"Unrecognized request URL ({method} {path})")

    # What the hosted checkout page would do when the client pays.
    def pay(self, session_id: str, *, paid: bool = True) -> dict:
        with self.lock:
            session = self.sessions[session_id]
            session["status"] = "complete"
            session["payment_status"] = "paid" if paid else "unpaid"
            session["payment_intent"] = session["payment_intent"] or f"pi_test_{next(self.counter)}"
            session.setdefault("paid_at", int(time.time()))
            return dict(session)

    def charge(self, session_id: str) -> dict:
        """The charge object Stripe sends in charge.* events for this session's payment."""
        session = self.sessions[session_id]
        refunds = [r for r in self.refunds.values() if r["payment_intent"] == session["payment_intent"]]
        refunded = sum(r["amount"] for r in refunds)
        return {
            "id": f"ch_for_{session['payment_intent']}",
            "object": "charge",
            "created": session.get("paid_at", session["created"]),
            "status": "succeeded",
            "amount": session["amount_total"],
            "amount_refunded": refunded,
            "currency": session["currency"],
            "payment_intent": session["payment_intent"],
            "metadata": session["payment_intent_metadata"],
            "refunded": refunded == session["amount_total"],
            "refunds": {"object": "list", "data": refunds},
        }


def _created_within(obj: dict, query: dict) -> bool:
    """Stripe's list filter created[gte] / created[lt] (unix seconds)."""
    created = (query.get("created") or {}) if isinstance(query.get("created"), dict) else {}
    return int(created.get("gte", 0)) <= obj["created"] < int(created.get("lt", 2**62))


def _page(items: list[dict], query: dict, url: str) -> dict:
    """One page of a Stripe list, newest first, after `starting_after` when given."""
    items = sorted(items, key=lambda o: (o["created"], o["id"]), reverse=True)
    if query.get("starting_after"):
        ids = [o["id"] for o in items]
        items = items[ids.index(query["starting_after"]) + 1 :] if query["starting_after"] in ids else []
    limit = int(query.get("limit") or 10)
    return {"object": "list", "data": items[:limit], "has_more": len(items) > limit, "url": url}


def stripe_event(event_type: str, obj: dict, *, event_id: str | None = None) -> dict:
    return {
        "id": event_id
        or f"evt_{hashlib.sha1(json.dumps([event_type, obj, time.time_ns()]).encode()).hexdigest()[:24]}",
        "object": "event",
        "api_version": "2025-01-27.acacia",
        "created": int(time.time()),
        "type": event_type,
        "livemode": False,
        "data": {"object": obj},
    }


# --- PayPal ---------------------------------------------------------------------------------


class FakePayPal(_Server):
    CLIENT_ID = "paypal-client-loopback"
    CLIENT_SECRET = "paypal-secret-loopback"
    WEBHOOK_ID = "WH-LOOPBACK-1"
    SIGNING_KEY = b"paypal-loopback-signing-key"

    def __init__(self):
        self.orders: dict[str, dict] = {}
        self.tokens: set[str] = set()
        self.by_request_id: dict[tuple[str, str], tuple[int, dict, dict]] = {}
        self.capture_status = "COMPLETED"
        super().__init__()

    def forget(self) -> None:
        self.orders.clear()
        self.tokens.clear()  # the client asks for a new token (the fixture makes it forget its own)
        self.by_request_id.clear()
        self.capture_status = "COMPLETED"

    def parse(self, headers, raw):
        if headers.get("Content-Type", "").startswith("application/json") and raw:
            return json.loads(raw)
        return dict(parse_qsl(raw.decode())) if raw else {}

    def _error(self, status, name, message, issue=""):
        body = {"name": name, "message": message}
        if issue:
            body["details"] = [{"issue": issue}]
        return status, body, {}

    def route(self, method, path, headers, body):
        if method == "POST" and path == "/v1/oauth2/token":
            expected = base64.b64encode(f"{self.CLIENT_ID}:{self.CLIENT_SECRET}".encode()).decode()
            if headers.get("Authorization") != f"Basic {expected}" or body.get("grant_type") != "client_credentials":
                return 401, {"error": "invalid_client", "error_description": "Client Authentication failed"}, {}
            token = f"A21AA{next(self.counter)}"
            self.tokens.add(token)
            return 200, {"access_token": token, "token_type": "Bearer", "expires_in": 32400}, {}
        auth = headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or auth[7:] not in self.tokens:
            return self._error(401, "AUTHENTICATION_FAILURE", "Authentication failed due to invalid token.")
        request_id = headers.get("PayPal-Request-Id")
        if request_id and (path, request_id) in self.by_request_id:
            return self.by_request_id[(path, request_id)]
        answer = self._route(method, path, body)
        if request_id and answer[0] < 500:
            self.by_request_id[(path, request_id)] = answer
        return answer

    def _route(self, method, path, body):
        if method == "POST" and path == "/v2/checkout/orders":
            n = next(self.counter)
            order = {
                "id": f"PPORD{n:06d}",
                "intent": body["intent"],
                "status": "PAYER_ACTION_REQUIRED",
                "purchase_units": body["purchase_units"],
                "experience": body["payment_source"]["paypal"]["experience_context"],
                "links": [
                    {"rel": "self", "href": f"{self.url}/v2/checkout/orders/PPORD{n:06d}", "method": "GET"},
                    {
                        "rel": "payer-action",
                        "href": f"https://www.sandbox.paypal.com/checkoutnow?token=PPORD{n:06d}",
                        "method": "GET",
                    },
                ],
            }
            self.orders[order["id"]] = order
            return 201, order, {}
        match = re.fullmatch(r"/v2/checkout/orders/(\w+)(/capture)?", path)
        if match:
            order = self.orders.get(match.group(1))
            if order is None:
                return self._error(404, "RESOURCE_NOT_FOUND", "The specified resource does not exist.")
            if method == "GET":
                return 200, order, {}
            if order["status"] == "COMPLETED":
                return self._error(422, "UNPROCESSABLE_ENTITY", "Order already captured.", "ORDER_ALREADY_CAPTURED")
            if order["status"] != "APPROVED":
                return self._error(422, "UNPROCESSABLE_ENTITY", "Payer has not approved.", "ORDER_NOT_APPROVED")
            unit = order["purchase_units"][0]
            capture = {
                "id": f"CAP{next(self.counter):06d}",
                "create_time": _paypal_now(),
                "status": self.capture_status,
                "amount": unit["amount"],
                "custom_id": unit.get("custom_id"),
                "supplementary_data": {"related_ids": {"order_id": order["id"]}},
            }
            order["status"] = "COMPLETED"
            unit["payments"] = {"captures": [capture]}
            return 201, order, {}
        match = re.fullmatch(r"/v2/payments/captures/(\w+)/refund", path)
        if method == "POST" and match:
            capture = self.find_capture(match.group(1))
            if capture is None:
                return self._error(404, "RESOURCE_NOT_FOUND", "The specified resource does not exist.")
            refund = {
                "id": f"REF{next(self.counter):06d}",
                "create_time": _paypal_now(),
                "status": "COMPLETED",
                "amount": body.get("amount") or capture["amount"],
                "custom_id": capture.get("custom_id"),
                "links": [{"rel": "up", "href": f"{self.url}/v2/payments/captures/{capture['id']}", "method": "GET"}],
            }
            capture.setdefault("refunds", []).append(refund)
            return 201, refund, {}
        match = re.fullmatch(r"/v2/payments/refunds/(\w+)", path)
        if method == "GET" and match:
            refund = self.find_refund(match.group(1))
            if refund is None:
                return self._error(404, "RESOURCE_NOT_FOUND", "The specified resource does not exist.")
            return 200, refund, {}
        if method == "GET" and path == "/v1/reporting/transactions":
            return 200, self._transactions(body["start_date"], body["end_date"]), {}
        if method == "POST" and path == "/v1/notifications/verify-webhook-signature":
            required = ("auth_algo", "cert_url", "transmission_id", "transmission_sig", "transmission_time")
            if any(not body.get(k) for k in required) or body.get("webhook_id") != self.WEBHOOK_ID:
                return self._error(400, "VALIDATION_ERROR", "Invalid request - see details.")
            expected = self._sig(body["transmission_id"], body["transmission_time"], body["webhook_event"])
            ok = hmac.compare_digest(expected, body["transmission_sig"])
            return 200, {"verification_status": "SUCCESS" if ok else "FAILURE"}, {}
        return self._error(404, "NOT_FOUND", f"No route for {method} {path}")

    def find_capture(self, capture_id: str) -> dict | None:
        for order in self.orders.values():
            for unit in order["purchase_units"]:
                for capture in (unit.get("payments") or {}).get("captures", []):
                    if capture["id"] == capture_id:
                        return capture
        return None

    def _transactions(self, start: str, end: str) -> dict:
        """Transaction Search (/v1/reporting/transactions): captures (T0006) and refunds (T1107)."""
        details = []
        for order in self.orders.values():
            for unit in order["purchase_units"]:
                for capture in (unit.get("payments") or {}).get("captures", []):
                    if capture["status"] == "COMPLETED":
                        details.append(_transaction(capture, "T0006", capture["amount"], ""))
                    for refund in capture.get("refunds", []):
                        amount = {**refund["amount"], "value": f"-{refund['amount']['value']}"}
                        details.append(_transaction(refund, "T1107", amount, capture["id"]))
        within = [d for d in details if start <= d["transaction_info"]["transaction_initiation_date"] < end]
        return {"transaction_details": within, "total_pages": 1, "page": 1, "total_items": len(within)}

    def find_refund(self, refund_id: str) -> dict | None:
        for order in self.orders.values():
            for unit in order["purchase_units"]:
                for capture in (unit.get("payments") or {}).get("captures", []):
                    for refund in capture.get("refunds", []):
                        if refund["id"] == refund_id:
                            return refund
        return None

    def capture_at_paypal(self, order_id: str) -> dict:
        """PayPal captures the approved order as if our capture call reached it; returns the capture."""
        with self.lock:
            self._route("POST", f"/v2/checkout/orders/{order_id}/capture", {})
            return self.orders[order_id]["purchase_units"][0]["payments"]["captures"][0]

    def approve(self, order_id: str) -> dict:
        with self.lock:
            self.orders[order_id]["status"] = "APPROVED"
            return self.orders[order_id]

    def _sig(self, transmission_id: str, transmission_time: str, event: dict) -> str:
        canonical = json.dumps(event, sort_keys=True, separators=(",", ":"))
        message = f"{transmission_id}|{transmission_time}|{self.WEBHOOK_ID}|{canonical}".encode()
        return base64.b64encode(hmac.new(self.SIGNING_KEY, message, hashlib.sha256).digest()).decode()

    def signed_headers(self, event: dict) -> dict:
        """The headers PayPal sends with a delivery of `event`, signed so this server verifies them."""
        transmission_id = f"tx-{next(self.counter)}"
        transmission_time = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        return {
            "PAYPAL-AUTH-ALGO": "SHA256withRSA",
            "PAYPAL-CERT-URL": "https://api.sandbox.paypal.com/v1/notifications/certs/CERT-loopback",
            "PAYPAL-TRANSMISSION-ID": transmission_id,
            "PAYPAL-TRANSMISSION-SIG": self._sig(transmission_id, transmission_time, event),
            "PAYPAL-TRANSMISSION-TIME": transmission_time,
        }


def _paypal_now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _transaction(obj: dict, code: str, amount: dict, reference: str) -> dict:
    info = {
        "transaction_id": obj["id"],
        "transaction_event_code": code,
        "transaction_initiation_date": obj["create_time"],
        "transaction_amount": amount,
        "transaction_status": "S",
    }
    if reference:
        info["paypal_reference_id"] = reference
    return {"transaction_info": info}


def paypal_event(event_type: str, resource: dict, *, event_id: str | None = None) -> dict:
    return {
        "id": event_id
        or f"WH-{hashlib.sha1(json.dumps([event_type, resource, time.time_ns()]).encode()).hexdigest()[:20]}",
        "event_version": "1.0",
        "create_time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "resource_type": "capture",
        "event_type": event_type,
        "summary": event_type,
        "resource": resource,
    }
