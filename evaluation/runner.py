"""Running an experiment: one run per (variant, case, repeat), at most
`max_parallel` in flight, each scored when its run finishes.

The coordinator polls the database with short sleeps instead of holding a
callback chain: the runs are advanced by other worker threads, and the state
it needs (trials and their runs) is all in the database, so a re-delivered
task (acks_late) resumes where the last one stopped."""
from __future__ import annotations

import logging
import time
import traceback
import uuid
from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from editor import services as editor_services
from editor.models import Run
from editor.services import ServiceError

from . import scorers
from .models import Experiment, Trial
from .services import cancel_outstanding

log = logging.getLogger(__name__)

POLL_S = 0.1
LEASE_S = 30  # a coordinator silent this long is presumed dead; another may take over


def orphaned():
    """Experiments that should be running but that no live coordinator holds."""
    stale = timezone.now() - timedelta(seconds=LEASE_S)
    return Experiment.objects.filter(status__in=[Experiment.Status.QUEUED, Experiment.Status.RUNNING]).filter(
        Q(heartbeat_at__isnull=True) | Q(heartbeat_at__lt=stale))


class ExperimentRunner:
    def __init__(self, experiment_id: int):
        self.experiment_id = experiment_id
        self.token = uuid.uuid4().hex

    def execute(self) -> str:
        experiment = Experiment.objects.select_related("dataset", "created_by", "team").filter(pk=self.experiment_id).first()
        if experiment is None or experiment.is_done:
            return experiment.status if experiment else "missing"
        # Two coordinators would start two runs for one trial: only the
        # holder of a fresh lease goes on (a re-delivered task takes over a dead one's).
        claimed = orphaned().filter(pk=experiment.pk).update(coordinator=self.token, heartbeat_at=timezone.now())
        if not claimed:
            return "busy"
        Experiment.objects.filter(pk=experiment.pk, status=Experiment.Status.QUEUED).update(
            status=Experiment.Status.RUNNING, started_at=timezone.now())
        try:
            self._create_trials(experiment)
            return self._loop(experiment)
        except Exception as exc:  # a bug or a lost database must not leave it "running" forever
            log.exception("experiment %s failed", experiment.pk)
            Experiment.objects.filter(pk=experiment.pk, status=Experiment.Status.RUNNING).update(
                status=Experiment.Status.FAILED, finished_at=timezone.now(),
                error=f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=3)}")
            cancel_outstanding(experiment)
            return Experiment.Status.FAILED

    def _create_trials(self, experiment: Experiment) -> None:
        existing = set(experiment.trials.values_list("variant_id", "case_id", "repeat"))
        # Repeat-major, then case, then variant: the variants interleave, so a
        # cancelled or half-done experiment still compares like with like.
        new = [
            Trial(experiment=experiment, variant=variant, case=case, repeat=repeat)
            for repeat in range(experiment.repeats)
            for case in experiment.dataset.cases.all()
            for variant in experiment.variants.all()
            if (variant.pk, case.pk, repeat) not in existing
        ]
        Trial.objects.bulk_create(new, ignore_conflicts=True)

    def _loop(self, experiment: Experiment) -> str:
        while True:
            status = Experiment.objects.filter(pk=experiment.pk).values_list("status", flat=True).first()
            if status != Experiment.Status.RUNNING:
                # Cancelled (or deleted) under us: stop whatever we started since.
                if status is not None:
                    cancel_outstanding(experiment)
                return status or "missing"
            if not self._beat(experiment):
                return "superseded"
            running = list(experiment.trials.filter(status=Trial.Status.RUNNING).select_related("run", "case"))
            for trial in running:
                if trial.run is None or trial.run.is_finished:
                    self._score(experiment, trial)
                    self._beat(experiment)  # a slow judge must not look like a dead coordinator
            in_flight = sum(1 for t in running if t.run is not None and not t.run.is_finished)
            free = experiment.max_parallel - in_flight
            pending = list(experiment.trials.filter(status=Trial.Status.PENDING).select_related("variant", "case")[: max(free, 0)])
            for trial in pending:
                self._start(experiment, trial)
            if not pending and not in_flight and not experiment.trials.filter(
                    status__in=[Trial.Status.PENDING, Trial.Status.RUNNING]).exists():
                Experiment.objects.filter(pk=experiment.pk, status=Experiment.Status.RUNNING).update(
                    status=Experiment.Status.FINISHED, finished_at=timezone.now())
                return Experiment.Status.FINISHED
            time.sleep(POLL_S)

    def _beat(self, experiment: Experiment) -> bool:
        return bool(Experiment.objects.filter(pk=experiment.pk, coordinator=self.token).update(heartbeat_at=timezone.now()))

    def _start(self, experiment: Experiment, trial: Trial) -> None:
        variant = trial.variant
        try:
            run = editor_services.start_run(
                workflow=variant.workflow, version=variant.version, graph=variant.graph, team=experiment.team,
                user=experiment.created_by, run_input=trial.case.input, trigger="experiment",
            )
        except ServiceError as exc:
            # The case does not fit the workflow (it changed since): a failed trial, not a failed experiment.
            Trial.objects.filter(pk=trial.pk).update(status=Trial.Status.SCORED, score=0.0, passed=False, error=exc.message)
            return
        Trial.objects.filter(pk=trial.pk, status=Trial.Status.PENDING).update(status=Trial.Status.RUNNING, run=run)

    def _score(self, experiment: Experiment, trial: Trial) -> None:
        run: Run | None = trial.run
        fields: dict = {"status": Trial.Status.SCORED}
        if run is None:
            fields.update(score=0.0, passed=False, error="its run was deleted")
        else:
            began = run.started_at or run.created_at
            fields.update(
                output=run.output, tokens=run.tokens, cost_usd=run.cost_usd,
                latency_ms=int((run.finished_at - began).total_seconds() * 1000) if run.finished_at else None,
            )
            if run.status != Run.Status.SUCCEEDED:
                message = (run.error or {}).get("message") if isinstance(run.error, dict) else str(run.error or "")
                # A run that failed scores 0: a variant that crashes loses the case.
                fields.update(score=0.0, passed=False, error=f"run {run.status}: {message or 'no output'}")
            else:
                try:
                    score, passed, detail = scorers.grade(run.output, trial.case, experiment.scorer)
                    fields.update(score=score, passed=passed, detail=detail)
                except Exception as exc:  # the judge's model failed, say: the trial says so
                    fields.update(score=0.0, passed=False, error=f"scoring failed: {exc}")
        Trial.objects.filter(pk=trial.pk, status=Trial.Status.RUNNING).update(**fields)
