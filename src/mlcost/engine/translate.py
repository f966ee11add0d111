"""Our DuckDB-dialect SQL in Spark SQL: sqlglot, plus our own rewrites where it is wrong.

sqlglot translates most of the dialect; where its translation would fail on Spark or,
worse, run and give a different answer, a rewrite here says what DuckDB means in terms
Spark computes the same way (each one is tested in ``tests/test_engine_translate.py``):

* macros (``CREATE TEMP MACRO``): Spark has none; the call is replaced by the body;
* ``regexp_replace`` replacements: DuckDB's ``\\1`` is Java's ``$1`` (else a literal 1);
* JSON paths: ``'$."' || key || '"'`` and JSON pointers (``'/team'``) are bracket paths
  (``$['team']``), which ``get_json_object`` reads (it returns NULL for the others);
* ``date_diff(part, a, b)`` counts the part's boundaries crossed, as DuckDB does (Spark's
  counts whole parts: a day lower for 23:00 → 01:00);
* ``json_object(k, v, …)``: ``to_json(named_struct(…))`` with DuckDB's timestamp text (and
  null members kept by the session's ``jsonGenerator.ignoreNullFields=false``); a nested
  ``json_object`` is a nested struct; ``CAST(text AS JSON)`` is the text itself;
* ``list(x ORDER BY y)`` and ``string_agg(x, sep ORDER BY y)``: collected and sorted by
  ``y`` (Spark's ``collect_list`` keeps no order);
* ``list_contains($list, x)``: the list parameter typed (it may be NULL: no filter);
* ``a / b`` divides in DOUBLE, as DuckDB does for any operands (Spark keeps decimals);
* ``[…][i]`` (1-based) is ``element_at``; ``isodow`` is ``weekday + 1``;
  ``quantile_cont`` is ``percentile``; ``to_days(n)``, ``to_hours(n)`` and ``to_seconds(n)``
  are ``make_dt_interval``s;
  ``TIMESTAMPTZ`` is ``TIMESTAMP_LTZ`` (the session's plain TIMESTAMP is naive) and
  ``timezone('UTC', x)`` its UTC wall clock;
  ``json_type(x, p)`` the kind of the value's first character; ``lower(unnest(x))`` the
  lowered list unnested (Spark unnests only at the top of a select item).

Parameters stay parameters (``$name`` → ``:name``): values never enter the text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from functools import lru_cache

import sqlglot
from sqlglot import exp

#: A macro: its argument names and its body (DuckDB dialect).
Macro = tuple[Sequence[str], str]

#: DuckDB writes a timestamp in JSON as ``2026-10-01 05:00:00``.
_JSON_TIME = "yyyy-MM-dd HH:mm:ss"


class TranslationError(ValueError):
    """A statement that cannot be written in Spark SQL."""


def to_spark(sql: str, macros: Mapping[str, Macro] | None = None) -> str:
    """``sql`` (DuckDB dialect) as Spark SQL; raises TranslationError if it cannot be."""
    key = tuple(sorted((n, tuple(a), b) for n, (a, b) in (macros or {}).items()))
    return _to_spark(sql, key)


@lru_cache(maxsize=512)
def _to_spark(sql: str, macros: tuple[tuple[str, tuple[str, ...], str], ...]) -> str:
    try:
        tree = sqlglot.parse_one(sql, read="duckdb")
    except sqlglot.errors.ParseError as exc:
        raise TranslationError(f"sqlglot cannot parse the statement: {exc}") from exc
    defined = {name: (args, sqlglot.parse_one(body, read="duckdb")) for name, args, body in macros}
    holder = exp.Paren(this=tree)
    _expand_macros(holder, defined)
    for node in reversed(list(holder.walk(bfs=False))):
        if node is holder:
            continue
        new = _rewrite(node)
        if new is not node:
            node.replace(new)
    try:
        return holder.this.sql(dialect="spark", unsupported_level=sqlglot.ErrorLevel.RAISE)
    except sqlglot.errors.UnsupportedError as exc:
        raise TranslationError(f"sqlglot cannot write it for Spark: {exc}") from exc


def _expand_macros(holder: exp.Expr, defined: Mapping[str, tuple[Sequence[str], exp.Expr]]) -> None:
    """Replace each call of a macro by its body, the arguments put in (nested calls too)."""
    if not defined:
        return
    for _ in range(10):  # a macro's body may call another macro
        calls = [
            f
            for f in holder.find_all(exp.Func)
            if _func_name(f) in defined and len(_args(f)) == len(defined[_func_name(f)][0])
        ]
        if not calls:
            return
        for call in calls:
            names, body = defined[_func_name(call)]
            values = dict(zip(names, _args(call), strict=True))
            expanded = body.copy()
            for column in list(expanded.find_all(exp.Column)):
                if not column.table and column.name in values:
                    column.replace(exp.Paren(this=values[column.name].copy()))
            call.replace(exp.Paren(this=expanded))
    raise TranslationError("macros call each other without end")


def _func_name(node: exp.Expr) -> str:
    if isinstance(node, exp.Anonymous):
        return str(node.this).lower()
    return node.sql_name().lower() if isinstance(node, exp.Func) else ""


def _args(node: exp.Expr) -> list[exp.Expr]:
    if isinstance(node, exp.Anonymous):
        return list(node.expressions)
    return [v for v in node.args.values() if isinstance(v, exp.Expr)]


def _call(name: str, *args: exp.Expr) -> exp.Anonymous:
    return exp.Anonymous(this=name, expressions=list(args))


def _text(value: str) -> exp.Literal:
    return exp.Literal.string(value)


def _rewrite(node: exp.Expr) -> exp.Expr:
    """One node in Spark's terms (its children are already)."""
    if isinstance(node, exp.RegexpReplace):
        replacement = node.args.get("replacement")
        if isinstance(replacement, exp.Literal) and replacement.is_string:
            text = replacement.this.replace("$", "\\$")
            node.set("replacement", _text(re.sub(r"\\(\d)", r"$\1", text)))
        return node
    if isinstance(node, exp.JSONExtract | exp.JSONExtractScalar | exp.JSONType):
        node.set("expression", _json_path(node.args["expression"]))
        if isinstance(node, exp.JSONType):
            # the kind of the value at the path, by its first character (only arrays and
            # objects are asked about)
            first = _call(
                "left",
                _call("ltrim", _call("get_json_object", node.this, node.expression)),
                exp.Literal.number(1),
            )
            return exp.Case(
                ifs=[
                    exp.If(this=exp.EQ(this=first, expression=_text("[")), true=_text("ARRAY")),
                    exp.If(this=exp.EQ(this=first, expression=_text("{")), true=_text("OBJECT")),
                ],
                default=exp.Null(),
            )
        return node
    if isinstance(node, exp.DateDiff):
        unit = (node.text("unit") or "day").lower()
        start, end = node.expression, node.this
        if unit in ("day", "days"):
            return _call("datediff", exp.cast(end, "date"), exp.cast(start, "date"))
        if unit in ("second", "seconds", "microsecond", "millisecond"):
            return _call("timestampdiff", exp.var(unit.upper().rstrip("S")), start, end)
        return _call(
            "timestampdiff",
            exp.var(unit.upper().rstrip("S")),
            _call("date_trunc", _text(unit), start),
            _call("date_trunc", _text(unit), end),
        )
    if isinstance(node, exp.JSONObject):
        members: list[exp.Expr] = []
        for pair in node.expressions:
            value = pair.expression
            if value.meta.get("mlcost_json"):
                value = value.meta["mlcost_struct"]
            members += [pair.this, value]
        struct = _call("named_struct", *members)
        out = _to_json(struct)
        out.meta["mlcost_json"] = True
        out.meta["mlcost_struct"] = struct
        return out
    if isinstance(node, exp.Cast) and node.to.is_type(exp.DataType.Type.JSON):
        inner = node.this
        if isinstance(inner, exp.ArrayAgg | exp.Array | exp.Struct):
            return _to_json(inner)
        return inner
    if isinstance(node, exp.ArrayAgg | exp.GroupConcat) and isinstance(node.this, exp.Order):
        return _ordered_collect(node)
    if isinstance(node, exp.Bracket) and len(node.expressions) == 1:
        # DuckDB lists are 1-based, as Spark's element_at is; sqlglot has already made a
        # literal index 0-based (and only a literal)
        index = node.expressions[0]
        if isinstance(index, exp.Literal) and not index.is_string:
            index = exp.Literal.number(int(index.this) + 1)
        return _call("element_at", node.this, exp.cast(index, "int"))
    if isinstance(node, exp.DataType) and node.is_type(exp.DataType.Type.TIMESTAMPTZ):
        # an instant (the session's TIMESTAMP is naive: TIMESTAMP_NTZ)
        return exp.DataType.build("timestamp_ltz", dialect="spark")
    if isinstance(node, exp.ArrayContains) and isinstance(node.this, exp.Placeholder):
        # a list parameter may be NULL (no filter): typed, as Spark needs (lists given as
        # parameters are lists of text)
        node.set("this", exp.cast(node.this, exp.DataType.build("array<string>", dialect="spark")))
        return node
    if isinstance(node, exp.Div):
        # DuckDB divides in DOUBLE whatever the operands (DECIMAL / DECIMAL too); Spark
        # would keep a DECIMAL, with other digits
        node.set("this", exp.cast(node.this, "double"))
        return node
    if isinstance(node, exp.DayOfWeekIso):
        return exp.Add(this=_call("weekday", node.this), expression=exp.Literal.number(1))
    if isinstance(node, exp.PercentileCont):
        return _call("percentile", node.this, node.expression)
    if isinstance(node, exp.ToDays):
        return _call("make_dt_interval", node.this)
    if _func_name(node) == "to_hours":
        return _call("make_dt_interval", exp.Literal.number(0), _args(node)[0])
    if _func_name(node) == "to_seconds":
        zero = exp.Literal.number(0)
        return _call("make_dt_interval", zero, zero, zero, _args(node)[0])
    if isinstance(node, exp.Table) and isinstance(node.this, exp.GenerateSeries):
        # FROM range(a, b) t(n): Spark's range table function, also end-exclusive
        series = node.this
        if not series.args.get("is_end_exclusive"):
            raise TranslationError("generate_series (end inclusive) has no rewrite yet")
        node.set("this", _call("range", series.args["start"], series.args["end"]))
        return node
    if isinstance(node, exp.Anonymous) and str(node.this).lower() == "timezone":
        zone, value = node.expressions
        if isinstance(zone, exp.Literal) and zone.this.upper() == "UTC":
            # the session runs in UTC: a TIMESTAMP's wall clock there, without the zone
            return exp.cast(value, "timestamp_ntz")
        raise TranslationError(f"timezone({zone.sql()}, …) has no Spark form here")
    if isinstance(node, exp.Lower) and isinstance(node.this, exp.Explode):
        item = exp.to_identifier("_v")
        lowered = exp.Lambda(this=exp.Lower(this=exp.column(item)), expressions=[item])
        return exp.Explode(this=_call("transform", node.this.this, lowered))
    return node


