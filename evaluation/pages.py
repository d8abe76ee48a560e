"""Server-rendered evaluation pages: datasets (list, one dataset with its
cases), experiments (the list, the form that starts one, one experiment's
summary with its charts, drawn in charts.py).

The pages follow the Teams page's pattern: Django renders the frame and what
is known at once; a small script (static/js/datasets.js, experiment_form.js,
experiment.js) does the changes through the same REST API a script would use,
so the browser gets no rights the API does not give."""
from __future__ import annotations

import json
import re

from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q
from django.http import Http404
from django.shortcuts import render

from editor import access
from engine.nodes import NODE_TYPES

from . import case_import, charts, scorers, services
from .api import datasets_of, experiments_of
from .models import TestCase

# How the experiment form asks for each scorer option (anything else: a line of text).
OPTION_INPUTS = {"case_sensitive": "boolean", "ignore_case": "boolean", "relative": "boolean", "tolerance": "number",
                 "schema": "json", "rubric": "textarea"}


def _writable_team_ids(user) -> set[int]:
    return {team.pk for team in access.teams_with_role(user) if team.my_role in access.WRITE_ROLES}


@login_required
def dataset_list(request):
    datasets = datasets_of(request.user).select_related("team").annotate(
        case_count=Count("cases", distinct=True), experiment_count=Count("experiments", distinct=True))
    teams = [{"id": t.pk, "name": t.name} for t in access.teams_with_role(request.user) if t.my_role in access.WRITE_ROLES]
    return render(request, "datasets.html", {"datasets": datasets, "boot": {"teams": teams}})


@login_required
def dataset_page(request, pk: int):
    dataset = datasets_of(request.user).select_related("team").filter(pk=pk).first()
    if dataset is None:
        raise Http404("No such dataset in your teams")
    can_write = access.can_write(request.user, dataset.team_id)
    boot = {"dataset": dataset.pk, "can_write": can_write, "input_schema": dataset.input_schema,
            "experiments": list(dataset.experiments.values("id", "name", "status")[:20]),
            "max_import_mb": case_import.MAX_BYTES // 1024 // 1024, "max_rows": case_import.MAX_ROWS}
    return render(request, "dataset.html", {"dataset": dataset, "can_write": can_write, "boot": boot})


@login_required
def experiment_list(request):
    experiments = experiments_of(request.user).select_related("dataset", "team", "created_by")[:200]
    can_create = bool(_writable_team_ids(request.user))
    return render(request, "experiments.html", {"experiments": experiments, "can_create": can_create})


def _scorer_specs() -> list[dict]:
    specs = []
    for kind, scorer in scorers.SCORERS.items():
        options = [{"name": name, "help": text, "input": OPTION_INPUTS.get(name, "text"),
                    "default": (re.search(r"default (true|false)", text) or [None, None])[1] == "true"}
                   for name, text in scorer.options.items()]
        specs.append({"kind": kind, "description": scorer.description, "threshold": scorer.default_threshold,
                      "needs_expected": scorer.needs_expected, "options": options})
    return specs


@login_required
def experiment_new(request):
    """/experiments/new/[?dataset=id]: the form that creates and starts an experiment."""
    teams = _writable_team_ids(request.user)
    datasets = datasets_of(request.user).filter(team__in=teams).select_related("team").annotate(
        case_count=Count("cases", distinct=True), without_expected=Count("cases", filter=Q(cases__expected=None), distinct=True))
    keys: dict[int, set[str]] = {}
    for dataset_id, case_input in TestCase.objects.filter(dataset__in=datasets).values_list("dataset_id", "input"):
        keys.setdefault(dataset_id, set()).update(case_input if isinstance(case_input, dict) else ())
    boot = {
        # input_keys: what the cases' inputs hold, for the form to warn about a workflow whose inputs need more.
        "datasets": [{"id": d.pk, "name": d.name, "team": d.team_id, "team_name": d.team.name, "case_count": d.case_count,
                      "without_expected": d.without_expected, "input_keys": sorted(keys.get(d.pk, ()))} for d in datasets],
        "dataset": request.GET.get("dataset"),
        "scorers": _scorer_specs(),
        # The node types whose prompt a variant may replace (services.variant_graph's rule).
        "prompt_types": sorted(kind for kind, cls in NODE_TYPES.items() if "prompt" in cls.Config.model_fields),
        "limits": {"repeats": services.MAX_REPEATS, "max_parallel": services.MAX_PARALLEL},
    }
    return render(request, "experiment_new.html", {"boot": boot, "can_create": bool(teams)})


@login_required
def experiment_page(request, pk: int):
    experiment = experiments_of(request.user).select_related("dataset", "created_by").filter(pk=pk).first()
    if experiment is None:
        raise Http404("No such experiment in your teams")
    report = services.report(experiment)
    labels = [v["label"] for v in report["variants"]]
    for row in report["cases"]:
        row["cells"] = [row["scores"].get(label) for label in labels]
        row["input_text"] = json.dumps(row["input"], ensure_ascii=False)
        row["expected_text"] = "" if row["expected"] is None else json.dumps(row["expected"], ensure_ascii=False)
    for comparison in report["stats"]["comparisons"]:
        comparison["p_text"] = f"{comparison['p_value']:.3g}"
    for index, variant in enumerate(report["variants"]):
        variant["colour"] = charts.colour(index)
    live = not experiment.is_done
    return render(request, "experiment.html", {
        "experiment": experiment,
        "report": report,
        "labels": labels,
        "figures": charts.figures(report),
        "live": live,
        "can_write": access.can_write(request.user, experiment.team_id),
        "boot": {"experiment": experiment.pk, "live": live, "name": experiment.name,
                 "trials": report["progress"]["total"]},
    })
