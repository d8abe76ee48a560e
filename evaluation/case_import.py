"""Cases from a file or pasted text: CSV, JSON Lines, or a JSON list.

Every problem is reported with the line it is on and the field it is about
(`line 4, expected: …`), all of them at once, so a person fixes the file in
one go; nothing is added unless every row is good (the caller adds them in
one transaction).

CSV columns: `expected`, `rubric` and `tags` (separated by `;`) are the
case's own fields; `input` holds a whole input object as JSON; any other
column is one field of the input (an `input.` prefix is optional, so
`input.topic` and `topic` are the same column). A cell that starts with `{`
or `[` is read as JSON; an input field the dataset's `input_schema` types as
a number, an integer or a boolean is converted; an empty cell is left out.
"""
from __future__ import annotations

import csv
import io
import json
from typing import Any

from . import services

FORMATS = ("csv", "jsonl", "json")
MAX_BYTES = 2 * 1024 * 1024
MAX_ROWS = services.MAX_CASES_AT_ONCE
MAX_ERRORS = 20  # listed; the rest are counted
CASE_COLUMNS = {"expected", "rubric", "tags"}


class ImportProblems(Exception):
    def __init__(self, errors: list[str]):
        shown = errors[:MAX_ERRORS]
        if len(errors) > MAX_ERRORS:
            shown.append(f"… and {len(errors) - MAX_ERRORS} more problems")
        super().__init__("; ".join(shown))
        self.errors = shown


def format_of(filename: str, given: str | None) -> str | None:
    """The format named by the caller, else by the file's extension."""
    if given:
        return given.lower() if given.lower() in FORMATS else None
    extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    return {"csv": "csv", "jsonl": "jsonl", "ndjson": "jsonl", "json": "json"}.get(extension)


def parse(text: str, kind: str, input_schema: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The case documents in `text`, checked; raises ImportProblems naming each bad line and field."""
    rows = {"csv": _csv_rows, "jsonl": _jsonl_rows, "json": _json_rows}[kind](text, input_schema)
    errors: list[str] = []
    cases = []
    for line, case, problems in rows:
        if len(cases) >= MAX_ROWS:
            raise ImportProblems([f"line {line}: more than {MAX_ROWS} cases in one import; split the file"])
        errors += problems
        if not problems:
            errors += [_at_line(line, e) for e in services.check_case(case, "case", input_schema)]
        cases.append(case)
    if errors:
        raise ImportProblems(errors)
    if not cases:
        raise ImportProblems(["the file holds no cases" + (" (only a header row)" if kind == "csv" and text.strip() else "")])
    return cases


def _at_line(line: int, error: str) -> str:
    # check_case says "case.input.topic: …"; here the line is the better address.
    return f"line {line}, {error.removeprefix('case.')}" if error.startswith("case.") else f"line {line}: {error.removeprefix('case: ')}"


def _jsonl_rows(text: str, input_schema):
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            yield number, json.loads(raw), []
        except json.JSONDecodeError as exc:
            yield number, None, [f"line {number}: not valid JSON ({exc.msg} at column {exc.colno})"]


def _json_rows(text: str, input_schema):
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        yield exc.lineno, None, [f"line {exc.lineno}: not valid JSON ({exc.msg} at column {exc.colno})"]
        return
    items = data if isinstance(data, list) else [data]
    # json.loads keeps no positions; each item's line is found by re-reading
    # the text with the decoder item by item.
    for index, (item, line) in enumerate(zip(items, _item_lines(text, data))):
        yield line, item, []


def _item_lines(text: str, data: Any) -> list[int]:
    if not isinstance(data, list):
        return [1]
    decoder, lines, position = json.JSONDecoder(), [], text.index("[") + 1
    for _ in data:
        while text[position] in " \t\r\n,":
            position += 1
        lines.append(text.count("\n", 0, position) + 1)
        _, position = decoder.raw_decode(text, position)
    return lines


def _csv_rows(text: str, input_schema):
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None:
        return
    columns = [name.strip() for name in header]
    problems = _header_problems(columns)
    if problems:
        yield 1, None, problems
        return
    types = _property_types(input_schema)
    start = reader.line_num + 1
    for cells in reader:
        line, start = start, reader.line_num + 1
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) > len(columns):
            yield line, None, [f"line {line}: {len(cells)} cells but the header names {len(columns)} columns"]
            continue
        yield (line, *_csv_case(line, dict(zip(columns, cells)), types))


def _header_problems(columns: list[str]) -> list[str]:
    problems = []
    if any(not name for name in columns):
        problems.append("line 1: a column has no name; the first row names the columns (e.g. topic,expected)")
    fields = [_input_field(name) for name in columns if name not in CASE_COLUMNS and name != "input"]
    twice = sorted({f for f in fields if fields.count(f) > 1})
    if twice:
        problems.append(f"line 1: column {twice[0]!r} appears twice")
    if "input" in columns and fields:
        problems.append(f"line 1: an `input` column (a JSON object) and input field columns ({', '.join(fields[:3])}) cannot be mixed")
    if "input" not in columns and not fields:
        problems.append("line 1: no input column; name one column per input field (e.g. topic) or one `input` column of JSON objects")
    return problems


def _input_field(column: str) -> str:
    return column.removeprefix("input.")


def _property_types(schema: dict[str, Any] | None) -> dict[str, str]:
    properties = (schema or {}).get("properties") or {}
    return {name: spec.get("type") for name, spec in properties.items() if isinstance(spec, dict) and isinstance(spec.get("type"), str)}


def _csv_case(line: int, row: dict[str, str], types: dict[str, str]) -> tuple[dict[str, Any], list[str]]:
    case: dict[str, Any] = {"input": {}}
    problems: list[str] = []

    def cell(column: str, text: str, type_name: str | None = None) -> Any:
        stripped = text.strip()
        if stripped.startswith(("{", "[")):
            try:
                return json.loads(stripped)
            except json.JSONDecodeError as exc:
                problems.append(f"line {line}, {column}: starts like JSON but is not valid JSON ({exc.msg}); quote it as text or fix it")
                return None
        try:
            if type_name == "integer":
                return int(stripped)
            if type_name == "number":
                return float(stripped) if any(c in stripped for c in ".eE") else int(stripped)
        except ValueError:
            article = "an" if type_name == "integer" else "a"
            problems.append(f"line {line}, {column}: {stripped!r} is not {article} {type_name} (the dataset's input_schema)")
            return None
        if type_name == "boolean":
            if stripped.lower() not in ("true", "false"):
                problems.append(f"line {line}, {column}: {stripped!r} is not true or false (the dataset's input_schema)")
            return stripped.lower() == "true"
        return text

    for column, text in row.items():
        if not text.strip():
            continue
        if column == "tags":
            case["tags"] = [tag.strip() for tag in text.split(";") if tag.strip()]
        elif column == "rubric":
            case["rubric"] = text
        elif column == "expected":
            case["expected"] = cell(column, text)
        elif column == "input":
            case["input"] = cell(column, text)
            if not isinstance(case["input"], dict) and not problems:
                problems.append(f"line {line}, input: must be a JSON object such as {{\"topic\": \"…\"}}")
        else:
            field = _input_field(column)
            case["input"][field] = cell(f"input.{field}", text, types.get(field))
    return case, problems
