"""Checks the processes .ci/image started from the built image, as a client outside the image would.

usage: image_check.py WEB_URL WS_URL WORKER_METRICS_URL METRICS_TOKEN WORKER_LOG

The web process sits where nginx would put it: requests carry X-Forwarded-Proto: https (DEBUG=false
redirects plain http, and the cookies are Secure), so cookies are handled here by hand. The signup's
verification email is sent by the worker to its log (EMAIL_URL=consolemail://): its code is read from
WORKER_LOG and typed as a person would. Exits non-zero, naming the check, on the first one that fails.
"""

import http.client
import json
import re
import secrets
import sys
import time
import urllib.parse
from typing import NoReturn

from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect
from websockets.typing import Origin

WEB, WS, WORKER_METRICS, TOKEN, WORKER_LOG = sys.argv[1:6]
HOST = urllib.parse.urlsplit(WEB).netloc
cookies: dict[str, str] = {}


def fail(message: str) -> NoReturn:
    sys.exit(f"image check FAILED: {message}")


def request(method: str, url: str, body: dict | None = None, headers: dict | None = None):
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)
    sent = {"X-Forwarded-Proto": "https", **(headers or {})}
    if cookies:
        sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
    data = None
    if body is not None:
        data = urllib.parse.urlencode(body)
        sent["Content-Type"] = "application/x-www-form-urlencoded"
    conn.request(method, parts.path + (f"?{parts.query}" if parts.query else ""), data, sent)
    response = conn.getresponse()
    text = response.read().decode("utf-8", "replace")
    for header, value in response.getheaders():
        if header.lower() == "set-cookie":
            name, _, rest = value.partition("=")
            cookies[name.strip()] = rest.split(";", 1)[0]
    conn.close()
    return response, text


def check(label: str, ok: bool, detail: str = "") -> None:
    if not ok:
        fail(f"{label} {detail}".strip())
    print(f"ok  {label}")


# Liveness and readiness: every backing service the image is configured with answers.
response, text = request("GET", f"{WEB}/health", headers={"X-Forwarded-Proto": "http"})
check("GET /health is 200 over plain http (probes are exempt from the https redirect)", response.status == 200, text)
response, text = request("GET", f"{WEB}/ready")
ready = json.loads(text) if response.status in (200, 503) else {}
check("GET /ready is 200 with every check ok", response.status == 200 and ready.get("status") == "ok", text)
check(
    "/ready checks database, cache, channel layer and broker",
    set(ready["checks"]) >= {"database", "cache", "channel_layer", "broker"},
    text,
)
response, _ = request("GET", f"{WEB}/", headers={"X-Forwarded-Proto": "http"})
check(
    "a plain http page redirects to https (DEBUG=false)",
    response.status == 301 and (response.getheader("Location") or "").startswith("https://"),
)

# A page, and the hashed static file it links (collectstatic ran in the build; whitenoise serves it).
response, page = request("GET", f"{WEB}/")
check("GET / is 200 HTML", response.status == 200 and "<html" in page, str(response.status))
check("the page has a Content-Security-Policy", bool(response.getheader("Content-Security-Policy")))
stylesheet = re.search(r'href="(/static/[^"]+\.[0-9a-f]{12}\.css)"', page)
if stylesheet is None:
    fail("the page links no hashed stylesheet (collectstatic's manifest)")
response, _ = request("GET", f"{WEB}{stylesheet[1]}")
check(f"GET {stylesheet[1]} is served", response.status == 200 and "css" in (response.getheader("Content-Type") or ""))
response, _ = request("GET", f"{WEB}/metrics")
check("/metrics without the token is 404", response.status == 404)


def form_token(page: str) -> str:
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    if not match:
        fail("no CSRF token on the form")
    return match[1]


