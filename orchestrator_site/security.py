"""Response headers every page gets, and the start-up check of SECRET_KEY.

The Content-Security-Policy allows this site's own origin only: scripts from
/static/ (and inline ones that carry the per-response nonce,
`<script nonce="{{ request.csp_nonce }}">`), styles inline (React Flow and
Redoc position everything with style attributes), images and workers from
data:/blob:, and WebSockets back to this host. No CDN, no third party.
"""
from __future__ import annotations

import secrets
import sys
import warnings

from django.core.exceptions import ImproperlyConfigured

DEFAULT_SECRET_KEY = "dev-insecure-orchestrator-key-change-me"
LOOPBACK = {"127.0.0.1", "localhost", "[::1]", "::1", "testserver"}


def content_security_policy(nonce: str, unsafe_eval: bool = False) -> str:
    return "; ".join(
        [
            "default-src 'self'",
            f"script-src 'self' 'nonce-{nonce}'" + (" 'unsafe-eval'" if unsafe_eval else ""),
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data: blob:",
            "font-src 'self' data:",
            "connect-src 'self'",
            "worker-src 'self' blob:",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.csp_nonce = secrets.token_urlsafe(16)
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", content_security_policy(request.csp_nonce, getattr(response, "csp_unsafe_eval", False)))
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        return response


def check_secret_key(secret_key: str, debug: bool, allowed_hosts: list[str]) -> None:
    """The credentials' encryption key is derived from SECRET_KEY: the public
    default is only for a developer's own machine."""
    if secret_key != DEFAULT_SECRET_KEY:
        return
    public = [h for h in allowed_hosts if h not in LOOPBACK]
    if not debug and public:
        raise ImproperlyConfigured(
            f"SECRET_KEY is the public default while the site serves {', '.join(public)} (ALLOWED_HOSTS) with DEBUG off: "
            "anyone could forge sessions and decrypt stored credentials. Set SECRET_KEY to a long random value, e.g. "
            "`python -c 'import secrets; print(secrets.token_urlsafe(50))'`."
        )
    if "pytest" not in sys.modules:
        warnings.warn(
            "SECRET_KEY is the public default: fine on this machine only; set SECRET_KEY before serving anyone else.",
            stacklevel=2,
        )
