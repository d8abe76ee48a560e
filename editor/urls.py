from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import path

from . import gallery, pages

urlpatterns = [
    path("login/", auth_views.LoginView.as_view(template_name="login.html"), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", pages.workflow_list, name="workflow-list"),
    path("workflows/<int:pk>/", pages.workflow_page, name="workflow"),
    path("workflows/new/", pages.workflow_new, name="workflow-new"),
    path("runs/<int:pk>/", pages.run_page, name="run"),
    path("runs/<int:pk>/answer/", pages.answer_page, name="run-answer"),
    path("workflows/<int:pk>/chat/", pages.chat_start, name="chat-start"),
    path("conversations/<int:pk>/", pages.chat_page, name="chat"),
    path("templates/", gallery.gallery, name="template-gallery"),
    path("templates/<slug:slug>/use/", gallery.use, name="template-use-page"),
    path("invite/<str:token>/", pages.invite_page, name="invite"),
    path("teams/", pages.teams_page, name="teams"),
    path("teams/<int:pk>/", pages.teams_page, name="team"),
    path("teams/<int:pk>/credentials/", pages.credentials_page, name="team-credentials"),
    path("healthz", pages.healthz, name="healthz"),
]
