"""Parse and execution errors carry Go's wording, template name, line and column."""

from __future__ import annotations

from typing import Any

import pytest

from tidewatch.templating import Template, TemplateError, prometheus_funcs

PARSE_ERRORS = [
    ("{{.Foo}", 'template: t:1: unexpected "}" in operand'),
    ("{{if .X}}", "template: t:1: unexpected EOF"),
    ("a\n{{end}}", "template: t:2: unexpected {{end}}"),
    ("{{else}}", "template: t:1: unexpected {{else}}"),
    ("{{nofunc 1}}", 'template: t:1: function "nofunc" not defined'),
    ("{{$x}}", 'template: t:1: undefined variable "$x"'),
    ("{{if true}}{{$x := 1}}{{end}}{{$x}}", 'template: t:1: undefined variable "$x"'),
    ("{{}}", "template: t:1: missing value for command"),
    ("{{.X", "template: t:1: unclosed action"),
    ("x\n{{ .X\n", "template: t:3: unclosed action started at t:2"),
    ("{{/* x", "template: t:1: unclosed comment"),
    ("{{/* x */ .X}}", "template: t:1: comment ends before closing delimiter"),
    ('{{"abc}}', "template: t:1: unterminated quoted string"),
    ("{{`abc}}", "template: t:1: unterminated raw quoted string"),
    ("{{break}}", "template: t:1: {{break}} outside {{range}}"),
    ("{{if}}{{end}}", "template: t:1: missing value for if"),
    ("{{.X | 4}}", "template: t:1: non executable command in pipeline stage 2"),
    ("{{(1}}", "template: t:1: unclosed left paren"),
    ("{{3x}}", 'template: t:1: bad number syntax: "3x"'),
    ("{{range $a, $b, $c := .}}{{end}}", "template: t:1: too many declarations in range"),
    ("{{template .X}}", 'template: t:1: unexpected ".X" in template clause'),
    ("{{if 1}}{{else}}{{else}}{{end}}", "template: t:1: expected end; found {{else}}"),
    ('{{"x".Foo}}', 'template: t:1: unexpected . after term "\\"x\\""'),
    ("{{.X ~}}", 'template: t:1: unexpected "~" in operand'),
    ('{{if 1}}{{define "a"}}{{end}}{{end}}', "template: t:1: unexpected <define> in command"),
    (
        '{{define "a"}}a{{end}}{{define "a"}}b{{end}}',
        'template: t:1: template: multiple definition of template "a"',
    ),
]


@pytest.mark.parametrize(("text", "message"), PARSE_ERRORS)
def test_parse_errors(text: str, message: str) -> None:
    with pytest.raises(TemplateError) as info:
        Template("t").parse(text)
    assert str(info.value) == message


class Obj:
    A = 1

    def M(self, x: int) -> int:
        return x

    def E(self) -> str:
        raise ValueError("boom")


EXEC_ERRORS: list[tuple[str, Any, str]] = [
    (
        "{{.Foo}}",
        5,
        'template: t:1:2: executing "t" at <.Foo>: can\'t evaluate field Foo in type int',
    ),
    (
        "{{.Nope}}",
        Obj(),
        'template: t:1:2: executing "t" at <.Nope>: can\'t evaluate field Nope in type Obj',
    ),
    (
        "{{.a.b}}",
        {"a": None},
        'template: t:1:2: executing "t" at <.a.b>: nil pointer evaluating interface {}.b',
    ),
    (
        "{{index . 5}}",
        [1],
        'template: t:1:2: executing "t" at <index . 5>: error calling index: index out of range: 5',
    ),
    (
        'x\n  {{ printf "%d" (index .x 9) }}',
        {"x": []},
        'template: t:2:18: executing "t" at <index .x 9>: error calling index: index out of range: 9',
    ),
    (
        '{{template "x"}}',
        None,
        'template: t:1:11: executing "t" at <{{template "x"}}>: template "x" not defined',
    ),
    (
        "{{humanize}}",
        None,
        'template: t:1:2: executing "t" at <humanize>: wrong number of args for humanize: want 1 got 0',
    ),
    (
        "{{eq .Value 0}}",
        {"Value": 1.5},
        'template: t:1:2: executing "t" at <eq .Value 0>: error calling eq: incompatible types for comparison',
    ),
    (
        "{{.M}}",
        Obj(),
        'template: t:1:2: executing "t" at <.M>: wrong number of args for M: want 1 got 0',
    ),
    (
        "{{.A 1}}",
        Obj(),
        'template: t:1:2: executing "t" at <.A>: A has arguments but cannot be invoked as function',
    ),
    ("{{.E}}", Obj(), 'template: t:1:2: executing "t" at <.E>: error calling E: boom'),
    (
        "{{1 2}}",
        None,
        'template: t:1:2: executing "t" at <1>: can\'t give argument to non-function 1',
    ),
    ("{{nil}}", None, 'template: t:1:2: executing "t" at <nil>: nil is not a command'),
    (
        "{{len 3}}",
        None,
        'template: t:1:2: executing "t" at <len 3>: error calling len: len of type int',
    ),
    (
        '{{reReplaceAll "(" "" "x"}}',
        None,
        'template: t:1:2: executing "t" at <reReplaceAll "(" "" ...>: error calling reReplaceAll: '
        "error parsing regexp: missing closing ): `(`",
    ),
    (
        '{{humanize "abc"}}',
        None,
        'template: t:1:2: executing "t" at <humanize "abc">: error calling humanize: '
        'strconv.ParseFloat: parsing "abc": invalid syntax',
    ),
]


