from __future__ import annotations

from django.apps import AppConfig


class EditorConfig(AppConfig):
    name = "editor"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import signals  # noqa: F401  (personal teams for new users)
        from .engine_product import register

        register()  # what the engine may ask of the product (engine/product.py)
