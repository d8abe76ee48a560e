from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from editor.hooks import webhook

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include("editor.api.urls")),
    path("hooks/<str:token>/", webhook, name="webhook"),
    path("", include("editor.urls")),
    path("", include("evaluation.urls")),
]
