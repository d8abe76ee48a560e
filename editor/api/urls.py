from __future__ import annotations

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView
from rest_framework.routers import DefaultRouter

from . import teams, templates, triggers, views

router = DefaultRouter(trailing_slash=True)
# No `….json` routes: the API speaks JSON only, and the suffix reached views
# that take no `format` argument (a 500). Unknown suffixes are now plain 404s.
router.include_format_suffixes = False
router.register("workflows", views.WorkflowViewSet, basename="workflow")
router.register("runs", views.RunViewSet, basename="run")
router.register("teams", teams.TeamViewSet, basename="team")
router.register("credentials", views.CredentialViewSet, basename="credential")
router.register("conversations", views.ConversationViewSet, basename="conversation")

urlpatterns = [
    path("node-types/", views.NodeTypesView.as_view(), name="node-types"),
    path("auth/token/", views.obtain_token, name="obtain-token"),
    path("templates/", templates.TemplateListView.as_view(), name="template-list"),
    path("templates/<slug:slug>/", templates.TemplateDetailView.as_view(), name="template-detail"),
    path("templates/<slug:slug>/use/", templates.TemplateUseView.as_view(), name="template-use"),
    path("invitations/<str:token>/accept/", teams.accept_invitation, name="invitation-accept"),
    path("workflows/<int:pk>/publish/", triggers.PublishView.as_view(), name="workflow-publish"),
    path("workflows/<int:pk>/unpublish/", triggers.UnpublishView.as_view(), name="workflow-unpublish"),
    path("workflows/<int:pk>/triggers/", triggers.TriggerListView.as_view(), name="trigger-list"),
    path("workflows/<int:pk>/triggers/<int:tid>/", triggers.TriggerDetailView.as_view(), name="trigger-detail"),
    path("workflows/<int:pk>/triggers/<int:tid>/rotate/", triggers.TriggerRotateView.as_view(), name="trigger-rotate"),
    path("schedule-preview/", triggers.SchedulePreviewView.as_view(), name="schedule-preview"),
    path("tool-servers/", triggers.ToolServerListView.as_view(), name="tool-server-list"),
    path("tool-servers/<int:sid>/", triggers.ToolServerDetailView.as_view(), name="tool-server-detail"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularRedocView.as_view(url_name="schema"), name="docs"),
    path("", include(router.urls)),
    path("", include("evaluation.api_urls")),
]
