"""API errors are JSON with a message that says what is wrong and where."""
from __future__ import annotations

from typing import Any

from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    data = response.data
    if isinstance(data, dict) and "detail" in data and len(data) == 1:
        response.data = {"error": str(data["detail"])}
    elif isinstance(data, list) and len(data) == 1 and isinstance(data[0], str):
        response.data = {"error": str(data[0])}
    elif isinstance(data, (dict, list)) and response.status_code == status.HTTP_400_BAD_REQUEST and "errors" not in data:
        response.data = {"error": _flatten(data), "fields": data}
    return response


def _flatten(data: Any, prefix: str = "") -> str:
    if isinstance(data, dict):
        return "; ".join(_flatten(v, f"{prefix}{k}: " if k != "non_field_errors" else prefix) for k, v in data.items())
    if isinstance(data, list):
        return "; ".join(_flatten(v, prefix) for v in data)
    return f"{prefix}{data}"
