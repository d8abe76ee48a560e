"""Schedules: every tick starts exactly one run however many beat and worker
processes are up. Real Celery beat processes (django-celery-beat's database
scheduler) and real workers, as separate processes on the test database."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

import pytest
from django.utils import timezone

from editor import triggers
from editor.models import Run, Trigger, TriggerFire
from tests.api.builders import saved_workflow
from tests.conftest import _database_url


def _schedule(personas, **config) -> Trigger:
    workflow = saved_workflow(personas["acme"], personas["alice"], name="Nightly")
    triggers.publish(workflow, None)
    return Trigger.objects.create(workflow=workflow, type="schedule", config=triggers.clean_config("schedule", config))


def test_ticks_of_an_interval_are_anchored_at_creation():
    anchor = datetime(2026, 1, 1, 12, 0, 0, tzinfo=dt_timezone.utc)
    config = {"every_s": 5}
    assert triggers.latest_due_tick(config, anchor, anchor + timedelta(seconds=4.9)) is None
    assert triggers.latest_due_tick(config, anchor, anchor + timedelta(seconds=12)) == anchor + timedelta(seconds=10)
    assert triggers._ticks_after(config, anchor, anchor + timedelta(seconds=12), 2) == [anchor + timedelta(seconds=15), anchor + timedelta(seconds=20)]


def test_cron_ticks_follow_the_time_zone():
    anchor = datetime(2026, 3, 1, tzinfo=dt_timezone.utc)
    config = {"cron": "0 9 * * *", "timezone": "Europe/Paris"}
    # 29 March 2026: Paris moves to summer time, 09:00 there is 07:00 UTC (08:00 the day before).
    fires = triggers._ticks_after(config, anchor, datetime(2026, 3, 28, 12, tzinfo=dt_timezone.utc), 2)
    assert [f.hour for f in fires] == [7, 7]
    assert triggers._ticks_after(config, anchor, datetime(2026, 3, 27, 12, tzinfo=dt_timezone.utc), 1)[0].hour == 8


def test_a_tick_is_claimed_once_and_missed_ticks_are_not_replayed(personas, settings):
    trigger = _schedule(personas, every_s=5, input={"topic": "owls"})
    start = trigger.created_at
    # Two sweeps of the same moment (two beats, two workers): one run.
    assert len(triggers.fire_due_schedules(start + timedelta(seconds=6))) == 1
    assert triggers.fire_due_schedules(start + timedelta(seconds=6.5)) == []
    # A sweep that ran late (a busy queue) still fires each tick it missed, once.
    assert len(triggers.fire_due_schedules(start + timedelta(seconds=21))) == 3  # ticks 10, 15, 20
    # Everything was down for an hour (720 ticks missed): no burst, only the
    # ticks less than SCHEDULE_GRACE_S late fire.
    settings.SCHEDULE_GRACE_S = 12
    assert len(triggers.fire_due_schedules(start + timedelta(hours=1, seconds=1))) == 3  # 3590, 3595, 3600 s
    assert triggers.fire_due_schedules(start + timedelta(hours=1, seconds=2)) == []
    assert Run.objects.filter(workflow=trigger.workflow, trigger="schedule", trigger_ref=trigger.pk).count() == 7


def test_an_hourly_tick_more_than_the_grace_late_waits_for_the_next(personas, settings):
    settings.SCHEDULE_GRACE_S = 60
    trigger = _schedule(personas, cron="0 * * * *", input={"topic": "owls"})
    hour = (trigger.created_at + timedelta(hours=2)).replace(minute=0, second=0, microsecond=0)
    assert triggers.fire_due_schedules(hour + timedelta(seconds=61)) == []
    assert len(triggers.fire_due_schedules(hour + timedelta(hours=1, seconds=30))) == 1


def test_a_tick_of_an_unpublished_workflow_is_recorded_with_why(personas):
    trigger = _schedule(personas, every_s=5)
    triggers.unpublish(trigger.workflow)
    assert triggers.fire_due_schedules(trigger.created_at + timedelta(seconds=5.5)) == []
    fire = TriggerFire.objects.get(trigger=trigger)
    assert fire.run_id_ref is None and "no published version" in fire.error


def _celery(*args: str) -> subprocess.Popen:
    env = dict(os.environ, DATABASE_URL=_database_url(), DJANGO_SETTINGS_MODULE="orchestrator_site.settings")
    return subprocess.Popen([sys.executable, "-m", "celery", "-A", "orchestrator_site", *args, "-l", "warning"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _wait_for_workers(count: int, timeout: float = 60) -> None:
    from orchestrator_site.celery import app

    deadline = time.monotonic() + timeout
    while len([r for r in app.control.ping(timeout=0.5) if any(name.startswith("sched-w") for name in r)]) < count:
        assert time.monotonic() < deadline, "the test's workers did not start"
    time.sleep(1.5)  # and beat has sent its first sweeps


@pytest.mark.slow
def test_every_5_s_with_two_beats_and_two_workers_fires_once_per_tick(personas, transactional_db, settings):
    triggers.ensure_sweep_task()
    processes = [
        _celery("worker", "-P", "threads", "-c", "4", "-n", "sched-w1@%h"),
        _celery("worker", "-P", "threads", "-c", "4", "-n", "sched-w2@%h"),
        _celery("beat", "--pidfile=", "-s", os.devnull),
        _celery("beat", "--pidfile=", "-s", os.devnull),
    ]
    try:
        _wait_for_workers(2)  # the schedule's clock starts once the workers are listening
        trigger = _schedule(personas, every_s=5, input={"topic": "owls"})
        deadline = trigger.created_at + timedelta(seconds=17.5)  # ticks at +5, +10, +15
        while timezone.now() < deadline:
            time.sleep(0.25)
            for process in processes:
                assert process.poll() is None, process.stderr.read().decode()[-2000:]
        time.sleep(1.5)  # the last tick's run may still be starting
        fires = list(TriggerFire.objects.filter(trigger=trigger).order_by("key"))
        expected = [trigger.created_at + timedelta(seconds=s) for s in (5, 10, 15)]
        assert [f.key for f in fires] == ["tick:" + t.isoformat() for t in expected]
        runs = Run.objects.filter(trigger="schedule", trigger_ref=trigger.pk)
        assert runs.count() == 3
        assert sorted(f.run_id_ref for f in fires) == sorted(runs.values_list("pk", flat=True))
        deadline_finish = time.monotonic() + 15
        while runs.exclude(status="succeeded").exists() and time.monotonic() < deadline_finish:
            time.sleep(0.1)
        assert set(runs.values_list("output", flat=True)) == {"owls"}
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
