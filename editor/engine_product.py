"""The editor's side of engine/product.py: what the engine may ask of the
product's objects. Registered in EditorConfig.ready()."""
from __future__ import annotations

import json
from django.db import transaction
from django.utils import timezone

from engine.product import CredentialInfo, ProductError, WorkflowInfo


def _info(workflow, version) -> WorkflowInfo:
    return WorkflowInfo(id=workflow.pk, name=workflow.name, description=workflow.description,
                        version_id=version.pk if version else None, version_number=version.number if version else None,
                        graph=version.graph if version else None)


class EditorProduct:
    def credential(self, team_id, name):
        from .models import Credential

        found = Credential.objects.filter(team_id=team_id, name=name).first()
        if found is None:
            return None
        return CredentialInfo(kind=found.kind, base_url=found.base_url, default_model=found.default_model, api_key=found.get_api_key(),
                              allowed_hosts=tuple(found.allowed_hosts or ()))

    def workflow(self, team_id, workflow_id, version):
        from .models import Workflow

        workflow = Workflow.objects.filter(pk=workflow_id, team_id=team_id).first()
        if workflow is None:
            return None
        found = workflow.versions.filter(number=version).first() if version else workflow.latest_version
        return _info(workflow, found)

    def workflows(self, team_id, ids):
        from .models import Workflow

        return [_info(w, w.latest_version) for w in Workflow.objects.filter(pk__in=ids, team_id=team_id)]

    def start_child_run(self, *, parent_run_id, workflow, graph, run_input, node, key):
        from .models import Run, Workflow, WorkflowVersion
        from .services import ServiceError, start_run

        parent = Run.objects.get(pk=parent_run_id)
        wf = Workflow.objects.get(pk=workflow.id)
        version = WorkflowVersion.objects.get(pk=workflow.version_id)
        try:
            child = start_run(workflow=wf, version=version, graph=graph, team=wf.team, user=parent.triggered_by,
                              run_input=run_input, trigger="subworkflow",
                              parent={"parent_run": parent, "parent_node": node, "parent_key": key, "depth": parent.depth + 1})
        except ServiceError as exc:
            raise ProductError(exc.message) from exc
        return child.pk

    def tool_server(self, team_id, name):
        from engine.product import ToolServerInfo

        from .models import ToolServer

        found = ToolServer.objects.filter(team_id=team_id, name=name).first()
        return ToolServerInfo(name=found.name, url=found.url, headers=found.get_headers()) if found else None

    def cancel_run(self, run_id):
        from .models import Run
        from .services import ServiceError, cancel_run

        run = Run.objects.filter(pk=run_id).first()
        if run is None:
            return
        try:
            cancel_run(run)
        except ServiceError:
            pass  # already finished

    def conversation(self, conversation_id):
        from .models import Conversation

        found = Conversation.objects.filter(pk=conversation_id).first()
        if found is None:
            return None
        return {"history": found.history, "state": found.state, "summary": found.summary, "turns": found.turns}

    def record_turn(self, conversation_id, *, run_id, message, reply, updates):
        from .models import Conversation

        with transaction.atomic():
            conversation = Conversation.objects.select_for_update().get(pk=conversation_id)
            now = timezone.now().isoformat()
            conversation.history = conversation.history + [
                {"role": "user", "content": message, "run": run_id, "at": now},
                {"role": "assistant", "content": reply if isinstance(reply, str) else json.dumps(reply, default=str), "run": run_id, "at": now},
            ]
            for update in updates:
                conversation.state = {**conversation.state, **(update.get("state") or {})}
                if update.get("summary") is not None:
                    conversation.summary = update["summary"]
                if update.get("keep_last") is not None:
                    conversation.history = conversation.history[-update["keep_last"]:] if update["keep_last"] else []
            conversation.turns += 1
            conversation.updated_at = timezone.now()
            conversation.save()


def register() -> None:
    from engine.product import register as register_product

    register_product(EditorProduct())