def _to_json(value: exp.Expr) -> exp.Anonymous:
    options = _call(
        "map",
        _text("timestampFormat"),
        _text(_JSON_TIME),
        _text("timestampNTZFormat"),
        _text(_JSON_TIME),
    )
    return _call("to_json", value, options)


def _json_path(path: exp.Expr) -> exp.Expr:
    """A JSON path get_json_object reads: ``$."key"`` and ``/key`` become ``$['key']``."""
    if isinstance(path, exp.JSONPath):
        return path
    if isinstance(path, exp.Literal) and path.is_string:
        text = path.this
        if text.startswith("/"):
            return _text("$" + "".join(f"['{part}']" for part in text[1:].split("/")))
        quoted = re.fullmatch(r'\$\."([^"]*)"', text)
        return _text(f"$['{quoted.group(1)}']") if quoted else path
    # '$."' || key || '"'
    if (
        isinstance(path, exp.DPipe)
        and isinstance(path.this, exp.DPipe)
        and isinstance(path.this.this, exp.Literal)
        and path.this.this.this == '$."'
        and isinstance(path.expression, exp.Literal)
        and path.expression.this == '"'
    ):
        return exp.DPipe(
            this=exp.DPipe(this=_text("$['"), expression=path.this.expression),
            expression=_text("']"),
        )
    # '$.' || key
    if (
        isinstance(path, exp.DPipe)
        and isinstance(path.this, exp.Literal)
        and path.this.this == "$."
    ):
        return exp.DPipe(
            this=exp.DPipe(this=_text("$['"), expression=path.expression), expression=_text("']")
        )
    return path


