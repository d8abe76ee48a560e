"""Loaded with `-p tests.redis_plugin` before Django's settings are read: when
REDIS_URL is unset it starts an embedded Redis server for the test session, so
the suite always talks to a real Redis and needs none installed."""
from __future__ import annotations

import atexit
import os

if not os.environ.get("REDIS_URL"):
    from orchestrator_site.embedded import EmbeddedRedis

    _redis = EmbeddedRedis().start()
    os.environ["REDIS_URL"] = _redis.url
    atexit.register(_redis.stop)

# Tests watch streaming happen but should not wait for a person's reading pace.
os.environ.setdefault("DEMO_TOKEN_DELAY_MS", "2")
os.environ.setdefault("LLM_RETRY_BASE_S", "0.05")
# Tests that leave runs "running" on purpose call the sweeper themselves.
os.environ.setdefault("ENGINE_SWEEP_ORPHANS", "false")
