r"""The audit's SQL, written once in DuckDB's dialect, translated for Spark SQL.

Every table and check of the audit is one SQL text (engine/tables.py, engine/metrics.py, checks/). DuckDB
runs it as written; for Spark, SQLGlot parses it as DuckDB and writes it as Spark SQL, and the few DuckDB
forms SQLGlot has no Spark equivalent for are rewritten here, each by a small AST transform:

  epoch_us(t), epoch(t)      unix_micros(t) (and / 1e6): Spark's unix_timestamp() drops the fraction
  list_extract(l, i)         element_at(l, i): both count from 1 (SQLGlot keeps Spark's 0-based l[i])
  TIMESTAMP                  TIMESTAMP_LTZ: times are UTC instants; the Spark session's zone is UTC
  min_by(v, k, n)            the n values with the smallest k, from a sorted collect_list
  timezone(zone, t)          from_utc_timestamp(t, zone)
  list_has_any(a, b)         arrays_overlap(a, b) (SQLGlot writes a logical AND)
  strip(x)                   the connection's macro (Python's str.strip) as a regexp_replace
  earliest_eid(t, eid)       the connection's macro (a packed 128-bit min) as min_by(eid, struct(t, eid))
  string_agg([DISTINCT] x ...)  the sorted (distinct) values joined (Spark's listagg fails with FILTER)
  $name parameters           literals (Spark's own parameters do not take lists or NULL timestamps)

and the forms the loading of inputs uses (inputs/canonical.py, inputs/timestamps.py), where a cast that reads
more than DuckDB's would invent a value:

  try_cast(x AS DOUBLE)      a cast only of text DuckDB reads as a number (Spark's also reads '12d', '12f')
  regexp_full_match(x, p)    x RLIKE '^(?:p)\z' (Java's $ also matches before a final line break)
  regexp_replace(x, p, r)    with Java's $1 for DuckDB's \1 (patterns anchored, so first = every match)
  isnan(x), isfinite(x)      NULL for NULL, as in DuckDB (Spark's isnan(NULL) is false)

Anything else DuckDB-only is kept out of the audit's SQL (recursion, LATERAL, `* REPLACE`, unordered
row_number); tests/test_spark_parity.py runs the whole audit on both engines.
"""

from __future__ import annotations

import datetime as dt
import math
import re

import sqlglot
from sqlglot import exp

from dedupaudit.connection import WHITESPACE


def to_spark(sql: str, params: dict | None = None) -> list[exp.Expression]:
    """The statements of `sql` (DuckDB), with `params` in place, as Spark SQL syntax trees."""
    return [_rewrite(s, params or {}) for s in sqlglot.parse(sql, read="duckdb") if s is not None]


def _rewrite(tree: exp.Expression, params: dict) -> exp.Expression:
    """Children first, so that a rewritten node is built from rewritten parts."""
    for node in reversed(list(tree.walk())):
        new = _spark_node(node, params)
        if new is not node:
            if node is tree:
                tree = new
            else:
                node.replace(new)
    return tree


def spark_sql(node: exp.Expression) -> str:
    return node.sql(dialect="spark")


def _spark_node(node: exp.Expression, params: dict) -> exp.Expression:
    if isinstance(node, exp.Placeholder) and node.this:
        if node.this not in params:
            raise KeyError(f"no value for ${node.this}")
        return literal(params[node.this])
    if isinstance(node, exp.Anonymous):
        name, args = node.name.lower(), node.expressions
        if name == "epoch_us":
            return exp.func("unix_micros", *args)
        if name == "list_extract":  # 1-based in both; Spark's [i] is 0-based
            return exp.func("element_at", *args)
        if name == "earliest_eid":  # the connection's macro: the eid of the earliest (time, eid)
            return exp.func("min_by", args[1], exp.Struct(expressions=[args[0], args[1].copy()]))
        if name == "timezone" and len(args) == 2:
            return exp.func("from_utc_timestamp", args[1], args[0])
        if name == "strip":
            space = "[" + "".join(f"\\x{{{ord(c):04x}}}" for c in WHITESPACE) + "]+"
            return exp.func("regexp_replace", args[0], exp.Literal.string(f"^{space}|{space}$"), exp.Literal.string(""))
        if name == "isfinite":
            value = args[0]
            return exp.Case(ifs=[exp.If(this=exp.Is(this=value.copy(), expression=exp.Null()), true=exp.Null())],
                            default=exp.and_(exp.not_(exp.func("isnan", value.copy())),
                                             exp.LT(this=exp.func("abs", value.copy()), expression=_INFINITY.copy())))
    if isinstance(node, exp.ArrayOverlaps):  # SQLGlot writes DuckDB's list_has_any as Spark's `&&`, a logical AND
        return exp.func("arrays_overlap", node.this, node.expression)
    if isinstance(node, exp.IsNan):
        return exp.Case(ifs=[exp.If(this=exp.Is(this=node.this.copy(), expression=exp.Null()), true=exp.Null())], default=node.copy())
    if isinstance(node, exp.TryCast) and node.to.this == exp.DataType.Type.DOUBLE:
        text = exp.cast(node.this.copy(), exp.DataType.build("STRING", dialect="spark"))
        return exp.Case(ifs=[exp.If(this=exp.RegexpLike(this=text, expression=exp.Literal.string(DUCKDB_DOUBLE)),
                                    true=exp.cast(node.this.copy(), exp.DataType.build("DOUBLE")))])
    if isinstance(node, exp.RegexpFullMatch):
        return exp.RegexpLike(this=node.this, expression=exp.Literal.string(f"^(?:{_pattern(node.expression)})\\z"))
    if isinstance(node, exp.RegexpReplace):
        return _replace(node)
    if isinstance(node, exp.TimeToUnix):
        return exp.Div(this=exp.func("unix_micros", node.this), expression=exp.Literal.number("1000000.0"))
    if isinstance(node, exp.DataType) and node.this in (exp.DataType.Type.TIMESTAMP, exp.DataType.Type.TIMESTAMPNTZ,
                                                        exp.DataType.Type.TIMESTAMPTZ):
        return exp.DataType.build("TIMESTAMP_LTZ", dialect="spark")
    if isinstance(node, exp.GroupConcat) and not isinstance(node.parent, exp.Filter):
        return _joined(node, None)
    if isinstance(node, exp.Filter) and isinstance(node.this, exp.GroupConcat):
        return _joined(node.this, node.expression)
    if isinstance(node, exp.ArgMin) and node.args.get("count") is not None:
        return _first_n(node.this, node.expression, node.args["count"])
    if isinstance(node, exp.Tuple) and isinstance(node.parent, (exp.ArgMin, exp.ArgMax)):
        return exp.Struct(expressions=list(node.expressions))
    return node


