from __future__ import annotations

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from . import api

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("datasets", api.DatasetViewSet, basename="dataset")
router.register("experiments", api.ExperimentViewSet, basename="experiment")

urlpatterns = [path("", include(router.urls))]
