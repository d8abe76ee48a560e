"""What the API, the pages and the command do to datasets and experiments:
checking a case, building a variant's graph, creating, cancelling and
reporting an experiment."""
from __future__ import annotations

import copy
from typing import Any

import jsonschema
from django.db import transaction
from django.utils import timezone

from editor import services as editor_services
from editor.models import Team, Workflow
from editor.services import ServiceError
from engine.nodes import NODE_TYPES
from engine.runner import validate_input

from . import scorers, stats
from .models import Dataset, Experiment, TestCase, Trial, Variant
from engine import patterns

CASE_KEYS = {"input", "expected", "rubric", "tags"}
MAX_REPEATS = 20
MAX_PARALLEL = 50
MAX_CASES_AT_ONCE = 1000  # one request (a list, an import) adds at most this many


def _type_name(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", int: "a number", float: "a number",
            type(None): "null"}.get(type(value), type(value).__name__)


def check_case(data: Any, where: str, input_schema: dict[str, Any] | None) -> list[str]:
    """Errors in one case document, each starting with `where` (e.g. `cases[2].input`)."""
    if not isinstance(data, dict):
        return [f"{where}: must be an object with an `input`, not {_type_name(data)}"]
    errors = [f"{where}.{key}: unknown key; a case has {', '.join(sorted(CASE_KEYS))}" for key in data if key not in CASE_KEYS]
    if "input" not in data:
        errors.append(f"{where}.input: required; the run input as a JSON object")
    elif not isinstance(data["input"], dict):
        errors.append(f"{where}.input: must be a JSON object of the workflow's inputs, not {_type_name(data['input'])}")
    elif input_schema:
        validator = patterns.validator(input_schema)
        for error in validator.iter_errors(data["input"]):
            path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
            errors.append(f"{where}.input{path}: {error.message} (the dataset's input_schema)")
    if "rubric" in data and not isinstance(data["rubric"], str):
        errors.append(f"{where}.rubric: must be a string")
    if "tags" in data and (not isinstance(data["tags"], list) or not all(isinstance(t, str) for t in data["tags"])):
        errors.append(f"{where}.tags: must be a list of strings")
    return errors


def add_cases(dataset: Dataset, data: Any) -> list[TestCase]:
    """Add one case (an object) or several (a list); all or none."""
    items = data if isinstance(data, list) else [data]
    if not items:
        raise ServiceError("cases: send a case object or a non-empty list of them")
    if len(items) > MAX_CASES_AT_ONCE:
        raise ServiceError(f"cases: {len(items)} cases in one request; send at most {MAX_CASES_AT_ONCE} at a time")
    errors: list[str] = []
    for index, item in enumerate(items):
        errors += check_case(item, f"cases[{index}]" if isinstance(data, list) else "case", dataset.input_schema)
    if errors:
        raise ServiceError("; ".join(errors), fields=errors)
    with transaction.atomic():
        return [
            TestCase.objects.create(dataset=dataset, input=item["input"], expected=item.get("expected"),
                                    rubric=item.get("rubric", ""), tags=item.get("tags", []))
            for item in items
        ]


def check_input_schema(schema: Any) -> list[str]:
    if schema is None:
        return []
    if not isinstance(schema, dict):
        return ["input_schema: must be a JSON Schema object or null"]
    try:
        patterns.check_schema(schema)
    except jsonschema.SchemaError as exc:
        return [f"input_schema: not a valid JSON Schema ({exc.message})"]
    return []


def variant_graph(graph: dict[str, Any], overrides: dict[str, str], where: str) -> dict[str, Any]:
    """The version's graph with the named nodes' prompts replaced."""
    graph = copy.deepcopy(graph)
    nodes = {node.get("id"): node for node in graph.get("nodes", []) if isinstance(node, dict)}
    for node_id, prompt in overrides.items():
        node = nodes.get(node_id)
        if node is None:
            raise ServiceError(f"{where}.prompt_overrides.{node_id}: the workflow has no node {node_id!r}; "
                               f"its nodes are {', '.join(sorted(map(str, nodes)))}")
        node_type = NODE_TYPES.get(node.get("type"))
        if node_type is None or "prompt" not in node_type.Config.model_fields:
            raise ServiceError(f"{where}.prompt_overrides.{node_id}: node {node_id!r} is of type {node.get('type')}, "
                               "which has no prompt; override the prompt of an llm node")
        if not isinstance(prompt, str) or not prompt.strip():
            raise ServiceError(f"{where}.prompt_overrides.{node_id}: must be a non-empty prompt string")
        node.setdefault("config", {})["prompt"] = prompt
    return graph


