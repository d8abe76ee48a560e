"""`manage.py runworkflow FILE.json --input k=v`: validates, runs on the worker,
prints each step as it streams, exits non-zero on failure."""
from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

GRAPH = {
    "format": "orchestrator.workflow/v1", "name": "cli",
    "inputs": {"type": "object", "properties": {"topic": {"type": "string"}, "n": {"type": "integer"}}, "required": ["topic"]},
    "nodes": [{"id": "start", "type": "start"},
              {"id": "write", "type": "llm", "config": {"prompt": "About {{ input.topic }} x{{ input.n | default(1) }}"}},
              {"id": "out", "type": "output", "config": {"value": {"text": "{{ nodes.write.output }}", "n": "{{ input.n | default(1) }}"}}}],
    "edges": [{"source": "start", "target": "write"}, {"source": "write", "target": "out"}],
}


def write(tmp_path, graph) -> str:
    path = tmp_path / "flow.json"
    path.write_text(json.dumps(graph))
    return str(path)


def test_it_runs_on_the_worker_and_streams_the_steps(worker, tmp_path, settings):
    settings.OPENAI_API_KEY = ""
    settings.DEMO_TOKEN_DELAY_MS = 1
    out = io.StringIO()
    call_command("runworkflow", write(tmp_path, GRAPH), input=["topic=tides", "n=3"], stdout=out)
    text = out.getvalue()
    assert "• write [1] started (llm)" in text
    assert "write [1] ▸ [demo]" in text  # streamed tokens
    assert "✓ out [1]" in text and "run succeeded" in text
    assert '"n": 3' in text  # JSON values in --input keep their type


def test_a_failing_run_exits_non_zero(worker, tmp_path, fake_llm):
    from tests.fake_openai import Reply

    fake_llm.script.extend([Reply(status=401)])
    err = io.StringIO()
    with pytest.raises(SystemExit) as exit_:
        call_command("runworkflow", write(tmp_path, GRAPH), input=["topic=x"], stdout=io.StringIO(), stderr=err)
    assert exit_.value.code == 1
    assert "run failed" in err.getvalue() and "401" in err.getvalue()


def test_bad_files_and_inputs_are_refused_before_running(db, tmp_path):
    with pytest.raises(CommandError, match="no such file"):
        call_command("runworkflow", str(tmp_path / "missing.json"))
    (tmp_path / "broken.json").write_text("{nope")
    with pytest.raises(CommandError, match="not valid JSON"):
        call_command("runworkflow", str(tmp_path / "broken.json"))
    invalid = {**GRAPH, "edges": GRAPH["edges"] + [{"source": "out", "target": "ghost"}]}
    with pytest.raises(CommandError, match="problem"):
        call_command("runworkflow", write(tmp_path, invalid), stderr=io.StringIO())
    with pytest.raises(CommandError, match="input.topic: required input is missing"):
        call_command("runworkflow", write(tmp_path, GRAPH))
    with pytest.raises(CommandError, match="key=value"):
        call_command("runworkflow", write(tmp_path, GRAPH), input=["topic"])
