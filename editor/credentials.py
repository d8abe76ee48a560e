"""Where a team's secrets may go. A model credential goes only to its own base
URL, sent by the model-calling nodes; an http credential only to the hosts it
names. `credential_problems` refuses at save a graph that would send one
anywhere else; the engine checks again at run (engine/nodes/http.py)."""
from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from engine.graph import GraphError
from engine.hosts import host_allowed

from .models import Credential, Team

MODEL_NODES = ("llm", "classify", "agent")
_HOST = re.compile(r"^(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$|^\[?[0-9a-f:.]+\]?$")
PROVIDERS = {
    "api.openai.com": "OpenAI", "openrouter.ai": "OpenRouter", "api.groq.com": "Groq", "api.together.xyz": "Together",
    "api.mistral.ai": "Mistral", "api.deepseek.com": "DeepSeek", "generativelanguage.googleapis.com": "Gemini",
    "api.anthropic.com": "Anthropic", "api.fireworks.ai": "Fireworks",
}


def normalize_host(host: str) -> str:
    from rest_framework.serializers import ValidationError

    host = host.strip().lower().rstrip(".")
    if not _HOST.match(host):
        raise ValidationError(f"{host!r} is not a hostname; give names such as api.github.com or *.example.com, without scheme or path")
    return host


def provider_of(credential: Credential) -> str:
    if credential.kind == Credential.Kind.HTTP:
        return "HTTP"
    host = (urlsplit(credential.base_url).hostname or "") if credential.base_url else "api.openai.com"
    if host.endswith(".openai.azure.com"):
        return "Azure OpenAI"
    if host in ("localhost", "127.0.0.1", "::1"):
        return "Local (Ollama, vLLM, LM Studio …)"
    return PROVIDERS.get(host, host or "OpenAI-compatible")


def _literal_host(url: Any) -> str | None:
    """The host of a URL that has no template in its scheme or host, else None (known only at run)."""
    if not isinstance(url, str):
        return None
    head = url.split("/", 3)[:3]
    if "{{" in "/".join(head) or "{%" in "/".join(head):
        return None
    from engine.net import host_of

    return host_of(url)


def credential_problems(graph: Any, team: Team) -> list[GraphError]:
    if not isinstance(graph, dict):
        return []
    named = [(n, n["config"]["credential"]) for n in graph.get("nodes", []) if isinstance(n, dict) and isinstance(n.get("config"), dict)
             and isinstance(n["config"].get("credential"), str) and n["config"]["credential"]]
    if not named:
        return []
    kinds = {c.name: c for c in Credential.objects.filter(team=team, name__in={name for _, name in named})}
    problems = []
    for node, name in named:
        credential = kinds.get(name)
        if credential is None:
            continue  # missing: a warning's business at run ("add it under Credentials")
        node_id = node.get("id")
        if node.get("type") == "http" and credential.kind == Credential.Kind.MODEL:
            problems.append(GraphError(
                "credential_kind", f"node '{node_id}': '{name}' is a model credential; it is sent only to its own base URL by llm, "
                "classify and agent nodes, never by an http node. Add an http credential naming the hosts it may go to",
                node=node_id, field="config.credential"))
        elif node.get("type") in MODEL_NODES and credential.kind == Credential.Kind.HTTP:
            problems.append(GraphError(
                "credential_kind", f"node '{node_id}': '{name}' is an http credential; pick a model credential (it has a base URL)",
                node=node_id, field="config.credential"))
        elif node.get("type") == "http":
            host = _literal_host(node["config"].get("url"))
            if host is not None and not host_allowed(host, credential.allowed_hosts):
                problems.append(GraphError(
                    "credential_host", f"node '{node_id}': the credential '{name}' may be sent only to {', '.join(credential.allowed_hosts)}, "
                    f"not to {host}; change the URL or the credential's allowed hosts", node=node_id, field="config.url"))
    return problems
