"""Shared fixtures: personas, API clients, a real Celery worker on the real
(embedded or REDIS_URL) Redis, the fake OpenAI-compatible server, a live
daphne server for browsers and WebSockets."""
from __future__ import annotations

import time
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from editor.models import Membership, Run, Team

from .fake_openai import FakeOpenAI


# ----------------------------------------------------------------- personas


@pytest.fixture
def personas(db):
    """alice owns team Acme, bob edits in it, carol views it, mallory is an outsider."""
    User = get_user_model()
    people = {name: User.objects.create_user(username=name, password=f"{name}-password") for name in ("alice", "bob", "carol", "mallory")}
    acme = Team.objects.create(name="Acme")
    Membership.objects.create(team=acme, user=people["alice"], role=Membership.Role.OWNER)
    Membership.objects.create(team=acme, user=people["bob"], role=Membership.Role.EDITOR)
    Membership.objects.create(team=acme, user=people["carol"], role=Membership.Role.VIEWER)
    people["acme"] = acme
    return people


@pytest.fixture
def client_for():
    def make(user) -> APIClient:
        client = APIClient()
        client.force_authenticate(user)
        return client

    return make


# ----------------------------------------------------------------- engine


@pytest.fixture(scope="session")
def celery_worker_session(django_db_setup, django_db_blocker):
    """A real Celery worker (threads pool) consuming from the real Redis broker."""
    from celery.contrib.testing.worker import start_worker

    from orchestrator_site.celery import app

    with django_db_blocker.unblock():
        with start_worker(app, pool="threads", concurrency=8, perform_ping_check=False, shutdown_timeout=20) as worker:
            yield worker
        _close_other_sessions()


def _close_other_sessions() -> None:
    """Threads of the worker and the I/O loop keep their own connections; on
    PostgreSQL those would stop the test database from being dropped."""
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")


@pytest.fixture
def worker(transactional_db, celery_worker_session):
    yield celery_worker_session
    # Let runs a test started finish before the tables are flushed under them.
    deadline = time.monotonic() + 15
    while Run.objects.filter(status__in=["queued", "running"]).exists() and time.monotonic() < deadline:
        Run.objects.filter(status__in=["queued", "running"]).update(cancel_requested=True)
        time.sleep(0.05)


@pytest.fixture(scope="session")
def fake_openai_server():
    server = FakeOpenAI().start()
    yield server
    server.stop()


@pytest.fixture
def fake_llm(fake_openai_server, settings):
    """Point the default provider at the fake server (as OPENAI_API_KEY/OPENAI_BASE_URL would)."""
    fake_openai_server.reset()
    settings.OPENAI_API_KEY = "sk-test"
    settings.OPENAI_BASE_URL = fake_openai_server.base_url
    settings.DEFAULT_MODEL = "fake-model"
    yield fake_openai_server
    fake_openai_server.reset()


def wait_for_run(run_id: int, timeout: float = 30) -> Run:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = Run.objects.get(pk=run_id)
        if run.is_finished:
            return run
        time.sleep(0.02)
    raise AssertionError(f"run {run_id} did not finish within {timeout} s (status {Run.objects.get(pk=run_id).status})")


@pytest.fixture
def run_graph(worker, personas):
    """Start a graph as a run on the worker (as the API does) and wait for it."""
    from editor import services

    def start(graph: dict[str, Any], run_input: dict[str, Any] | None = None, wait: bool = True, timeout: float = 30) -> Run:
        run = services.start_run(workflow=None, version=None, graph=graph, team=personas["acme"], user=personas["alice"],
                                 run_input=run_input or {}, trigger="test")
        return wait_for_run(run.pk, timeout) if wait else run

    return start


# ----------------------------------------------------------------- live server


def _database_url() -> str:
    """A URL for the test database the parent process is using."""
    from urllib.parse import quote

    from django.db import connection

    cfg = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{cfg['NAME']}"
    auth = quote(cfg.get("USER") or "") + (f":{quote(cfg['PASSWORD'])}" if cfg.get("PASSWORD") else "")
    return f"postgres://{auth}@{cfg.get('HOST') or '127.0.0.1'}:{cfg.get('PORT') or 5432}/{cfg['NAME']}"


@pytest.fixture(scope="session")
def live_daphne(django_db_setup, django_db_blocker):
    """daphne serving the real ASGI app (pages, API, WebSockets) as its own
    process on the test database: started the way `make run` starts it, not
    forked (a forked child must not share SQLite's in-process file state)."""
    import os
    import socket
    import subprocess
    import sys

    from orchestrator_site.embedded import free_port

    with django_db_blocker.unblock():
        url = _database_url()
    port = free_port()
    env = dict(os.environ, DATABASE_URL=url, DJANGO_SETTINGS_MODULE="orchestrator_site.settings")
    process = subprocess.Popen([sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "orchestrator_site.asgi:application"], env=env)
    deadline = time.monotonic() + 30
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("daphne did not start")
            time.sleep(0.1)
    yield f"127.0.0.1:{port}"
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # PBKDF2's deliberate slowness buys nothing in tests and costs seconds.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_throttles():
    # DRF's throttle counts live in the cache, which outlives a test's database.
    from django.core.cache import cache

    cache.clear()


def pytest_collection_modifyitems(config, items):
    """Browser tests last: Playwright's event loop must not meet other tests' asyncio.run()."""
    items.sort(key=lambda item: "/e2e/" in str(item.fspath))
