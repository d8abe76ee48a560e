from __future__ import annotations

import os

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create the demo user (and its personal team) if missing, and load the templates for it."

    def handle(self, *args, **options):
        username = os.environ.get("DEMO_USER", "demo")
        password = os.environ.get("DEMO_PASSWORD", "demo-password")
        User = get_user_model()
        user = User.objects.filter(username=username).first()
        if user is None:
            user = User.objects.create_user(username=username, password=password)
            self.stdout.write(f"created user '{username}'")
        call_command("load_templates", user=username, stdout=self.stdout)
        port = os.environ.get("PORT", "8000")
        self.stdout.write(self.style.SUCCESS(f"Sign in at http://127.0.0.1:{port}/ as  {username} / {password}"))
