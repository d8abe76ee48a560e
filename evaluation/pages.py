"""Server-rendered experiment pages: the list, and one experiment's summary
with its charts (inline SVG, drawn in charts.py)."""
from __future__ import annotations

import json

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render

from . import charts, services
from .api import experiments_of


@login_required
def experiment_list(request):
    experiments = experiments_of(request.user).select_related("dataset", "team", "created_by")[:200]
    return render(request, "experiments.html", {"experiments": experiments})


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
    return render(request, "experiment.html", {
        "experiment": experiment,
        "report": report,
        "labels": labels,
        "figures": charts.figures(report),
        "live": not experiment.is_done,
    })
