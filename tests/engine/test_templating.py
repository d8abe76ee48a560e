"""engine/templating.py: typed whole expressions, strict undefined names,
the sandbox, and the references validation reads."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine import templating
from engine.errors import TemplateError
from engine.templating import MAX_OUTPUT_CHARS, Scope, check_syntax, evaluate, node_references, render

ROOT = Path(__file__).resolve().parents[2]


def scope(input=None, nodes=None, vars=None, **extra):
    """A template scope shaped like Scheduler.context() builds it."""
    return {
        "input": Scope("input", input or {}),
        "nodes": Scope("nodes", {k: Scope(f"nodes.{k}", {"output": v}) for k, v in (nodes or {}).items()}),
        "vars": Scope("vars", vars or {}),
        "run": Scope("run", {"id": 1}),
        **extra,
    }


def fails(value, context, **where):
    with pytest.raises(TemplateError) as caught:
        render(value, context, **where)
    return caught.value


# --------------------------------------------------------------------------- types


@pytest.mark.parametrize(
    "source, expected",
    [
        ("{{ nodes.plan.output.subtasks }}", [{"t": "a"}, {"t": "b"}]),
        ("{{ nodes.plan.output.subtasks | length }}", 2),
        ("{{ nodes.plan.output }}", {"subtasks": [{"t": "a"}, {"t": "b"}]}),
        ("{{ input.n > 3 }}", True),
        ("  {{ input.n * 2 }}\n", 10),
        ("{{ none }}", None),
    ],
)
def test_a_whole_expression_keeps_its_type(source, expected):
    context = scope(input={"n": 5}, nodes={"plan": {"subtasks": [{"t": "a"}, {"t": "b"}]}})
    result = render(source, context)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize(
    "source, expected",
    [
        ("n = {{ input.n }}", "n = 5"),
        ("{{ input.n }}{{ input.n }}", "55"),
        ("{{ input.n }} and {{ input.n }}", "5 and 5"),
        ("{% if input.n %}{{ input.n }}{% endif %}", "5"),
        ("no braces at all", "no braces at all"),
    ],
)
def test_text_mixed_with_templates_renders_a_string(source, expected):
    assert render(source, scope(input={"n": 5})) == expected


def test_lists_and_dicts_are_walked_and_keep_types():
    value = {"code": "{{ input.n }}", "text": "n={{ input.n }}", "list": ["{{ input.n > 1 }}", 7], "raw": 1.5}
    assert render(value, scope(input={"n": 5})) == {"code": 5, "text": "n=5", "list": [True, 7], "raw": 1.5}


def test_json_filters():
    assert render("{{ input | json }}", scope(input={"a": [1]})) == '{"a": [1]}'
    assert render("{{ '[1, 2]' | fromjson }}", scope()) == [1, 2]


# --------------------------------------------------------------------------- undefined names


def test_undefined_node_output_names_node_field_and_the_full_dotted_name():
    err = fails("Feedback: {{ nodes.evaluate.output }}", scope(), node="generate", field="prompt")
    assert err.node == "generate" and err.field == "prompt"
    assert "node 'generate', field 'prompt'" in err.message
    assert "'nodes.evaluate.output'" in err.message
    assert "| default(...)" in err.message


def test_undefined_name_in_a_whole_expression_is_an_error_not_none():
    err = fails("{{ nodes.evaluate.output }}", scope(), node="done", field="value")
    assert "'nodes.evaluate.output'" in err.message


def test_undefined_input_is_named():
    err = fails("{{ input.topic }}", scope(input={"other": 1}), node="outline", field="prompt")
    assert "'input.topic'" in err.message


def test_undefined_variable_is_named():
    err = fails("x{{ vars.count + 1 }}", scope(), node="t", field="value")
    assert "'vars.count'" in err.message


def test_undefined_in_a_nested_list_field_names_the_path():
    err = fails({"a": ["ok", "{{ input.missing }}"]}, scope(), node="out", field="value")
    assert err.field == "value.a[1]"


def test_missing_attribute_of_a_value_says_what_value():
    err = fails("{{ input.spec.heading }}", scope(input={"spec": "text"}), node="n", field="f")
    assert "heading (on a str value)" in err.message


@pytest.mark.parametrize(
    "source, expected",
    [
        ("{{ nodes.evaluate.output | default('none') }}", "none"),
        ("Feedback: {{ nodes.evaluate.output | default('none') }}", "Feedback: none"),
        ("{{ nodes.evaluate.output.deeper.still | default(0) }}", 0),
        ("{{ nodes.evaluate.output is defined }}", False),
        ("{{ nodes.generate.output is defined }}", True),
        ("{{ input.a.b is defined }}", False),
        ("{% if nodes.evaluate is defined %}yes{% else %}no{% endif %}", "no"),
    ],
)
def test_default_and_is_defined_work_on_missing_nested_paths(source, expected):
    assert render(source, scope(nodes={"generate": "code"})) == expected


# --------------------------------------------------------------------------- sandbox


@pytest.mark.parametrize(
    "source",
    [
        "{{ ().__class__.__mro__ }}",
        "{{ ().__class__.__mro__[1].__subclasses__() }}",
        "x {{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ input.__class__ }}",
        "{{ run.__init__.__globals__ }}",
        "{{ (lambda: 1) }}",
    ],
)
def test_the_sandbox_refuses_python_internals(source):
    with pytest.raises(TemplateError):
        result = render(source, scope(), node="n", field="f")
        pytest.fail(f"rendered {result!r}")


def test_the_sandbox_is_immutable():
    context = scope(vars={"items": [1]})
    fails("{{ vars['items'].append(2) }}", context, node="n", field="f")
    assert context["vars"]["items"] == [1]


@pytest.mark.parametrize("source", ["{{ ().__class__ }}", "{{ vars['items'].append(2) }}"])
def test_a_refused_attribute_says_it_is_not_allowed(source):
    err = fails(source, scope(vars={"items": [1]}), node="n", field="f")
    assert "not allowed" in err.message
    assert "default(" not in err.message


@pytest.mark.parametrize("source", ["{{ range(10**9) | list }}", "x{% for i in range(10**9) %}{% endfor %}"])
def test_huge_ranges_are_refused(source):
    err = fails(source, scope(), node="n", field="f")
    assert "range" in err.message.lower()


def test_rendered_text_is_bounded():
    err = fails("x{{ 'y' * " + str(MAX_OUTPUT_CHARS) + " }}", scope(), node="n", field="f")
    assert "over the limit" in err.message and err.node == "n" and err.field == "f"
    # just under the limit is fine
    assert len(render("{{ 'y' * 10 }}" + "z" * 100, scope())) == 110


def test_a_whole_expression_value_is_bounded_too():
    with pytest.raises(TemplateError, match="over the limit"):
        render("{{ 'y' * " + str(MAX_OUTPUT_CHARS + 1) + " }}", scope(), node="n", field="f")


def test_rendering_time_is_bounded():
    # 10^10 empty iterations; a time bound would stop it with a TemplateError. Run in a child
    # process so the unbounded case can be killed.
    code = (
        "from engine import templating\n"
        "from engine.errors import TemplateError\n"
        "try:\n"
        "    templating.render('{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}', {}, node='n', field='f')\n"
        "except TemplateError:\n"
        "    print('bounded')\n"
    )
    try:
        env = dict(os.environ, TEMPLATE_MAX_SECONDS="0.3")
        done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=20, env=env)
    except subprocess.TimeoutExpired:
        pytest.fail("rendering ran for more than 20 s")
    assert done.stdout.strip() == "bounded"


# --------------------------------------------------------------------------- expressions


@pytest.mark.parametrize(
    "expression, expected",
    [
        ("nodes.evaluate.output.strip() == 'APPROVED'", True),
        ("nodes.outline.output | length > 20", False),
        ("input.n % 2 == 0", False),
        ("'x' in input.tags", True),
        ("vars.count | default(0) < 3", True),
        ("input.n", 5),
    ],
)
def test_expressions_evaluate_to_values(expression, expected):
    context = scope(input={"n": 5, "tags": ["x"]}, nodes={"evaluate": " APPROVED\n", "outline": "short"})
    assert evaluate(expression, context) == expected


def test_an_expression_with_an_undefined_name_names_it():
    with pytest.raises(TemplateError) as caught:
        evaluate("nodes.evaluate.output == 'APPROVED'", scope(), node="approved", field="expression")
    assert "node 'approved', field 'expression'" in caught.value.message
    assert "'nodes.evaluate.output'" in caught.value.message


def test_an_expression_that_is_only_an_undefined_name_fails():
    with pytest.raises(TemplateError, match="'vars.flag'"):
        evaluate("vars.flag", scope(), node="c", field="expression")


def test_a_runtime_error_in_an_expression_names_where():
    with pytest.raises(TemplateError) as caught:
        evaluate("input.n / 0", scope(input={"n": 1}), node="c", field="expression")
    assert caught.value.message.startswith("node 'c', field 'expression': ZeroDivisionError")


# --------------------------------------------------------------------------- syntax and references


def test_check_syntax():
    assert check_syntax("Hello {{ input.name }}") is None
    assert "syntax error on line 2" in check_syntax("ok\n{{ input.name ")
    assert check_syntax("a ==", expression=True) is not None
    assert check_syntax("a == 1", expression=True) is None
    assert check_syntax({"x": ["fine", "{% if %}"]}) is not None


def test_node_references_find_attribute_and_subscript_forms():
    source = "{{ nodes.plan.output }} {{ nodes['review'].output }} {% for r in nodes.collect.output %}{{ r }}{% endfor %} {{ input.nodes }}"
    assert node_references(source) == {"plan", "review", "collect"}


def test_node_references_in_expressions_and_nested_values():
    assert node_references("nodes.evaluate.output.strip() == 'OK'", expression=True) == {"evaluate"}
    assert node_references({"a": ["{{ nodes.x.output }}"], "b": "{{ nodes.y.output | default(1) }}"}) == {"x", "y"}


def test_node_references_ignore_dynamic_subscripts_and_bad_syntax():
    assert node_references("{{ nodes[input.which].output }}") == set()
    assert node_references("{{ nodes.x.output ") == set()


def test_whole_expression_detection():
    assert templating.whole_expression("{{ a }}") == " a "
    assert templating.whole_expression(" {{ a }} ") == " a "
    assert templating.whole_expression("{{ a }} {{ b }}") is None
    assert templating.whole_expression("x {{ a }}") is None
    assert templating.whole_expression("{% if a %}{{ a }}{% endif %}") is None


# --------------------------------------------------------------------------- names that are also dict methods


@pytest.mark.parametrize("name", ["items", "keys", "values", "get", "copy"])
def test_an_input_named_like_a_dict_method(name):
    assert render("{{ input.%s }}" % name, scope(input={name: [1, 2]}), node="f", field="items") == [1, 2]


@pytest.mark.parametrize("node_id", ["items", "update", "values"])
def test_a_node_whose_id_is_a_dict_method_name(node_id):
    # Validation accepts these ids and references (ID_PATTERN), so they must render.
    assert render("{{ nodes.%s.output }}" % node_id, scope(nodes={node_id: [1]}), node="n", field="f") == [1]