def _int_option(data: dict[str, Any], key: str, default: int, high: int) -> int:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= high:
        raise ServiceError(f"{key}: must be a whole number from 1 to {high}, not {value!r}")
    return value


def create_experiment(*, user, data: dict[str, Any], datasets, workflows) -> Experiment:
    """Check everything a run would trip over, save the experiment and start it.
    `datasets` and `workflows` are what the user may see (other teams' are absent)."""
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ServiceError("name: required; a name for the experiment")
    dataset_id = data.get("dataset")
    if isinstance(dataset_id, bool) or not isinstance(dataset_id, int):
        raise ServiceError(f"dataset: must be a dataset id (a number), not {dataset_id!r}")
    dataset = datasets.filter(pk=dataset_id).select_related("team").first()
    if dataset is None:
        raise ServiceError(f"dataset: no dataset {dataset_id} in your teams")
    from editor import access

    if not access.can_write(user, dataset.team_id):
        raise ServiceError("your role in this team is viewer; ask an owner for editor rights to run experiments", status=403)
    cases = list(dataset.cases.all())
    if not cases:
        raise ServiceError(f"dataset: dataset {dataset.pk} ({dataset.name}) has no cases; add some with POST /api/datasets/{dataset.pk}/cases/")
    scorer = data.get("scorer")
    errors = scorers.check_config(scorer)
    if errors:
        raise ServiceError("; ".join(errors), fields=errors)
    kind = scorers.SCORERS[scorer["type"]]
    if kind.needs_expected:
        lacking = [case.pk for case in cases if case.expected is None]
        if lacking:
            raise ServiceError(f"scorer.type: {kind.kind} compares with each case's expected value, but case "
                               f"{', '.join(map(str, lacking[:5]))} has none; add one or use llm_judge")
    repeats = _int_option(data, "repeats", 1, MAX_REPEATS)
    max_parallel = _int_option(data, "max_parallel", 4, MAX_PARALLEL)
    variants = _check_variants(data.get("variants"), dataset.team, workflows, cases)
    with transaction.atomic():
        experiment = Experiment.objects.create(team=dataset.team, name=name.strip(), dataset=dataset, scorer=scorer,
                                               repeats=repeats, max_parallel=max_parallel, created_by=user)
        for position, variant in enumerate(variants):
            Variant.objects.create(experiment=experiment, position=position, **variant)
        from .tasks import run_experiment

        transaction.on_commit(lambda: run_experiment.delay(experiment.pk))
    return experiment


