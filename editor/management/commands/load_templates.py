from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from editor import services
from editor.models import Workflow
from editor.workflow_templates import all_templates


class Command(BaseCommand):
    help = "Create a workflow from each shipped template in a user's personal team (skips ones already there)."

    def add_arguments(self, parser):
        parser.add_argument("--user", default="demo", help="Username whose personal team gets the templates.")

    def handle(self, *args, user: str, **options):
        owner = get_user_model().objects.filter(username=user).first()
        if owner is None:
            raise CommandError(f"no user named '{user}'; create it first (make run creates 'demo')")
        team = owner.personal_team
        created = 0
        for template in all_templates():
            if Workflow.objects.filter(team=team, template_slug=template["slug"]).exists():
                continue
            workflow = services.create_workflow(team=team, user=owner, graph=template["graph"], message="From the template gallery")
            Workflow.objects.filter(pk=workflow.pk).update(template_slug=template["slug"])
            created += 1
        self.stdout.write(f"templates: {created} created in team '{team.name}'")
