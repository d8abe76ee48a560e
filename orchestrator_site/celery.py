"""The Celery app. Broker and result settings come from Django settings (CELERY_*)."""
from __future__ import annotations

import os

from celery import Celery
from celery.signals import worker_ready

from . import kombu_fix

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "orchestrator_site.settings")
kombu_fix.apply()  # a worker rides out a Redis restart (see orchestrator_site/kombu_fix.py)
kombu_fix.reuse_clients()  # one Redis client per broker channel, not one per acknowledgement

class OrchestratorCelery(Celery):
    """Celery with one result backend per process when results are off.

    Celery keeps its result backend per thread (some backends are not thread
    safe) and builds it on first use in each thread: `apply_async` asks for it
    to make the AsyncResult it returns. The web process serves each request on
    a thread of its own, so every `POST /runs/` built a fresh DisabledBackend,
    ~0.26 ms of CPU. With no result backend (CELERY_RESULT_BACKEND None: runs
    report through the database) that backend holds no state, so one serves all."""

    _disabled_backend = None

    @property
    def backend(self):
        if self._disabled_backend is not None:
            return self._disabled_backend
        if self.conf.result_backend:
            return super().backend
        self._disabled_backend = self._get_backend()
        return self._disabled_backend


app = OrchestratorCelery("orchestrator")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["engine", "editor"])


@app.task(name="orchestrator.echo", ignore_result=True)
def echo(reply_to: str) -> None:
    """The benchmarks' floor: a task that only answers on a Redis list, so a
    client can time a bare broker → worker → client round trip."""
    from engine.redis_client import client

    client().rpush(reply_to, 1)
    client().expire(reply_to, 60)


@worker_ready.connect
def _freeze_startup_objects(**kwargs) -> None:
    """What the worker has loaded by now (Django, the app, every library) lives
    as long as the process: frozen, the cyclic garbage collector stops walking
    it. Unfrozen, each full collection walked ~250k objects, 0.2-0.6 s of CPU
    in the middle of a run, and ~30 % of the worker's CPU in a 100-item
    fan-out (bench/e2e.py, py-spy)."""
    import gc

    gc.collect()
    gc.freeze()
