"""The evaluation REST API: datasets with their cases, experiments.

Same conventions as editor/api: another team's dataset or experiment is a 404,
changes need an owner or editor role (403), bad input is a 400 whose `error`
names the field."""
from __future__ import annotations

from typing import Any

from django.db.models import Count, ProtectedError
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response

from editor import access
from editor.services import ServiceError

from . import case_import, services
from .models import Dataset, Experiment, TestCase

VIEWER_MESSAGE = "your role in this team is viewer; ask an owner for editor rights to change datasets or run experiments"
DATASET_KEYS = {"name", "description", "team", "input_schema", "cases"}


# These views answer plain JSON documents (described in the README); the
# schema says so instead of guessing a serializer.
_JSON = extend_schema(request=OpenApiTypes.OBJECT, responses=OpenApiTypes.OBJECT)
def _documented(*names: str):
    return extend_schema_view(**{name: _JSON for name in names})


def datasets_of(user):
    return Dataset.objects.filter(team__in=access.teams_of(user))


def experiments_of(user):
    return Experiment.objects.filter(team__in=access.teams_of(user))


def _error(exc: ServiceError) -> Response:
    return Response({"error": exc.message, **exc.extra}, status=exc.status)


def _bad(message: str) -> Response:
    return Response({"error": message}, status=status.HTTP_400_BAD_REQUEST)


def _require_write(user, team_id: int) -> None:
    if not access.can_write(user, team_id):
        raise PermissionDenied(VIEWER_MESSAGE)


def case_data(case: TestCase) -> dict[str, Any]:
    return {"id": case.pk, "input": case.input, "expected": case.expected, "rubric": case.rubric, "tags": case.tags,
            "created_at": case.created_at}


def dataset_data(dataset: Dataset, with_cases: bool = True) -> dict[str, Any]:
    data = {"id": dataset.pk, "name": dataset.name, "description": dataset.description, "team": dataset.team_id,
            "input_schema": dataset.input_schema, "created_at": dataset.created_at}
    if with_cases:
        cases = list(dataset.cases.all())
        data.update(case_count=len(cases), cases=[case_data(c) for c in cases])
    else:
        data["case_count"] = getattr(dataset, "case_count", None)
    return data


def _check_dataset_fields(body: dict[str, Any], partial: bool) -> str | None:
    unknown = sorted(set(body) - DATASET_KEYS)
    if unknown:
        return f"{unknown[0]}: unknown key; a dataset has {', '.join(sorted(DATASET_KEYS))}"
    if not partial or "name" in body:
        name = body.get("name")
        if not isinstance(name, str) or not name.strip() or len(name) > 200:
            return "name: required; a name of at most 200 characters"
    if "description" in body and not isinstance(body["description"], str):
        return "description: must be a string"
    errors = services.check_input_schema(body.get("input_schema"))
    return errors[0] if errors else None