@pytest.mark.parametrize(("text", "dot", "message"), EXEC_ERRORS)
def test_exec_errors(text: str, dot: Any, message: str) -> None:
    t = Template("t", prometheus_funcs()).parse(text)
    with pytest.raises(TemplateError) as info:
        t.execute(dot)
    assert str(info.value) == message


def test_error_inside_define_names_the_definition() -> None:
    t = Template("file").parse('\n{{define "inner"}}{{.X.Y}}{{end}}{{template "inner" 3}}')
    with pytest.raises(TemplateError) as info:
        t.execute(None)
    assert str(info.value) == (
        'template: file:2:20: executing "inner" at <.X.Y>: can\'t evaluate field X in type int'
    )


def test_column_counts_bytes_like_go() -> None:
    t = Template("t").parse("é{{.X.Y}}")
    with pytest.raises(TemplateError, match=r"^template: t:1:4: "):
        t.execute({"X": 1})


def test_string_parameters_are_type_checked_like_go() -> None:
    t = Template("t", prometheus_funcs()).parse("{{ toUpper .n }}")
    with pytest.raises(TemplateError) as info:
        t.execute({"n": 5})
    assert str(info.value).endswith("wrong type for value; expected string; got int")
    with pytest.raises(TemplateError) as info:
        t.execute({})
    assert str(info.value).endswith("invalid value; expected string")
    t = Template("t", prometheus_funcs()).parse('{{ .n | reReplaceAll "a" "b" }}')
    assert t.execute({"n": "aa"}) == "bb"
    with pytest.raises(TemplateError, match="expected string; got float64"):
        t.execute({"n": 1.5})


# Errors from Go's parse tests: the message must contain the given text.
GO_PARSE_ERRORS = [
    ("line1\n{{", "t:2: unclosed action"),
    ("line1\n{{define `x`}}line2\n{{", "t:3: unclosed action"),
    ('line1\n{{"x"\n"y"\n', "t:4: unclosed action started at t:2"),
    ("{{\n\n\n\n\n", "t:6: unclosed action started at t:1"),
    ("line1\n{{\nx\n}}", 't:3: function "x" not defined'),
    ("{{/*}}", "t:1: unclosed comment"),
    ("{{/*\nhello\n}}", "t:1: unclosed comment"),
    ("{{.X (1 2 3}}", "unclosed left paren"),
    ("{{.X 1 2 3 ) }}", "unexpected right paren"),
    ("{{(.X 1 2 3", "unclosed action"),
    ("{{`x`3}}", "in operand"),
    ("{{a#}}", "'#'"),
    ("{{'a}}", "unterminated character constant"),
    ("{{0xi}}", "number syntax"),
    ("{{range .X}}", "unexpected EOF"),
    ("{{$x := 23}}{{with $x.y := 3}}{{$x 23}}{{end}}", 'unexpected ":="'),
    ("{{$a,$b,$c := 23}}", "too many declarations"),
    ("{{true.any}}", "unexpected . after term"),
    ("{{12|false}}", "non executable command in pipeline"),
    ("{{ ( ) }}", "missing value for parenthesized pipeline"),
    ("{{ $v := `\n` }} {{", "t:2: unclosed action"),
    ("{{range $k, $v}}{{end}}", "undefined variable"),
    ("{{range $k,}}{{end}}", "missing value for range"),
    ("{{range $k, 123 := .}}{{end}}", "range can only initialize variables"),
    ("{{if .X}}a{{else if .Y}}b{{end}}{{end}}", "unexpected {{end}}"),
    ("{{range .}}{{else}}{{break}}{{end}}", "{{break}} outside {{range}}"),
    ("{{with $x := 4}}{{end}}{{$x}}", "undefined variable"),
    ('{{block "foo"}}hello{{end}}', "missing value for block clause"),
    ("{{1.E}}", "number syntax"),
    ("{{..E}}", "unexpected . after term"),
]


@pytest.mark.parametrize(("text", "fragment"), GO_PARSE_ERRORS)
def test_go_parse_error_cases(text: str, fragment: str) -> None:
    with pytest.raises(TemplateError) as info:
        Template("t").parse(text)
    assert fragment in str(info.value)


def test_go_parse_accepts() -> None:
    t = Template("t")
    assert t.parse("{{ $x \n := \n 1 \n }}{{$x}}").execute(None) == "1"
    assert t.parse("{{$x:=.}}{{$x | printf}}").execute("y") == "y"
    assert t.parse("{{range .SI}}{{.}}{{ continue }}{{end}}").execute({"SI": [1, 2]}) == "12"
    assert t.parse("{{-\n/*\nhello\n*/\n-}}").execute(None) == ""


def test_assignment_to_undeclared_variable_fails_when_run() -> None:
    t = Template("t").parse("{{range $x = .}}{{end}}")
    with pytest.raises(TemplateError, match="undefined variable: \\$x"):
        t.execute([1])


def test_deeply_nested_expression_is_an_error() -> None:
    with pytest.raises(TemplateError, match="max expression depth exceeded"):
        Template("t").parse("{{" + "(" * 3000 + "1" + ")" * 3000 + "}}")
