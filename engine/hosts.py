"""Which hosts a secret may be sent to: a hostname matches a pattern that is the
same name, or `*.example.com` for any name under example.com (not example.com
itself)."""
from __future__ import annotations


def host_allowed(host: str | None, patterns: list[str]) -> bool:
    if not host:
        return False
    host = host.lower().rstrip(".").strip("[]")
    for pattern in patterns or []:
        pattern = pattern.lower().rstrip(".").strip("[]")
        if pattern.startswith("*."):
            if host.endswith(pattern[1:]) and host != pattern[2:]:
                return True
        elif host == pattern:
            return True
    return False