def _ordered_collect(node: exp.ArrayAgg | exp.GroupConcat) -> exp.Expr:
    """``list(x ORDER BY k…)`` as Spark's collect_list of (k…, x) structs, sorted."""
    order: exp.Order = node.this
    keys = [o.this for o in order.expressions]
    if any(o.args.get("desc") for o in order.expressions):
        raise TranslationError("an ordered aggregate sorted descending has no rewrite yet")
    names = [f"k{i}" for i in range(len(keys))]
    pairs: list[exp.Expr] = []
    for name, key in zip(names, keys, strict=True):
        pairs += [_text(name), key]
    pairs += [_text("v"), order.this]
    item = exp.to_identifier("_s")
    sorted_values = _call(
        "transform",
        _call("array_sort", _call("collect_list", _call("named_struct", *pairs))),
        exp.Lambda(
            this=exp.Dot(this=exp.column(item), expression=exp.to_identifier("v")),
            expressions=[item],
        ),
    )
    if isinstance(node, exp.GroupConcat):
        return _call("array_join", sorted_values, node.args.get("separator") or _text(","))
    return sorted_values


def parameters(sql: str) -> set[str]:
    """The named parameters (``$name``) a statement uses."""
    return set(re.findall(r"\$([A-Za-z_][A-Za-z0-9_]*)", sql))
