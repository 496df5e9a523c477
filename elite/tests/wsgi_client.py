"""Requests through the real WSGI entry point (elite.wsgi.application), which Django's test Client skips.

The test Client builds its own handler over settings.MIDDLEWARE, so it never sees elite/handlers.py's
dispatch. This sends a request to the WSGI callable gunicorn serves, with Django's connection-closing
signals held off as the test Client does (the test's transaction stays open).
"""

from __future__ import annotations

import io
import json
from http.cookies import SimpleCookie

from django.core.signals import request_finished, request_started
from django.db import close_old_connections


class WsgiResponse:
    def __init__(self, status: str, headers: list[tuple[str, str]], body: bytes):
        self.status_code = int(status.split(" ", 1)[0])
        self.header_list = headers
        self.headers = {name.lower(): value for name, value in headers}
        self.content = body
        self.cookies = SimpleCookie()
        for name, value in headers:
            if name.lower() == "set-cookie":
                self.cookies.load(value)

    def json(self):
        return json.loads(self.content)


class WsgiClient:
    def __init__(self, application=None):
        if application is None:
            from elite.wsgi import application
        self.application = application

    def request(self, method: str, path: str, body: bytes = b"", content_type: str = "", headers=None, **environ):
        env = {
            "REQUEST_METHOD": method,
            "PATH_INFO": path,
            "QUERY_STRING": "",
            "SCRIPT_NAME": "",
            "SERVER_NAME": "testserver",
            "SERVER_PORT": "80",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1",
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": io.StringIO(),
            "wsgi.multithread": False,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
            "CONTENT_LENGTH": str(len(body)),
        }
        if content_type:
            env["CONTENT_TYPE"] = content_type
        for name, value in (headers or {}).items():
            env["HTTP_" + name.upper().replace("-", "_")] = value
        env.update(environ)
        started: dict = {}

        def start_response(status, response_headers, exc_info=None):
            started["status"], started["headers"] = status, response_headers

        request_started.disconnect(close_old_connections)
        request_finished.disconnect(close_old_connections)
        try:
            result = self.application(env, start_response)
            try:
                content = b"".join(result)
            finally:
                if hasattr(result, "close"):
                    result.close()
        finally:
            request_started.connect(close_old_connections)
            request_finished.connect(close_old_connections)
        return WsgiResponse(started["status"], started["headers"], content)

    def get(self, path: str, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path: str, data: bytes | str = b"", content_type: str = "", headers=None, **environ):
        body = data.encode() if isinstance(data, str) else data
        return self.request("POST", path, body, content_type, headers, **environ)
