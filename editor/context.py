"""Template context shared by every page."""
from __future__ import annotations

from django.conf import settings


def build_version(request) -> dict[str, str]:
    """The front-end build's time, appended to its URLs so browsers fetch a new build at once."""
    build = settings.BASE_DIR / "static" / "build" / "app.js"
    try:
        return {"build_version": str(int(build.stat().st_mtime))}
    except OSError:
        return {"build_version": "0"}
