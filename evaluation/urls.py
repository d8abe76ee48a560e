from __future__ import annotations

from django.urls import path

from . import pages

urlpatterns = [
    path("", pages.experiment_list, name="experiment-list"),
    path("<int:pk>/", pages.experiment_page, name="experiment"),
]
