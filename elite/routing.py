"""Websocket routes of every app, gathered in one list for elite.asgi."""

from messaging.routing import websocket_urlpatterns as messaging_routes

websocket_urlpatterns: list = [*messaging_routes]
