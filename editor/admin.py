"""The Django admin (/admin/, for staff users): teams, members, invitations,
activity, workflows and credentials — a credential's key is never shown."""
from __future__ import annotations

from django.contrib import admin

from .models import Activity, Credential, Invitation, Membership, Team, Workflow


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    raw_id_fields = ["user"]


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "personal_owner", "created_at"]
    search_fields = ["name"]
    inlines = [MembershipInline]


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ["id", "team", "role", "email", "created_by", "expires_at", "accepted_by", "revoked_at"]
    exclude = ["token"]
    readonly_fields = ["accepted_at", "accepted_by"]


@admin.register(Activity)
class ActivityAdmin(admin.ModelAdmin):
    list_display = ["at", "team", "actor", "action", "summary"]
    list_filter = ["action"]

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # the log records what happened; nobody edits it


@admin.register(Workflow)
class WorkflowAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "team", "updated_at"]
    search_fields = ["name"]


@admin.register(Credential)
class CredentialAdmin(admin.ModelAdmin):
    list_display = ["id", "team", "name", "kind", "base_url", "updated_at"]
    exclude = ["encrypted_api_key"]
    readonly_fields = ["kind"]

    def has_add_permission(self, request) -> bool:
        return False  # a key goes in through the Credentials page or the API, encrypted