def _check_variants(items: Any, team: Team, workflows, cases: list[TestCase]) -> list[dict[str, Any]]:
    if not isinstance(items, list) or len(items) < 2:
        raise ServiceError('variants: at least two are needed, e.g. [{"label": "A", "workflow": 1}, {"label": "B", "workflow": 1, "prompt_overrides": {...}}]')
    if len(items) > 10:
        raise ServiceError("variants: at most 10 per experiment")
    checked, labels = [], set()
    for index, item in enumerate(items):
        where = f"variants[{index}]"
        if not isinstance(item, dict):
            raise ServiceError(f"{where}: must be an object with a label and a workflow")
        unknown = set(item) - {"label", "workflow", "version", "prompt_overrides"}
        if unknown:
            raise ServiceError(f"{where}.{sorted(unknown)[0]}: unknown key; a variant has label, workflow, version, prompt_overrides")
        label = item.get("label")
        if not isinstance(label, str) or not label.strip() or len(label) > 40:
            raise ServiceError(f"{where}.label: required; a short name such as \"A\" (at most 40 characters)")
        if label in labels:
            raise ServiceError(f"{where}.label: {label!r} is used twice; each variant needs its own label")
        labels.add(label)
        workflow_id = item.get("workflow")
        if isinstance(workflow_id, bool) or not isinstance(workflow_id, int):
            raise ServiceError(f"{where}.workflow: must be a workflow id (a number), not {workflow_id!r}")
        workflow: Workflow | None = workflows.filter(pk=workflow_id).first()
        if workflow is None:
            raise ServiceError(f"{where}.workflow: no workflow {workflow_id} in your teams")
        if workflow.team_id != team.pk:
            raise ServiceError(f"{where}.workflow: workflow {workflow_id} ({workflow.name}) belongs to another team than "
                               f"the dataset's ({team.name}); an experiment runs in one team")
        version = workflow.latest_version
        if item.get("version") is not None:
            number = item["version"]
            version = workflow.versions.filter(number=number).first() if isinstance(number, int) and not isinstance(number, bool) else None
            if version is None:
                raise ServiceError(f"{where}.version: workflow {workflow_id} has no version {number!r}")
        overrides = item.get("prompt_overrides") or {}
        if not isinstance(overrides, dict):
            raise ServiceError(f"{where}.prompt_overrides: must be an object {{node_id: prompt}}")
        graph = variant_graph(version.graph, overrides, where)
        try:
            editor_services.check_graph(graph)
        except ServiceError as exc:
            raise ServiceError(f"{where}: {exc.message}", **exc.extra) from exc
        for case in cases:
            problems = validate_input(graph, case.input)
            if problems:
                raise ServiceError(f"{where}.workflow: case {case.pk}'s input does not fit {workflow.name}'s inputs: {problems[0]}")
        checked.append({"label": label, "workflow": workflow, "version": version, "prompt_overrides": overrides, "graph": graph})
    return checked


def cancel_experiment(experiment: Experiment) -> Experiment:
    """Stop an experiment: no new runs start, the runs in flight are cancelled."""
    with transaction.atomic():
        stopped = Experiment.objects.filter(pk=experiment.pk, status__in=[Experiment.Status.QUEUED, Experiment.Status.RUNNING]).update(
            status=Experiment.Status.CANCELLED, finished_at=timezone.now(), error="cancelled by a user")
    if not stopped:
        experiment.refresh_from_db()
        raise ServiceError(f"experiment {experiment.pk} already {experiment.status}; only a queued or running one can be cancelled", status=409)
    cancel_outstanding(experiment)
    experiment.refresh_from_db()
    return experiment


def cancel_outstanding(experiment: Experiment) -> None:
    for trial in Trial.objects.filter(experiment=experiment, status=Trial.Status.RUNNING).select_related("run"):
        if trial.run is not None and not trial.run.is_finished:
            try:
                editor_services.cancel_run(trial.run)
            except ServiceError:
                pass  # it finished meanwhile
    Trial.objects.filter(experiment=experiment, status__in=[Trial.Status.PENDING, Trial.Status.RUNNING]).update(
        status=Trial.Status.CANCELLED, error="the experiment was cancelled")


# ----------------------------------------------------------------- report


def _trial_row(trial: Trial) -> dict[str, Any]:
    return {"score": trial.score, "passed": trial.passed, "latency_ms": trial.latency_ms, "tokens": trial.tokens,
            "cost_usd": trial.cost_usd, "error": trial.error}


def trials_by_case(experiment: Experiment) -> dict[int, list[dict[str, Any]]]:
    """Each case's trials with the run that answered them (the link from a case to its runs)."""
    label_of = dict(experiment.variants.values_list("pk", "label"))
    rows: dict[int, list[dict[str, Any]]] = {}
    fields = ("case_id", "variant_id", "repeat", "status", "run_id", "score", "passed", "error")
    for trial in experiment.trials.order_by("case_id", "variant__position", "repeat").values(*fields):
        rows.setdefault(trial["case_id"], []).append({
            "variant": label_of[trial["variant_id"]], "repeat": trial["repeat"], "status": trial["status"],
            "run": trial["run_id"], "run_url": f"/runs/{trial['run_id']}/" if trial["run_id"] else None,
            "score": trial["score"], "passed": trial["passed"], "error": trial["error"],
        })
    return rows


