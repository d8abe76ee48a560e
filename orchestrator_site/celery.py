"""The Celery app. Broker and result settings come from Django settings (CELERY_*)."""
from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "orchestrator_site.settings")

app = Celery("orchestrator")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["engine", "editor"])


@app.task(name="orchestrator.echo", ignore_result=True)
def echo(reply_to: str) -> None:
    """The benchmarks' floor: a task that only answers on a Redis list, so a
    client can time a bare broker → worker → client round trip."""
    from engine.redis_client import client

    client().rpush(reply_to, 1)
    client().expire(reply_to, 60)
