"""Create a small example dataset (5 cases) in a user's personal team; nothing else."""
from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from evaluation.models import Dataset, TestCase

NAME = "Capitals (example)"
CASES = [
    {"input": {"topic": "the capital of France"}, "expected": "Paris", "rubric": "Names Paris as the capital of France.", "tags": ["geography"]},
    {"input": {"topic": "the capital of Japan"}, "expected": "Tokyo", "rubric": "Names Tokyo as the capital of Japan.", "tags": ["geography"]},
    {"input": {"topic": "the capital of Canada"}, "expected": "Ottawa", "rubric": "Names Ottawa, not Toronto.", "tags": ["geography", "tricky"]},
    {"input": {"topic": "the capital of Australia"}, "expected": "Canberra", "rubric": "Names Canberra, not Sydney.", "tags": ["geography", "tricky"]},
    {"input": {"topic": "the capital of Kenya"}, "expected": "Nairobi", "rubric": "Names Nairobi as the capital of Kenya.", "tags": ["geography"]},
]


class Command(BaseCommand):
    help = "Create the example dataset (5 test cases about capitals) for a user's personal team."

    def add_arguments(self, parser):
        parser.add_argument("--user", default="demo", help="whose personal team gets the dataset (default: demo)")

    def handle(self, *args, user: str, **options):
        owner = get_user_model().objects.filter(username=user).first()
        if owner is None:
            raise CommandError(f"no user {user!r}; create it first (make run creates demo) or pass --user")
        team = owner.personal_team
        dataset, created = Dataset.objects.get_or_create(
            team=team, name=NAME,
            defaults={"description": "Five questions with one right answer each; score with contains or llm_judge.",
                      "input_schema": {"type": "object", "properties": {"topic": {"type": "string"}}, "required": ["topic"]},
                      "created_by": owner},
        )
        if created:
            TestCase.objects.bulk_create(TestCase(dataset=dataset, **case) for case in CASES)
        verb = "Created" if created else "Already there:"
        self.stdout.write(f"{verb} dataset {dataset.pk} “{dataset.name}” with {dataset.cases.count()} cases in team {team.name}.")
