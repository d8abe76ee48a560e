from __future__ import annotations

from django.apps import AppConfig


class EvaluationConfig(AppConfig):
    name = "evaluation"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The Celery app autodiscovers only `engine`; importing the module
        # registers evaluation.run_experiment with every worker that sets up Django.
        from . import tasks  # noqa: F401