@_documented("list", "create", "retrieve", "update", "partial_update", "destroy", "cases", "case", "import_cases")
class DatasetViewSet(viewsets.ViewSet):
    """Datasets of test cases: `input` (the run's input), `expected`, `rubric`, `tags`."""

    lookup_value_regex = r"\d+"

    def _get(self, request, pk) -> Dataset:
        return get_object_or_404(datasets_of(request.user), pk=pk)

    def list(self, request):
        datasets = datasets_of(request.user).annotate(case_count=Count("cases"))
        return Response([dataset_data(d, with_cases=False) for d in datasets])

    def create(self, request):
        body = request.data
        if not isinstance(body, dict):
            return _bad("the request body must be a JSON object with a name")
        problem = _check_dataset_fields(body, partial=False)
        if problem:
            return _bad(problem)
        team_id = body.get("team")
        if team_id is None:
            team = request.user.personal_team
        else:
            if isinstance(team_id, bool) or not isinstance(team_id, int):
                return _bad(f"team: must be a team id (a number), not {team_id!r}")
            team = access.teams_of(request.user).filter(pk=team_id).first()
            if team is None:
                return _bad(f"team: you are not a member of team {team_id}")
        _require_write(request.user, team.pk)
        dataset = Dataset(team=team, name=body["name"].strip(), description=body.get("description", ""),
                          input_schema=body.get("input_schema"), created_by=request.user)
        cases = body.get("cases")
        if cases is not None:
            errors = []
            if not isinstance(cases, list):
                return _bad("cases: must be a list of case objects")
            if len(cases) > services.MAX_CASES_AT_ONCE:
                return _bad(f"cases: {len(cases)} cases; create the dataset with at most {services.MAX_CASES_AT_ONCE} "
                            f"and add more with POST /api/datasets/{{id}}/cases/ or …/import/")
            for index, item in enumerate(cases):
                errors += services.check_case(item, f"cases[{index}]", dataset.input_schema)
            if errors:
                return Response({"error": "; ".join(errors), "fields": errors}, status=400)
        dataset.save()
        if cases:
            services.add_cases(dataset, cases)
        return Response(dataset_data(dataset), status=status.HTTP_201_CREATED)

    def retrieve(self, request, pk=None):
        return Response(dataset_data(self._get(request, pk)))

    def _save(self, request, pk, partial: bool):
        dataset = self._get(request, pk)
        _require_write(request.user, dataset.team_id)
        body = request.data
        if not isinstance(body, dict):
            return _bad("the request body must be a JSON object")
        if "cases" in body:
            return _bad(f"cases: add cases with POST /api/datasets/{dataset.pk}/cases/")
        if "team" in body and body["team"] != dataset.team_id:
            return _bad("team: a dataset cannot move to another team")
        problem = _check_dataset_fields(body, partial=partial)
        if problem:
            return _bad(problem)
        for key in ("name", "description", "input_schema"):
            if key in body:
                setattr(dataset, key, body[key].strip() if key == "name" else body[key])
        dataset.save()
        return Response(dataset_data(dataset))

    def update(self, request, pk=None):
        return self._save(request, pk, partial=False)

    def partial_update(self, request, pk=None):
        return self._save(request, pk, partial=True)

    def destroy(self, request, pk=None):
        dataset = self._get(request, pk)
        _require_write(request.user, dataset.team_id)
        try:
            dataset.delete()
        except ProtectedError:
            used = ", ".join(str(e) for e in dataset.experiments.values_list("pk", flat=True)[:5])
            return Response({"error": f"dataset {dataset.pk} holds the results of experiment {used}; delete those first"}, status=409)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @action(detail=True, methods=["get", "post"])
    def cases(self, request, pk=None):
        """GET lists the cases; POST adds one case (an object) or several (a list), all or none."""
        dataset = self._get(request, pk)
        if request.method == "GET":
            return Response([case_data(c) for c in dataset.cases.all()])
        _require_write(request.user, dataset.team_id)
        try:
            created = services.add_cases(dataset, request.data)
        except ServiceError as exc:
            return _error(exc)
        data = [case_data(c) for c in created]
        return Response(data if isinstance(request.data, list) else data[0], status=status.HTTP_201_CREATED)

    @action(detail=True, methods=["post"], url_path="import")
    def import_cases(self, request, pk=None):
        """Add the cases of a CSV, JSON Lines or JSON file, all or none: multipart `file`
        (format from its extension or `format`), or a JSON body {"format", "text"} (pasted text)."""
        dataset = self._get(request, pk)
        _require_write(request.user, dataset.team_id)
        text, kind, problem = _import_source(request)
        if problem:
            return _bad(problem)
        try:
            cases = case_import.parse(text, kind, dataset.input_schema)
        except case_import.ImportProblems as exc:
            return Response({"error": str(exc), "fields": exc.errors}, status=400)
        created = services.add_cases(dataset, cases)
        return Response({"added": len(created), "case_count": dataset.cases.count(), "cases": [case_data(c) for c in created]},
                        status=status.HTTP_201_CREATED)

    @action(detail=True, methods=["get", "patch", "delete"], url_path=r"cases/(?P<case_id>\d+)")
    def case(self, request, pk=None, case_id=None):
        dataset = self._get(request, pk)
        case = get_object_or_404(dataset.cases, pk=case_id)
        if request.method == "GET":
            return Response(case_data(case))
        _require_write(request.user, dataset.team_id)
        if request.method == "DELETE":
            # As for a dataset (models.Experiment.dataset is PROTECT): results are not taken away silently.
            used = sorted(set(case.trials.values_list("experiment_id", flat=True)))
            if used:
                return Response({"error": f"case {case.pk} has results in experiment {', '.join(map(str, used[:5]))}; "
                                          "delete those experiments first, or leave the case"}, status=409)
            case.delete()
            return Response(status=status.HTTP_204_NO_CONTENT)
        body = request.data
        if not isinstance(body, dict):
            return _bad("the request body must be a JSON object with the case's fields to change")
        merged = {**{k: v for k, v in case_data(case).items() if k in services.CASE_KEYS}, **body}
        errors = services.check_case(merged, "case", dataset.input_schema)
        if errors:
            return Response({"error": "; ".join(errors), "fields": errors}, status=400)
        for key in services.CASE_KEYS & set(body):
            setattr(case, key, body[key])
        case.save()
        return Response(case_data(case))


