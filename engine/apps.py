from __future__ import annotations

import sqlite3

from django.apps import AppConfig
from django.core import checks

# engine/runsql.py takes a run's lease and reads the row in one
# UPDATE ... RETURNING, which SQLite has from 3.35 (PostgreSQL always had it).
SQLITE_AT_LEAST = (3, 35, 0)


@checks.register(checks.Tags.database)
def sqlite_has_returning(app_configs=None, **kwargs):
    from django.db import connections

    if any(c.vendor == "sqlite" for c in connections.all()) and sqlite3.sqlite_version_info < SQLITE_AT_LEAST:
        return [checks.Error(f"SQLite {sqlite3.sqlite_version} is too old: the engine needs {'.'.join(map(str, SQLITE_AT_LEAST))} "
                             "or newer (UPDATE ... RETURNING)", hint="use a Python built with a newer SQLite, or PostgreSQL "
                             "(DATABASE_URL)", id="engine.E001")]
    return []


class EngineConfig(AppConfig):
    name = "engine"
    default_auto_field = "django.db.models.BigAutoField"
