"""Conversations: each message a run with conversation.history/state/summary in
scope; a `remember` node updates what the conversation keeps."""
from __future__ import annotations

import time

from editor import services
from editor.models import Conversation
from tests.conftest import wait_for_run

CHAT = {
    "format": "orchestrator.workflow/v1", "name": "Echo chat",
    "inputs": {"type": "object", "properties": {"message": {"type": "string"}}, "required": ["message"]},
    "nodes": [
        {"id": "start", "type": "start"},
        {"id": "reply", "type": "transform", "config": {"value": "turn {{ conversation.turn }}: you said {{ input.message }}; before: {{ conversation.history | map(attribute='content') | join(' | ') }}"}},
        {"id": "keep", "type": "remember", "config": {"state": {"last": "{{ input.message }}", "count": "{{ conversation.turn }}"},
                                                       "summary": "{{ conversation.summary }} [{{ input.message }}]", "keep_last": 4}},
        {"id": "out", "type": "output", "config": {"value": {"reply": "{{ nodes.reply.output }}"}}},
    ],
    "edges": [{"source": "start", "target": "reply"}, {"source": "reply", "target": "keep"}, {"source": "keep", "target": "out"}],
}


def chat(personas, client):
    workflow = services.create_workflow(team=personas["acme"], user=personas["alice"], graph=CHAT)
    response = client.post("/api/conversations/", {"workflow": workflow.pk}, format="json")
    assert response.status_code == 201, response.content
    return response.json()["id"]


def say(client, conversation_id: int, text: str):
    response = client.post(f"/api/conversations/{conversation_id}/messages/", {"text": text}, format="json")
    assert response.status_code == 201, response.content
    return wait_for_run(response.json()["id"])


def test_each_message_sees_the_history_and_updates_the_memory(worker, personas, client_for):
    client = client_for(personas["bob"])
    conversation_id = chat(personas, client)
    first = say(client, conversation_id, "hello")
    assert first.output == {"reply": "turn 1: you said hello; before: "}
    second = say(client, conversation_id, "again")
    assert second.output["reply"] == "turn 2: you said again; before: hello | turn 1: you said hello; before: "
    data = client.get(f"/api/conversations/{conversation_id}/").json()
    assert data["turns"] == 2 and data["state"] == {"last": "again", "count": 2}
    assert data["summary"].strip() == "[hello] [again]"
    for word in ("three", "four"):
        say(client, conversation_id, word)
    history = Conversation.objects.get(pk=conversation_id).history
    assert len(history) == 4 and history[0]["content"] == "three"  # keep_last trimmed what the summary covers


def test_a_workflow_without_a_message_input_cannot_chat(personas, client_for, db):
    graph = {**CHAT, "inputs": {"type": "object", "properties": {"topic": {"type": "string"}}}}
    graph["nodes"] = [n for n in CHAT["nodes"] if n["id"] in ("start", "out")]
    graph["nodes"][1] = {"id": "out", "type": "output", "config": {"value": "x"}}
    graph["edges"] = [{"source": "start", "target": "out"}]
    workflow = services.create_workflow(team=personas["acme"], user=personas["alice"], graph=graph)
    response = client_for(personas["alice"]).post("/api/conversations/", {"workflow": workflow.pk}, format="json")
    assert response.status_code == 400 and "inputs need a `message` property" in response.json()["error"]


def test_rights_and_bad_messages(worker, personas, client_for, settings):
    conversation_id = chat(personas, client_for(personas["alice"]))
    assert client_for(personas["mallory"]).get(f"/api/conversations/{conversation_id}/").status_code == 404
    assert client_for(personas["carol"]).post(f"/api/conversations/{conversation_id}/messages/", {"text": "hi"}, format="json").status_code == 403
    empty = client_for(personas["alice"]).post(f"/api/conversations/{conversation_id}/messages/", {"text": "  "}, format="json")
    assert empty.status_code == 400 and "text" in empty.json()["error"]


def test_one_message_at_a_time(worker, personas, client_for, settings):
    settings.OPENAI_API_KEY = ""
    settings.DEMO_TOKEN_DELAY_MS = 30
    graph = {**CHAT, "nodes": [CHAT["nodes"][0], {"id": "reply", "type": "llm", "config": {"prompt": "{{ input.message }}"}},
                               {"id": "out", "type": "output", "config": {"value": "{{ nodes.reply.output }}"}}],
             "edges": [{"source": "start", "target": "reply"}, {"source": "reply", "target": "out"}]}
    client = client_for(personas["alice"])
    workflow = services.create_workflow(team=personas["acme"], user=personas["alice"], graph=graph)
    conversation_id = client.post("/api/conversations/", {"workflow": workflow.pk}, format="json").json()["id"]
    first = client.post(f"/api/conversations/{conversation_id}/messages/", {"text": "write something long"}, format="json")
    busy = client.post(f"/api/conversations/{conversation_id}/messages/", {"text": "and this"}, format="json")
    assert busy.status_code == 409 and "still being written" in busy.json()["error"]
    run = wait_for_run(first.json()["id"])
    history = Conversation.objects.get(pk=conversation_id).history
    assert [m["role"] for m in history] == ["user", "assistant"] and history[1]["content"] == run.output


def test_the_chat_page_shows_the_conversation(worker, personas, client_for, client):
    api = client_for(personas["alice"])
    conversation_id = chat(personas, api)
    say(api, conversation_id, "hello there")
    client.force_login(personas["alice"])
    page = client.get(f"/conversations/{conversation_id}/").content.decode()
    assert "hello there" in page and "Echo chat" in page
    assert "Chat with Echo chat" in client.get("/").content.decode()
    client.force_login(personas["mallory"])
    assert client.get(f"/conversations/{conversation_id}/").status_code == 404


def test_an_owner_that_lost_the_run_writes_nothing_to_the_conversation(personas, client_for, transactional_db, monkeypatch):
    """The turn's messages are written with the run's end, under its lease: an
    owner whose run was taken over just before it finished adds no message
    (the new owner adds them, once)."""
    from editor.models import Run
    from engine.runner import RunExecutor

    client = client_for(personas["alice"])
    conversation = Conversation.objects.get(pk=chat(personas, client))
    # Created as send_message does, without queueing it: this test is the worker.
    run = Run.objects.create(graph=CHAT, team=personas["acme"], input={"message": "hello"}, trigger="chat", conversation=conversation)
    real_output = RunExecutor._run_output

    def taken_over_meanwhile(self):
        Run.objects.filter(pk=self.run.pk).update(owner="another-worker/1", epoch=self.lease.epoch + 1)
        return real_output(self)

    monkeypatch.setattr(RunExecutor, "_run_output", taken_over_meanwhile)
    assert RunExecutor(run.pk).execute() is None  # it stopped: not its run any more
    conversation.refresh_from_db()
    assert conversation.history == [] and conversation.turns == 0
    assert Run.objects.get(pk=run.pk).status == "running"
    monkeypatch.setattr(RunExecutor, "_run_output", real_output)
    Run.objects.filter(pk=run.pk).update(owner="", lease_until=None)  # the new owner let go (say): the run is taken again
    assert RunExecutor(run.pk).execute() == "succeeded"
    conversation.refresh_from_db()
    assert [m["content"] for m in conversation.history] == ["hello", "turn 1: you said hello; before: "]
    assert conversation.turns == 1
