"""ASGI entry point: HTTP through Django, WebSockets through Channels (session auth)."""
from __future__ import annotations

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "orchestrator_site.settings")
django.setup(set_prefix=False)  # what get_asgi_application() does, before the handler

from orchestrator_site.asgi_handler import SyncChainASGIHandler  # noqa: E402

django_asgi_app = SyncChainASGIHandler()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from editor.mcp_server import application as mcp_application  # noqa: E402
from editor.routing import websocket_urlpatterns  # noqa: E402
from editor.ws_auth import TokenAuthMiddleware  # noqa: E402
from editor.ws_origin import OriginValidator  # noqa: E402



async def http_application(scope, receive, send):
    """/mcp/ is the MCP server (editor/mcp_server.py); everything else is Django."""
    if scope["path"] in ("/mcp", "/mcp/"):
        return await mcp_application(scope, receive, send)
    return await django_asgi_app(scope, receive, send)


websocket_router = URLRouter(websocket_urlpatterns)

application = ProtocolTypeRouter(
    {
        "http": http_application,
        # A good ?token= goes straight to the routes; any other socket through the session stack.
        "websocket": OriginValidator(
            TokenAuthMiddleware(websocket_router, fallback=AuthMiddlewareStack(websocket_router))
        ),
    }
)


def _freeze_startup_objects() -> None:
    """As in the worker (orchestrator_site/celery.py): what is loaded by now
    lives as long as the process, and a full collection walking it (~260k
    objects) cost a web process 150-250 ms of CPU about once every eight
    100-item fan-out runs, delaying that run's events to its client as long."""
    import gc

    gc.collect()
    gc.freeze()


_freeze_startup_objects()
