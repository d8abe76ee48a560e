from __future__ import annotations

from django.urls import path, re_path

from .consumers import NotFoundConsumer, RunConsumer
from .presence_consumer import PresenceConsumer

websocket_urlpatterns = [
    path("ws/runs/<int:run_id>/", RunConsumer.as_asgi()),
    path("ws/workflows/<int:workflow_id>/presence/", PresenceConsumer.as_asgi()),
    # Last: any other path (/ws/runs/-1/) is a clean close, not a 500 at the handshake.
    re_path(r"", NotFoundConsumer.as_asgi()),
]
