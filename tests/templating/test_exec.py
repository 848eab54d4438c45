"""Template -> output table, following the semantics of Go's text/template exec tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from tidewatch.templating import Template, TemplateError


@dataclass
class Inner:
    Name: str = "inner"
    Count: int = 7


@dataclass
class Data:
    True_: bool = True
    I: int = 17  # noqa: E741 - Go's exec tests use this field name
    U16: int = 16
    X: str = "x"
    FloatZero: float = 0.0
    F: float = 1.5
    Big: float = 1000000.0
    Inner: Inner = field(default_factory=Inner)
    Nil: Any = None
    SI: list[int] = field(default_factory=lambda: [3, 4, 5])
    SIEmpty: list[int] = field(default_factory=list)
    SB: list[bool] = field(default_factory=lambda: [True, False])
    MSI: dict[str, int] = field(default_factory=lambda: {"one": 1, "two": 2, "three": 3})
    MSIEmpty: dict[str, int] = field(default_factory=dict)
    MSS: dict[str, str] = field(default_factory=lambda: {"a": "x", "b": "y"})
    Labels: dict[str, str] = field(default_factory=lambda: {"job": "api", "instance": "h:9"})
    Empty: str = ""
    Fn: Any = None

    def Method0(self) -> str:
        return "M0"

    def Method1(self, a: int) -> int:
        return a

    def Method2(self, a: int, b: str) -> str:
        return f"Method2: {a} {b}"

    def MAdd(self, a: int, b: list[int]) -> list[int]:
        return [a + x for x in b]

    def GetInner(self) -> Inner:
        return self.Inner

    def Err(self) -> str:
        raise ValueError("my error")


def data() -> Data:
    d = Data()
    d.Fn = lambda *a: "fn" + "".join(str(x) for x in a)
    return d


CASES: list[tuple[str, str, Any, str]] = [
    # text, actions, comments, trim markers
    ("empty", "", None, ""),
    ("text", "some text", None, "some text"),
    ("dot string", "-{{.}}-", "hello", "-hello-"),
    ("nil dot", "{{.}}", None, "<no value>"),
    ("comment", "a{{/* a comment */}}b", None, "ab"),
    ("trim comment", "a {{- /* c */ -}} b", None, "ab"),
    ("trim left", "a  \n {{- 3}}", None, "a3"),
    ("trim right", "{{3 -}}  \n b", None, "3b"),
    ("trim both", "x \n{{- 3 -}}\n y", None, "x3y"),
    ("no trim without space", "{{-3}}", None, "-3"),
    ("newline in action", '{{printf\n"%d"\n3}}', None, "3"),
    # constants
    ("int", "{{17}}", None, "17"),
    ("negative", "{{-5}}", None, "-5"),
    ("float", "{{1.5}}", None, "1.5"),
    ("float exp", "{{1e6}}", None, "1e+06"),
    ("hex", "{{0x1F}}", None, "31"),
    ("octal", "{{0o17}}", None, "15"),
    ("binary", "{{0b101}}", None, "5"),
    ("underscore", "{{1_000}}", None, "1000"),
    ("char", "{{'a'}}", None, "97"),
    ("char escape", "{{'\\n'}}", None, "10"),
    ("string", '{{"a\\tb"}}', None, "a\tb"),
    ("raw string", "{{`a\\tb`}}", None, "a\\tb"),
    ("bool", "{{true}} {{false}}", None, "true false"),
    # fields, maps, methods
    ("field", "{{.I}}", "data", "17"),
    ("nested field", "{{.Inner.Name}}", "data", "inner"),
    ("float field", "{{.F}} {{.Big}} {{.FloatZero}}", "data", "1.5 1e+06 0"),
    ("map key", "{{.MSI.one}}", "data", "1"),
    ("map label", "{{.Labels.job}}", "data", "api"),
    ("missing map key", "{{.MSI.nope}}", "data", "<no value>"),
    ("missing key chain", "{{.MSI.nope.deeper}}", "data", "<no value>"),
    ("map print", "{{.MSI}}", "data", "map[one:1 three:3 two:2]"),
    ("slice print", "{{.SI}}", "data", "[3 4 5]"),
    ("bool slice", "{{.SB}}", "data", "[true false]"),
    ("method0", "{{.Method0}}", "data", "M0"),
    ("method1", "{{.Method1 1234}}", "data", "1234"),
    ("method1 var", "{{$x := 5}}{{.Method1 $x}}", "data", "5"),
    ("method2", '{{.Method2 16 "x"}}', "data", "Method2: 16 x"),
    ("method piped", '{{"x" | .Method2 16}}', "data", "Method2: 16 x"),
    ("method chain", "{{.GetInner.Name}}", "data", "inner"),
    ("method slice", "{{.MAdd 1 .SI}}", "data", "[4 5 6]"),
    ("dollar", "{{$}}", 5, "5"),
    ("dollar field", "{{with .Inner}}{{$.I}}{{end}}", "data", "17"),
    ("paren chain", "{{(.GetInner).Name}}", "data", "inner"),
    ("paren index chain", "{{(index .L 0).a}}", {"L": [{"a": "z"}]}, "z"),
    ("dict data", "{{.a.b}}", {"a": {"b": [1, 2]}}, "[1 2]"),
    ("nil value in map", "{{.a}}", {"a": None}, "<no value>"),
    # variables
    ("declare", "{{$x := 3}}{{$x}}", None, "3"),
    ("assign", "{{$x := 3}}{{$x = 4}}{{$x}}", None, "4"),
    ("assign in range", "{{$n := 0}}{{range .}}{{$n = .}}{{end}}{{$n}}", [1, 2, 9], "9"),
    ("var field", "{{$v := .Inner}}{{$v.Count}}", "data", "7"),
    ("var scope", "{{with $x := 4}}{{$x}}{{end}}", None, "4"),
    ("var redeclare", "{{$x := 1}}{{if true}}{{$x := 2}}{{$x}}{{end}}{{$x}}", None, "21"),
    # if / else
    ("if true", "{{if true}}T{{end}}", None, "T"),
    ("if false", "{{if false}}T{{else}}F{{end}}", None, "F"),
    ("if zero", "{{if 0}}T{{else}}F{{end}}", None, "F"),
    ("if float zero", "{{if .FloatZero}}T{{else}}F{{end}}", "data", "F"),
    ("if empty string", '{{if ""}}T{{else}}F{{end}}', None, "F"),
    ("if empty slice", "{{if .SIEmpty}}T{{else}}F{{end}}", "data", "F"),
    ("if slice", "{{if .SI}}T{{else}}F{{end}}", "data", "T"),
    ("if empty map", "{{if .MSIEmpty}}T{{else}}F{{end}}", "data", "F"),
    ("if nil", "{{if .Nil}}T{{else}}F{{end}}", "data", "F"),
    ("if missing", "{{if .MSI.nope}}T{{else}}F{{end}}", "data", "F"),
    ("if struct", "{{if .Inner}}T{{end}}", "data", "T"),
    ("else if", "{{if eq . 1}}one{{else if eq . 2}}two{{else}}many{{end}}", 2, "two"),
    ("else if else", "{{if eq . 1}}one{{else if eq . 2}}two{{else}}many{{end}}", 3, "many"),
    ("if decl", "{{if $x := .I}}{{$x}}{{end}}", "data", "17"),
    # with
    ("with", "{{with .Inner}}{{.Name}}{{end}}", "data", "inner"),
    ("with empty", "{{with .Empty}}X{{else}}E{{end}}", "data", "E"),
    ("else with", "{{with .Empty}}A{{else with .X}}{{.}}{{else}}C{{end}}", "data", "x"),
    ("else with none", "{{with .Empty}}A{{else with .Empty}}B{{else}}C{{end}}", "data", "C"),
    # range
    ("range slice", "{{range .SI}}<{{.}}>{{end}}", "data", "<3><4><5>"),
    ("range empty else", "{{range .SIEmpty}}x{{else}}EMPTY{{end}}", "data", "EMPTY"),
    (
        "range map sorted",
        "{{range $k, $v := .MSI}}{{$k}}={{$v}};{{end}}",
        "data",
        "one=1;three=3;two=2;",
    ),
    ("range map values", "{{range .MSI}}{{.}}{{end}}", "data", "132"),
    ("range index", "{{range $i, $x := .SI}}{{$i}}:{{$x}} {{end}}", "data", "0:3 1:4 2:5 "),
    ("range one var", "{{range $x := .SI}}{{$x}}{{end}}", "data", "345"),
    ("range int", "{{range 3}}{{.}}{{end}}", None, "012"),
    ("range nil", "{{range .Nil}}x{{else}}none{{end}}", "data", "none"),
    ("range break", "{{range .SI}}{{if eq . 4}}{{break}}{{end}}{{.}}{{end}}", "data", "3"),
    ("range continue", "{{range .SI}}{{if eq . 4}}{{continue}}{{end}}{{.}}{{end}}", "data", "35"),
    ("range nested dollar", "{{range .SI}}{{$.I}}{{end}}", "data", "171717"),
    ("range var scope", "{{range .SI}}{{$y := .}}{{$y}}{{end}}", "data", "345"),
    # pipelines and builtins
    ("pipeline", '{{"abc" | printf "%s-%s" "x"}}', None, "x-abc"),
    ("paren pipeline", '{{printf "%d" (len .SI)}}', "data", "3"),
    ("print", '{{print 1 2 "a" 3 "b"}}', None, "1 2a3b"),
    ("println", "{{println 1 2}}", None, "1 2\n"),
    (
        "printf verbs",
        '{{printf "%s|%d|%v|%q|%t|%%" "a" 5 1.5 "q" true}}',
        None,
        'a|5|1.5|"q"|true|%',
    ),
    (
        "printf float",
        '{{printf "%f %.2f %6.1f %e %g" 1.5 3.14159 2.0 1234.5 0.000012}}',
        None,
        "1.500000 3.14    2.0 1.234500e+03 1.2e-05",
    ),
    (
        "printf width",
        '{{printf "[%5s][%-5s][%05d][%x][%X][%o][%c]" "ab" "cd" 42 255 255 8 65}}',
        None,
        "[   ab][cd   ][00042][ff][FF][10][A]",
    ),
    ("printf bad verb", '{{printf "%d" "x"}}', None, "%!d(string=x)"),
    ("printf missing", '{{printf "%d %d" 1}}', None, "1 %!d(MISSING)"),
    ("printf extra", '{{printf "%d" 1 2}}', None, "1%!(EXTRA int=2)"),
    ("printf value float", '{{printf "%v" .Big}}', "data", "1e+06"),
    ("printf map", '{{printf "%v" .MSS}}', "data", "map[a:x b:y]"),
    ("printf nil", '{{printf "%v" nil}}', None, "<nil>"),
    ("index slice", "{{index .SI 1}}", "data", "4"),
    ("index map", '{{index .MSI "two"}}', "data", "2"),
    ("index map missing zero", '{{index .MSS "zz"}}', "data", ""),
    ("index nested", "{{index .a 1 0}}", {"a": [[1], [2, 3]]}, "2"),
    ("index string byte", '{{index "abc" 1}}', None, "98"),
    ("slice slice", "{{slice .SI 1 2}}", "data", "[4]"),
    ("slice string", '{{slice "hello" 1 3}}', None, "el"),
    ("slice string from", '{{slice "hello" 2}}', None, "llo"),
    ("len", '{{len .SI}} {{len .MSI}} {{len "héllo"}}', "data", "3 3 6"),
    ("html", '{{html "<a href=\\"x\\">&\'"}}', None, "&lt;a href=&#34;x&#34;&gt;&amp;&#39;"),
    ("html pipe", '{{"<b>" | html}}', None, "&lt;b&gt;"),
    ("js", '{{js "a\'b\\"c<d>=&\\n"}}', None, "a\\'b\\\"c\\u003Cd\\u003E\\u003D\\u0026\\u000A"),
    ("urlquery", '{{urlquery "a b&c=d/é"}}', None, "a+b%26c%3Dd%2F%C3%A9"),
    ("call", '{{call .Fn 1 "a"}}', "data", "fn1a"),
    ("call piped", "{{.I | call .Fn}}", "data", "fn17"),
    # comparisons and logic
    ("eq", '{{eq 1 1}} {{eq 1 2}} {{eq "a" "a"}}', None, "true false true"),
    ("eq multi", "{{eq 3 1 2 3}} {{eq 4 1 2 3}}", None, "true false"),
    ("eq field", '{{eq .X "x"}}', "data", "true"),
    ("eq nil", "{{eq .Nil nil}}", "data", "true"),
    ("ne", '{{ne 1 2}} {{ne "a" "a"}}', None, "true false"),
    ("lt le gt ge", "{{lt 1 2}}{{le 2 2}}{{gt 3 2}}{{ge 1 2}}", None, "truetruetruefalse"),
    ("lt strings", '{{lt "a" "b"}}', None, "true"),
    ("lt floats", "{{lt 1.5 2.5}} {{gt .F 1.0}}", "data", "true true"),
    ("and", "{{and 1 0 2}} {{and 1 2}}", None, "0 2"),
    ("or", '{{or 0 "" 3}} {{or 0 ""}}', None, "3 "),
    ("not", "{{not 0}} {{not 1}} {{not .SIEmpty}}", "data", "true false true"),
    ("and short circuit", "{{and false .Err}}", "data", "false"),
    ("or short circuit", "{{or true .Err}}", "data", "true"),
    ("and piped", "{{1 | and 2}}", None, "1"),
    ("printf hex pad", '{{printf "%04x" 127}}', None, "007f"),
    ("printf backquote", '{{printf "%#q" "zeroArgs"}}', None, "`zeroArgs`"),
    ("printf type of hex", "{{printf `%T` 0xef}}", None, "int"),
    ("printf piped only", '{{"aaa" | printf}}', None, "aaa"),
    ("and table", "{{and false 0}} {{and 1 0}} {{and 0 true}} {{and 1 1}}", None, "false 0 0 1"),
    ("or table", "{{or 0 0}} {{or 1 0}} {{or 0 true}} {{or 1 1}}", None, "0 1 true 1"),
    ("and not", "{{if and true 1 `hi` | not}}T{{else}}F{{end}}", None, "F"),
    ("or as if", '{{or .SI "empty"}} {{or .SIEmpty "empty"}}', "data", "[3 4 5] empty"),
    ("index map missing int zero", '{{index .MSI "XXX"}}', "data", "0"),
    ("parens nested", "{{printf `%d %d %d` (1) (2 | add1) (add1 (add1 5))}}", None, "1 3 7"),
    ("dollar in parens", "{{($).I}}", "data", "17"),
    (
        "var shadowing",
        "{{if $x := true}}{{with $x := .I}}{{$x}},{{end}}{{$x}}{{end}}",
        "data",
        "17,true",
    ),
    (
        "urlquery url",
        '{{"http://www.example.org/" | urlquery}}',
        None,
        "http%3A%2F%2Fwww.example.org%2F",
    ),
    ("js apostrophe", "{{js .}}", "It'd be nice.", "It\\'d be nice."),
    ("range method pipe", "{{range .SI | .MAdd .I}}-{{.}}-{{end}}", "data", "-20--21--22-"),
    # templates
    ("define template", '{{define "T"}}[{{.}}]{{end}}{{template "T" 5}}', None, "[5]"),
    ("template no pipe", '{{define "T"}}{{.}}{{end}}{{template "T"}}', None, "<no value>"),
    ("template dollar", '{{define "T"}}{{$}}{{end}}{{template "T" "d"}}', None, "d"),
    ("block", '{{block "B" .}}default {{.}}{{end}}', 3, "default 3"),
    (
        "recursive",
        '{{define "R"}}{{.}}{{if lt . 3}}{{template "R" (len (slice "xxxx" 0 (add1 .)))}}{{end}}{{end}}{{template "R" 0}}',
        None,
        "0123",
    ),
    ("define trims", '{{- define "T" -}} x {{- end -}}\n{{template "T"}}', None, "x"),
]


def add1(x: int) -> int:
    return x + 1


@pytest.mark.parametrize(("name", "text", "dot", "want"), CASES, ids=[c[0] for c in CASES])
def test_exec(name: str, text: str, dot: Any, want: str) -> None:
    if dot == "data":
        dot = data()
    t = Template(name, {"add1": add1}).parse(text)
    assert t.execute(dot) == want


def test_missingkey_zero() -> None:
    t = Template("t", missingkey_zero=True).parse("[{{.Labels.nope}}]")
    assert t.execute({"Labels": {"a": "b"}}) == "[]"
    t = Template("t").parse("[{{.Labels.nope}}]")
    assert t.execute({"Labels": {"a": "b"}}) == "[<no value>]"


def test_parse_adds_defines_and_execute_by_name() -> None:
    t = Template("root")
    t.parse('{{define "a"}}A{{.}}{{end}}')
    t.parse('{{define "b"}}B{{template "a" .}}{{end}}main')
    assert t.lookup("a") and t.lookup("b") and not t.lookup("c")
    assert t.execute(1, "b") == "BA1"
    assert t.execute(None) == "main"
    # A later parse replaces a definition; an empty body does not.
    t.parse('{{define "a"}}new{{end}}')
    t.parse('{{define "a"}}  {{end}}')
    assert t.execute(None, "b") == "Bnew"


def test_execute_unknown_name() -> None:
    t = Template("root").parse("x")
    with pytest.raises(TemplateError, match='no template "zz" associated with template "root"'):
        t.execute(None, "zz")


def test_user_func_overrides_builtin_and_missing_func() -> None:
    t = Template("t", {"len": lambda x: 42}).parse("{{len .}}")
    assert t.execute([1]) == "42"


def test_methods_on_dict_subclass_win_over_keys() -> None:
    class KV(dict[str, str]):
        def Names(self) -> list[str]:
            return sorted(self)

    t = Template("t").parse("{{.Names}} {{.b}} {{.items}}")
    assert t.execute(KV(b="2", a="1")) == "[a b] 2 <no value>"


def test_range_over_generator_and_tuple() -> None:
    t = Template("t").parse("{{range $i, $v := .}}{{$i}}{{$v}}{{end}}")
    assert t.execute(x for x in "ab") == "0a1b"
    assert t.execute(("x", "y")) == "0x1y"


def test_deep_recursion_is_an_error_not_a_crash() -> None:
    t = Template("t").parse('{{define "r"}}{{template "r" .}}{{end}}{{template "r" .}}')
    with pytest.raises(TemplateError, match="exceeded maximum template depth"):
        t.execute(None)


def test_custom_delimiters() -> None:
    t = Template("t").delims("[[", "]]").parse("{{.}} [[- .a -]] [[/* c */]]!")
    assert t.execute({"a": 1}) == "{{.}}1!"


def test_execute_text_helper_defaults_to_missingkey_zero() -> None:
    from tidewatch.templating import execute_text

    assert (
        execute_text("{{.a}}-{{.nope}}-{{ __line__ }}", {"a": "x"}, funcs={"__line__": lambda: "L"})
        == "x--L"
    )


def test_property_errors_are_reported() -> None:
    class P:
        @property
        def Bad(self) -> str:
            raise RuntimeError("nope")

    with pytest.raises(TemplateError, match="error calling Bad: nope"):
        Template("t").parse("{{.Bad}}").execute(P())