def _progress_counts(experiment: Experiment, trials: list[dict[str, Any]]) -> dict[str, int]:
    total = len(trials) or experiment.variants.count() * experiment.dataset.cases.count() * experiment.repeats
    done = sum(1 for t in trials if t["status"] in (Trial.Status.SCORED, Trial.Status.CANCELLED))
    running = sum(1 for t in trials if t["status"] == Trial.Status.RUNNING)
    return {"done": done, "running": running, "total": total}


def progress(experiment: Experiment) -> dict[str, Any]:
    """The light part of the report, cheap enough to poll: no statistics."""
    by_case = trials_by_case(experiment)
    return {
        "id": experiment.pk, "status": experiment.status, "done": experiment.is_done, "error": experiment.error,
        "progress": _progress_counts(experiment, [t for rows in by_case.values() for t in rows]),
        "cases": [{"case": case_id, "trials": rows} for case_id, rows in by_case.items()],
    }


def report(experiment: Experiment) -> dict[str, Any]:
    """Everything the API and the page show: progress, per-variant summary, statistics, per-case table."""
    variants = list(experiment.variants.select_related("workflow", "version"))
    labels = [v.label for v in variants]
    label_of = {v.pk: v.label for v in variants}
    trials = list(experiment.trials.all())
    cases = list(experiment.dataset.cases.all())
    if trials:
        # Cases added to the dataset after the experiment began are not part of it.
        tried = {t.case_id for t in trials}
        cases = [case for case in cases if case.pk in tried]
    scores: dict[str, dict[int, list[float]]] = {label: {} for label in labels}
    rows: dict[str, list[dict[str, Any]]] = {label: [] for label in labels}
    distributions: dict[str, list[float]] = {label: [] for label in labels}
    for trial in trials:
        label = label_of[trial.variant_id]
        if trial.status == Trial.Status.SCORED and trial.score is not None:
            scores[label].setdefault(trial.case_id, []).append(trial.score)
            rows[label].append(_trial_row(trial))
            distributions[label].append(trial.score)
    summary = stats.summarize(scores, labels)
    by_case = trials_by_case(experiment)
    variant_data = []
    for variant in variants:
        metrics = stats.variant_metrics(rows[variant.label])
        metrics.update(wins=summary["wins"][variant.label], win_rate=summary["win_rates"][variant.label])
        variant_data.append({
            "label": variant.label,
            "workflow": variant.workflow_id,
            "workflow_name": variant.workflow.name if variant.workflow else None,
            "version": variant.version.number if variant.version else None,
            "prompt_overrides": variant.prompt_overrides,
            "summary": metrics,
            "scores": distributions[variant.label],
        })
    case_rows = []
    for case in cases:
        means = {label: summary["means"][label].get(case.pk) for label in labels}
        case_rows.append({
            "case": case.pk, "input": case.input, "expected": case.expected, "tags": case.tags,
            "scores": means,
            "winner": summary["winners"].get(case.pk) if case.pk in summary["winners"] else None,
            "decided": case.pk in summary["winners"],
            "trials": by_case.get(case.pk, []),
        })
    stats_data = {key: summary[key] for key in ("cases", "ties", "tie_rate", "wins", "win_rates", "leader", "confidence", "comparisons")}
    return {
        "id": experiment.pk,
        "name": experiment.name,
        "team": experiment.team_id,
        "status": experiment.status,
        "error": experiment.error,
        "dataset": {"id": experiment.dataset_id, "name": experiment.dataset.name},
        "scorer": experiment.scorer,
        "repeats": experiment.repeats,
        "max_parallel": experiment.max_parallel,
        "created_by": experiment.created_by.get_username() if experiment.created_by else None,
        "created_at": experiment.created_at,
        "started_at": experiment.started_at,
        "finished_at": experiment.finished_at,
        "progress": _progress_counts(experiment, [t for rows in by_case.values() for t in rows]),
        "variants": variant_data,
        "stats": stats_data,
        "cases": case_rows,
    }

