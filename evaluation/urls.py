from __future__ import annotations

from django.urls import path

from . import pages

# Mounted at the site's root (orchestrator_site/urls.py): /experiments/… and /datasets/….
urlpatterns = [
    path("experiments/", pages.experiment_list, name="experiment-list"),
    path("experiments/new/", pages.experiment_new, name="experiment-new"),
    path("experiments/<int:pk>/", pages.experiment_page, name="experiment"),
    path("datasets/", pages.dataset_list, name="dataset-list"),
    path("datasets/<int:pk>/", pages.dataset_page, name="dataset"),
]
