"""The API's JSON parser and renderer, robust to hostile and odd input.

- A request body nested deeper than JSON_MAX_DEPTH, or holding a lone UTF-16
  surrogate ("\\ud800", which no database or page can encode), is a 400 that
  says so, instead of a RecursionError or a value that breaks every later
  page that reads it.
- The renderer never fails on a stored value: if one holds a lone surrogate
  (stored before values were made encodable), it is sent as a JSON escape.
"""
from __future__ import annotations

import json
import os
from typing import Any

from rest_framework import renderers
from django.conf import settings
from rest_framework.exceptions import APIException, ParseError
from rest_framework.utils.json import strict_constant as json_strict_constant
from rest_framework.parsers import JSONParser as DRFJSONParser

MAX_DEPTH = int(os.environ.get("JSON_MAX_DEPTH", "64"))


def json_problem(value: Any) -> str | None:
    """Why a parsed body is refused: too deep, or a lone surrogate; None if fine."""
    stack = [(value, 1, "$")]
    while stack:
        item, depth, path = stack.pop()
        if isinstance(item, str):
            if not item.isascii():
                try:
                    item.encode("utf-8")
                except UnicodeEncodeError:
                    return f"{path}: the text holds a lone UTF-16 surrogate (like \\ud800); send valid Unicode"
            continue
        if isinstance(item, (dict, list)):
            if depth > MAX_DEPTH:
                return f"{path}: nested more than {MAX_DEPTH} levels deep (JSON_MAX_DEPTH)"
            if isinstance(item, dict):
                for k, v in item.items():
                    stack.append((k, depth, path))
                    stack.append((v, depth + 1, f"{path}.{k}"[:200]))
            else:
                stack.extend((v, depth + 1, f"{path}[{i}]"[:200]) for i, v in enumerate(item))
    return None


class RequestTooLarge(APIException):
    status_code = 413
    default_code = "too_large"


class JSONParser(DRFJSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        # DRF reads the body as a stream, past Django's DATA_UPLOAD_MAX_MEMORY_SIZE check: bound it here.
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        raw = stream.read(limit + 1) if stream is not None else b""
        if limit and len(raw) > limit:
            raise RequestTooLarge(f"the request body is over {limit} bytes (REQUEST_MAX_BYTES)")
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            data = json.loads(raw.decode(encoding), parse_constant=json_strict_constant if self.strict else None)
        except RecursionError:
            raise ParseError(f"JSON parse error: nested more than {MAX_DEPTH} levels deep (JSON_MAX_DEPTH)")
        except ValueError as exc:  # bad JSON, bad encoding, a number of more than 4300 digits
            raise ParseError(f"JSON parse error: {exc}")
        problem = json_problem(data)
        if problem:
            raise ParseError(f"JSON parse error: {problem}")
        return data


class JSONRenderer(renderers.JSONRenderer):
    def render(self, data, accepted_media_type=None, renderer_context=None):
        try:
            return super().render(data, accepted_media_type, renderer_context)
        except UnicodeEncodeError:
            # A lone surrogate in a stored value: as an escape it is valid JSON and valid UTF-8.
            return json.dumps(data, cls=self.encoder_class, ensure_ascii=True, allow_nan=not self.strict).encode("ascii")
