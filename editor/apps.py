from __future__ import annotations

from django.apps import AppConfig


class EditorConfig(AppConfig):
    name = "editor"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from . import signals  # noqa: F401  (personal teams for new users)
        from .engine_product import register

        register()  # what the engine may ask of the product (engine/product.py)

        post_migrate.connect(_ensure_sweep_task, sender=self)


def _ensure_sweep_task(**kwargs) -> None:
    """Celery beat's database schedule always has the schedule sweep (editor/triggers.py)."""
    from .triggers import ensure_sweep_task

    ensure_sweep_task()