# Sign up through the page (CSRF, sessions, the database); signup queues its verification email, which
# the worker sends (its own /metrics port, with the scraper's token, counts the task).
email, password = f"image-check-{secrets.token_hex(6)}@example.invalid", secrets.token_urlsafe(18)
origin = {"Origin": f"https://{HOST}"}
_, page = request("GET", f"{WEB}/accounts/signup/")
form = {"csrfmiddlewaretoken": form_token(page), "email": email, "password1": password, "password2": password}
form.update(first_name="Image", last_name="Check", role="client")
response, text = request(
    "POST", f"{WEB}/accounts/signup/", form, {**origin, "Referer": f"https://{HOST}/accounts/signup/"}
)
code_page = response.getheader("Location") or ""
check(
    "signup through the page redirects to the code page",
    response.status == 302 and code_page.endswith("/accounts/confirm-email/"),
    f"{response.status} {code_page} {text[:300]}",
)
response, text = request("POST", f"{WEB}/accounts/signup/", {"email": email}, origin)
check("a POST without the CSRF token is refused", response.status == 403, str(response.status))

deadline, seen = time.monotonic() + 90, ""
wanted = {'task="accounts.tasks.send_rendered_email"', 'state="succeeded"'}


def succeeded(metrics: str) -> float:
    for labels, value in re.findall(r"^elite_celery_tasks_total\{([^}]*)\} (\S+)$", metrics, re.MULTILINE):
        if wanted <= set(labels.split(",")):
            return float(value)
    return 0.0


while time.monotonic() < deadline:
    try:
        response, seen = request("GET", WORKER_METRICS, headers={"Authorization": f"Bearer {TOKEN}"})
        if response.status == 200 and succeeded(seen) >= 1:
            break
    except OSError:
        pass
    time.sleep(2)
else:
    fail(f"the worker did not run the signup email task within 90 s: {seen[-500:]}")
print("ok  the worker ran the signup's email task (worker /metrics)")

# The code from the email the worker printed (JSON log lines: newlines are "\n" there), typed on the code page.
with open(WORKER_LOG, encoding="utf-8", errors="replace") as log:
    codes = re.findall(r"Your verification code is:(?:\\n|\s)+([A-Z0-9]{4}-[A-Z0-9]{4})", log.read())
check("the worker sent the verification email with a code", bool(codes))
_, page = request("GET", f"{WEB}{code_page}")
form = {"csrfmiddlewaretoken": form_token(page), "action": "verify", "code": codes[-1]}
response, text = request("POST", f"{WEB}{code_page}", form, {**origin, "Referer": f"https://{HOST}{code_page}"})
check("the emailed code confirms and signs in", response.status == 302 and "sessionid" in cookies, str(response.status))

# Another browser: login through the page with the confirmed email.
cookies.clear()
_, page = request("GET", f"{WEB}/accounts/login/")
form = {"csrfmiddlewaretoken": form_token(page), "login": email, "password": password}
response, text = request(
    "POST", f"{WEB}/accounts/login/", form, {**origin, "Referer": f"https://{HOST}/accounts/login/"}
)
check(
    "login through the page redirects with a session",
    response.status == 302 and "sessionid" in cookies,
    f"{response.status} {response.getheader('Location')}",
)
response, page = request("GET", f"{WEB}/dashboard/")
check("the dashboard answers the signed-in user", response.status == 200, str(response.status))

# Websockets on the ws process: refused without a session or from another origin, accepted with one.
session = {"Cookie": f"sessionid={cookies['sessionid']}"}


def refused(headers: dict, origin_url: str) -> int | None:
    try:
        with connect(
            f"{WS}/ws/live/", origin=Origin(origin_url), additional_headers=headers, open_timeout=20
        ) as socket:
            socket.recv(timeout=5)
    except InvalidStatus as exc:
        return exc.response.status_code
    except Exception:  # noqa: BLE001 - closed after the handshake: not refused at the handshake
        return None
    return None


check("an anonymous websocket is refused (403)", refused({}, f"https://{HOST}") == 403)
check("a websocket from another origin is refused (403)", refused(session, "https://elsewhere.invalid") == 403)
with connect(f"{WS}/ws/live/", origin=Origin(f"https://{HOST}"), additional_headers=session, open_timeout=20) as socket:
    first = json.loads(socket.recv(timeout=20))
check(
    "a signed-in websocket handshake is accepted and sends the unread count",
    first == {"type": "unread", "total": 0},
    str(first),
)

print("image check: all passed")
