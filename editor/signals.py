from __future__ import annotations

from django.conf import settings
from django.db.models.signals import post_save
from django.dispatch import receiver

from .models import Membership, Team


@receiver(post_save, sender=settings.AUTH_USER_MODEL)
def create_personal_team(sender, instance, created: bool, **kwargs) -> None:
    """Every user has a personal team, so every workflow has a team."""
    if created:
        team = Team.objects.create(name=f"{instance.get_username()}'s team", personal_owner=instance)
        Membership.objects.create(team=team, user=instance, role=Membership.Role.OWNER)
