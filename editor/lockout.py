"""What a locked-out login sees (django-axes' AXES_LOCKOUT_CALLABLE): JSON
for the API, the login page with the reason for a person."""
from __future__ import annotations

from axes.backends import AxesStandaloneBackend
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string


def message() -> str:
    minutes = round(settings.AXES_COOLOFF_TIME * 60)
    return (
        f"Too many failed logins: this account or address is locked out for {minutes} minutes "
        "(LOGIN_FAILURE_LIMIT, LOGIN_COOLOFF_MINUTES); an admin can unlock it sooner with `manage.py axes_reset`."
    )


def lockout_response(request: HttpRequest, original_response=None, credentials=None) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse({"error": message()}, status=429)
    body = render_to_string("locked_out.html", {"message": message()}, request=request)
    return HttpResponse(body, status=429)


class LockoutBackend(AxesStandaloneBackend):
    """django-axes' standalone backend, for authentications that come with a
    request (every login over the network). Without one (a test client's
    `login()`, a management command) there is no client to lock out."""

    def authenticate(self, request, *args, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, *args, **kwargs)
