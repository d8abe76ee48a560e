"""Finding workflows: search, sort and filter by tag (the workflow list page and
`GET /api/workflows/`), the rules for tags, and distinct names for copies.

Tags live in a JSON list on the workflow. Filtering by one is done here in
Python rather than in SQL because SQLite has no JSON-array "contains"; a
user's list of workflows is small (it is rendered as one page), so this costs
nothing that matters and behaves the same on PostgreSQL."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable

from django.db.models import Count, Q, QuerySet
from django.db.models.functions import Lower

from .models import Run, Trigger, Workflow, WorkflowVersion

TAG_MAX_LENGTH = 32
TAGS_MAX = 12
NAME_MAX_LENGTH = 200  # Workflow.name; the inputs where a name is typed say the same
_TAG = re.compile(r"^[\w][\w .+-]*$")  # letters (any script), digits, _, space, . + -

# ?sort= values: a leading minus means descending, as in the API's other orderings.
SORTS = {
    "-updated": ("-updated_at", "pk"),
    "updated": ("updated_at", "pk"),
    "name": (Lower("name").asc(), "pk"),
    "-name": (Lower("name").desc(), "pk"),
}
SORT_LABELS = {"-updated": "Recently updated", "updated": "Least recently updated", "name": "Name A–Z", "-name": "Name Z–A"}
DEFAULT_SORT = "-updated"


class TagError(ValueError):
    """A tag list that cannot be stored; the message says which tag and why."""


class QueryError(ValueError):
    """A list parameter we cannot use: `field` names it, the message says why."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def clean_tags(raw: Any) -> list[str]:
    """Tags as stored: trimmed, lower-case, duplicates dropped, order kept."""
    if not isinstance(raw, list):
        raise TagError(f"must be a list of tags, e.g. [\"support\", \"prod\"], not {type(raw).__name__}")
    tags: list[str] = []
    for item in raw:
        if not isinstance(item, str):
            raise TagError(f"each tag is a text, not {item!r}")
        tag = " ".join(item.split()).lower()
        if not tag:
            continue
        if len(tag) > TAG_MAX_LENGTH:
            raise TagError(f"the tag {tag[:40]!r}… is longer than {TAG_MAX_LENGTH} characters")
        if not _TAG.match(tag):
            raise TagError(f"the tag {tag!r} may hold only letters, digits, spaces and _ . + -")
        if tag not in tags:
            tags.append(tag)
    if len(tags) > TAGS_MAX:
        raise TagError(f"at most {TAGS_MAX} tags per workflow, not {len(tags)}")
    return tags


@dataclass(frozen=True)
class ListQuery:
    """What the user asked the list for: ?q= (name or description), ?tag=, ?sort=."""

    q: str = ""
    tag: str = ""
    sort: str = DEFAULT_SORT

    @classmethod
    def from_params(cls, params) -> "ListQuery":
        """Raises QueryError when ?sort= is not one we know."""
        sort = params.get("sort") or DEFAULT_SORT
        if sort not in SORTS:
            raise QueryError("sort", f"must be one of {', '.join(SORTS)}, not {sort!r}")
        return cls(q=(params.get("q") or "").strip()[:200], tag=" ".join((params.get("tag") or "").split()).lower()[:TAG_MAX_LENGTH], sort=sort)


def find_workflows(workflows: QuerySet, query: ListQuery) -> list[Workflow]:
    """The workflows matching the query, in its order."""
    if query.q:
        workflows = workflows.filter(Q(name__icontains=query.q) | Q(description__icontains=query.q))
    found = list(workflows.order_by(*SORTS[query.sort]))
    if query.tag:
        found = [w for w in found if query.tag in (w.tags or [])]
    return found


def all_tags(workflows: Iterable[Workflow]) -> list[str]:
    """Every tag used by these workflows, A–Z: the tag filter's choices."""
    return sorted({tag for w in workflows for tag in (w.tags or [])})


def what_delete_takes(workflows: list[Workflow]) -> None:
    """Sets `version_count`, `run_count` and `trigger_count` on each workflow:
    what deleting it deletes with it, said in the confirmation. Counted per
    relation (three small grouped queries) rather than in one annotate, whose
    joins would multiply the rows."""
    ids = [w.pk for w in workflows]

    def counts(model, **extra) -> dict[int, int]:
        rows = model.objects.filter(workflow_id__in=ids, **extra).values("workflow_id").annotate(n=Count("pk"))
        return {row["workflow_id"]: row["n"] for row in rows}

    versions, runs, triggers = counts(WorkflowVersion), counts(Run), counts(Trigger)
    for w in workflows:
        w.version_count, w.run_count, w.trigger_count = versions.get(w.pk, 0), runs.get(w.pk, 0), triggers.get(w.pk, 0)


def distinct_name(team_id: int, name: str, exclude: int | None = None) -> str:
    """`name`, or "name (2)", "name (3)", … when the team already has a
    workflow called that: an imported or duplicated copy is told apart from
    its original in the list."""
    name = name.strip()[:NAME_MAX_LENGTH] or "Untitled workflow"
    taken = set(Workflow.objects.filter(team_id=team_id).exclude(pk=exclude).values_list(Lower("name"), flat=True))
    if name.lower() not in taken:
        return name
    base = re.sub(r" \(\d+\)$", "", name)
    number = 2
    while True:
        suffix = f" ({number})"
        candidate = base[: NAME_MAX_LENGTH - len(suffix)] + suffix
        if candidate.lower() not in taken:
            return candidate
        number += 1