def _import_source(request) -> tuple[str, str, str | None]:
    """(text, format, problem) of an import request; a problem is the 400's message."""
    upload = request.FILES.get("file")
    given = request.data.get("format") if hasattr(request.data, "get") else None
    if given is not None and not isinstance(given, str):
        return "", "", f"format: one of {', '.join(case_import.FORMATS)}"
    if upload is not None:
        kind = case_import.format_of(upload.name or "", given)
        if kind is None:
            return "", "", (f"format: {given!r} is not one of {', '.join(case_import.FORMATS)}" if given else
                            f"file: cannot tell the format of {upload.name!r}; name it .csv, .jsonl or .json, or send format")
        if upload.size > case_import.MAX_BYTES:
            return "", "", f"file: {upload.size} bytes; an import takes at most {case_import.MAX_BYTES // 1024 // 1024} MB"
        raw = upload.read()
    else:
        if not isinstance(request.data, dict) or "text" not in request.data:
            return "", "", "file: send a file (multipart, field `file`) or a JSON body {\"format\": \"csv\", \"text\": \"…\"}"
        text, kind = request.data["text"], case_import.format_of("", given or "json")
        if not isinstance(text, str):
            return "", "", "text: must be the file's text as a string"
        if kind is None:
            return "", "", f"format: {given!r} is not one of {', '.join(case_import.FORMATS)}"
        raw = text.encode()
        if len(raw) > case_import.MAX_BYTES:
            return "", "", f"text: {len(raw)} bytes; an import takes at most {case_import.MAX_BYTES // 1024 // 1024} MB"
    try:
        return raw.decode("utf-8-sig"), kind, None  # -sig: spreadsheets often write a BOM
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        return "", "", f"file: line {line} is not UTF-8 text; save the file as UTF-8"


def experiment_brief(experiment: Experiment) -> dict[str, Any]:
    return {"id": experiment.pk, "name": experiment.name, "team": experiment.team_id, "status": experiment.status,
            "dataset": experiment.dataset_id, "scorer": experiment.scorer.get("type"), "repeats": experiment.repeats,
            "created_at": experiment.created_at, "finished_at": experiment.finished_at,
            "url": f"/experiments/{experiment.pk}/"}


@_documented("list", "create", "retrieve", "destroy", "cancel", "progress")
class ExperimentViewSet(viewsets.ViewSet):
    """Experiments: variants (workflow versions or prompt variants) run over a dataset, scored, compared."""

    lookup_value_regex = r"\d+"

    def _get(self, request, pk) -> Experiment:
        return get_object_or_404(experiments_of(request.user).select_related("dataset", "created_by"), pk=pk)

    def list(self, request):
        return Response([experiment_brief(e) for e in experiments_of(request.user)[:200]])

    def create(self, request):
        """Create an experiment and start it; 201 with its report (status queued)."""
        body = request.data
        if not isinstance(body, dict):
            return _bad("the request body must be a JSON object with name, dataset, variants and scorer")
        unknown = sorted(set(body) - {"name", "dataset", "variants", "scorer", "repeats", "max_parallel"})
        if unknown:
            return _bad(f"{unknown[0]}: unknown key; an experiment has name, dataset, variants, scorer, repeats, max_parallel")
        try:
            experiment = services.create_experiment(
                user=request.user, data=body, datasets=datasets_of(request.user),
                workflows=access.workflows_of(request.user),
            )
        except ServiceError as exc:
            return _error(exc)
        return Response(services.report(experiment), status=status.HTTP_201_CREATED)

    def retrieve(self, request, pk=None):
        return Response(services.report(self._get(request, pk)))

    def destroy(self, request, pk=None):
        experiment = self._get(request, pk)
        _require_write(request.user, experiment.team_id)
        if not experiment.is_done:
            return Response({"error": f"experiment {experiment.pk} is {experiment.status}; cancel it first"}, status=409)
        experiment.delete()
        return Response(status=status.HTTP_204_NO_CONTENT)

    @action(detail=True, methods=["get"])
    def progress(self, request, pk=None):
        """What a page polls while it runs: status, progress and each trial's run, without the statistics."""
        return Response(services.progress(self._get(request, pk)))

    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        """Stop starting runs and cancel those in flight; 202 with the report."""
        experiment = self._get(request, pk)
        _require_write(request.user, experiment.team_id)
        try:
            experiment = services.cancel_experiment(experiment)
        except ServiceError as exc:
            return _error(exc)
        return Response(services.report(experiment), status=status.HTTP_202_ACCEPTED)