# The text DuckDB's try_cast(x AS DOUBLE) reads (tests/test_spark_lake.py compares both on a corpus);
# underscores between digits, which DuckDB also reads, are refused before every such cast in the audit's SQL.
_SPACE = r"[ \t\n\r\x0B\f]*"
DUCKDB_DOUBLE = rf"^{_SPACE}[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|(?i:inf|infinity|nan)){_SPACE}\z"
_INFINITY = exp.cast(exp.Literal.string("Infinity"), exp.DataType.build("DOUBLE"))


def _pattern(node: exp.Expression) -> str:
    if not isinstance(node, exp.Literal) or not node.is_string:
        raise ValueError(f"only literal regular expressions are translated for Spark, not {node.sql('duckdb')}")
    return node.this


def _replace(node: exp.RegexpReplace) -> exp.Expression:
    """DuckDB replaces the first match (without 'g'), Spark every match: the same only for an anchored pattern."""
    pattern, replacement = _pattern(node.expression), _pattern(node.args["replacement"])
    modifiers = node.args.get("modifiers")
    if not (pattern.startswith("^") or pattern.endswith("$")) and not (modifiers is not None and "g" in _pattern(modifiers)):
        raise ValueError(f"regexp_replace with an unanchored pattern and no 'g' is not translated for Spark: {pattern}")
    java = re.sub(r"\\(\d)", r"$\1", replacement.replace("$", "\\$"))
    return exp.RegexpReplace(this=node.this, expression=exp.Literal.string(pattern), replacement=exp.Literal.string(java))


def _joined(agg: exp.GroupConcat, where: exp.Where | None) -> exp.Expression:
    """DuckDB's string_agg([DISTINCT] x, sep ORDER BY x): the (distinct) values, sorted, joined; NULL when there are none."""
    value = agg.this.this if isinstance(agg.this, exp.Order) else agg.this
    distinct = isinstance(value, exp.Distinct)
    if distinct and len(value.expressions) != 1:
        raise ValueError(f"only string_agg([DISTINCT] x, sep ORDER BY x) is translated for Spark, not {agg.sql('duckdb')}")
    x = value.expressions[0] if distinct else value
    ordered = isinstance(agg.this, exp.Order)
    if (ordered and [o.this for o in agg.this.expressions] != [x]) or not (ordered or distinct):  # else DuckDB's order is arbitrary
        raise ValueError(f"string_agg must be ordered by its value for Spark: {agg.sql('duckdb')}")
    values = exp.func("collect_set" if distinct else "collect_list", x.copy())
    if where is not None:
        values = exp.Filter(this=values, expression=where.copy())
    values = exp.func("array_sort", values)
    joined = exp.func("array_join", values, agg.args.get("separator") or exp.Literal.string(","))
    return exp.Case(ifs=[exp.If(this=exp.EQ(this=exp.func("size", values.copy()), expression=exp.Literal.number(0)), true=exp.Null())],
                    default=joined)


def _first_n(value: exp.Expression, key: exp.Expression, n: exp.Expression) -> exp.Expression:
    """DuckDB's min_by(value, key, n): the values of the n smallest keys, in key order (a tuple key is a struct
    already: children are rewritten first)."""
    pair = exp.Struct(expressions=[exp.alias_(key, "k"), exp.alias_(value, "v")])
    ordered = exp.func("array_sort", exp.func("collect_list", pair))
    values = exp.func("transform", ordered, exp.Lambda(this=exp.column("v", table="x"), expressions=[exp.to_identifier("x")]))
    return exp.func("slice", values, exp.Literal.number(1), n)


def literal(value) -> exp.Expression:
    """A Python value as a Spark SQL literal (lists of texts are typed, so that an empty one is too)."""
    if value is None:
        return exp.Null()
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, int):
        return exp.Literal.number(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"cannot pass {value} to Spark SQL")
        return exp.Literal.number(repr(value))
    if isinstance(value, str):
        return exp.Literal.string(value)
    if isinstance(value, dt.datetime):  # pandas Timestamps too; the audit's times are naive UTC
        if value.tzinfo is not None:
            value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
        return exp.cast(exp.Literal.string(value.isoformat(sep=" ")), exp.DataType.build("TIMESTAMP_LTZ", dialect="spark"))
    if isinstance(value, (list, tuple)):
        items = exp.Array(expressions=[literal(v) for v in value])
        if all(isinstance(v, str) for v in value):
            return exp.cast(items, exp.DataType.build("ARRAY<STRING>", dialect="spark"))
        return items
    raise TypeError(f"cannot pass a {type(value).__name__} to Spark SQL")
