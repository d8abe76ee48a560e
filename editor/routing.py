from __future__ import annotations

from django.urls import path

from .consumers import RunConsumer
from .presence_consumer import PresenceConsumer

websocket_urlpatterns = [
    path("ws/runs/<int:run_id>/", RunConsumer.as_asgi()),
    path("ws/workflows/<int:workflow_id>/presence/", PresenceConsumer.as_asgi()),
]
