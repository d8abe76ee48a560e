"""manage.py load_eval_example: the example dataset, once."""
from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from evaluation.models import Dataset, Experiment

pytestmark = pytest.mark.django_db


def test_it_creates_five_cases_once_and_nothing_else(personas):
    out = io.StringIO()
    call_command("load_eval_example", user="alice", stdout=out)
    call_command("load_eval_example", user="alice", stdout=out)
    dataset = Dataset.objects.get()
    assert dataset.team == personas["alice"].personal_team
    assert dataset.cases.count() == 5 and all(c.expected and c.rubric for c in dataset.cases.all())
    assert "with 5 cases" in out.getvalue() and "Already there" in out.getvalue()
    assert not Experiment.objects.exists()


def test_an_unknown_user_is_named(db):
    with pytest.raises(CommandError, match="no user 'nobody'"):
        call_command("load_eval_example", user="nobody")
