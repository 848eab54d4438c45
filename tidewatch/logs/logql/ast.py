"""LogQL syntax tree: log queries (selector + pipeline) and metric queries over them.

Nodes are plain dataclasses; ``pos`` is the 0-based offset of the node's first
character in the query text, used for error positions.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tidewatch.matcher import Matcher

# --------------------------------------------------------------------------- pipeline stages


@dataclass
class FilterValue:
    """One operand of a line filter: a literal/regex/pattern text, or ``ip("cidr")``."""

    text: str
    is_ip: bool = False


@dataclass
class LineFilter:
    """``|= "a" or "b"``: ``op`` is one of ``|=``, ``!=``, ``|~``, ``!~``, ``|>``, ``!>``."""

    op: str
    values: list[FilterValue]


@dataclass
class JSONParser:
    """``json`` (all fields) or ``json a="x.y", b`` (extraction expressions)."""

    extractions: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class LogfmtParser:
    strict: bool = False
    keep_empty: bool = False
    extractions: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class RegexpParser:
    pattern: str


@dataclass
class PatternParser:
    pattern: str


@dataclass
class UnpackParser:
    pass


@dataclass
class LineFormat:
    template: str


@dataclass
class LabelFormatItem:
    """``dst=src`` (rename) or ``dst="{{template}}"``."""

    dst: str
    src: str
    is_template: bool


@dataclass
class LabelFormat:
    items: list[LabelFormatItem]


@dataclass
class DropKeep:
    """``drop``/``keep`` with bare names and/or ``name="value"`` matchers."""

    keep: bool
    names: list[str]
    matchers: list[Matcher]


@dataclass
class Decolorize:
    pass


# Label filter expression tree.


@dataclass
class StringLabelFilter:
    matcher: Matcher


@dataclass
class NumericLabelFilter:
    """``kind`` is ``number``, ``duration`` (value in seconds) or ``bytes``."""

    name: str
    op: str  # == != > >= < <=
    value: float
    kind: str


@dataclass
class IPLabelFilter:
    name: str
    negate: bool
    pattern: str


@dataclass
class BinaryLabelFilter:
    op: str  # "and" | "or"
    left: LabelFilterExpr
    right: LabelFilterExpr


LabelFilterExpr = StringLabelFilter | NumericLabelFilter | IPLabelFilter | BinaryLabelFilter


@dataclass
class LabelFilterStage:
    expr: LabelFilterExpr


Stage = (
    LineFilter
    | JSONParser
    | LogfmtParser
    | RegexpParser
    | PatternParser
    | UnpackParser
    | LineFormat
    | LabelFormat
    | DropKeep
    | Decolorize
    | LabelFilterStage
)


@dataclass
class Unwrap:
    """``unwrap v``, ``unwrap duration(v)``/``duration_seconds(v)``, ``unwrap bytes(v)``,
    followed by label filters that see the post-unwrap labels."""

    label: str
    conversion: str = ""  # "" | "duration" | "bytes"
    post_filters: list[LabelFilterExpr] = field(default_factory=list)


# --------------------------------------------------------------------------- expressions


@dataclass
class LogQuery:
    """A stream selector and its pipeline: the log query (streams result)."""

    matchers: list[Matcher]
    stages: list[Stage]
    pos: int = 0


@dataclass
class LogRange:
    """``{...} | pipeline [| unwrap x] [5m] offset 1m`` inside a range aggregation."""

    query: LogQuery
    range_ns: int
    offset_ns: int = 0
    unwrap: Unwrap | None = None


@dataclass
class Grouping:
    without: bool
    labels: list[str]


@dataclass
class RangeAggregation:
    op: str
    range: LogRange
    param: float | None = None
    grouping: Grouping | None = None
    pos: int = 0


@dataclass
class VectorAggregation:
    op: str
    expr: MetricExpr
    grouping: Grouping | None = None
    param: float | None = None
    pos: int = 0


@dataclass
class VectorMatching:
    on: bool = False
    labels: list[str] = field(default_factory=list)
    card: str = "one-to-one"  # one-to-one | many-to-one | one-to-many
    include: list[str] = field(default_factory=list)


@dataclass
class BinaryExpr:
    op: str
    left: MetricExpr
    right: MetricExpr
    return_bool: bool = False
    matching: VectorMatching | None = None
    pos: int = 0


@dataclass
class Literal:
    value: float
    pos: int = 0


@dataclass
class VectorExpr:
    """``vector(1)``."""

    value: float
    pos: int = 0


@dataclass
class LabelReplace:
    expr: MetricExpr
    dst: str
    replacement: str
    src: str
    regex: str
    pos: int = 0


MetricExpr = RangeAggregation | VectorAggregation | BinaryExpr | Literal | VectorExpr | LabelReplace
Expr = LogQuery | MetricExpr
