from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from editor import services
from editor.models import Workflow
from editor.workflow_templates import all_templates, resolve_references


class Command(BaseCommand):
    help = "Create a workflow from each shipped template in a user's personal team (skips ones already there)."

    def add_arguments(self, parser):
        parser.add_argument("--user", default="demo", help="Username whose personal team gets the templates.")

    def handle(self, *args, user: str, **options):
        owner = get_user_model().objects.filter(username=user).first()
        if owner is None:
            raise CommandError(f"no user named '{user}'; create it first (make run creates 'demo')")
        team = owner.personal_team
        before = Workflow.objects.filter(team=team).count()
        for template in all_templates():
            if Workflow.objects.filter(team=team, template_slug=template["slug"]).exists():
                continue
            # Templates it calls become workflows of the team first (or are reused).
            graph = resolve_references(template["graph"], team=team, user=owner, calling=(template["slug"],))
            workflow = services.create_workflow(team=team, user=owner, graph=graph, message="From the template gallery")
            Workflow.objects.filter(pk=workflow.pk).update(template_slug=template["slug"])
        created = Workflow.objects.filter(team=team).count() - before
        self.stdout.write(f"templates: {created} created in team '{team.name}'")
