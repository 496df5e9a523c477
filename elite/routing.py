"""Websocket routes of every app, gathered in one list for elite.asgi."""

websocket_urlpatterns: list = []
