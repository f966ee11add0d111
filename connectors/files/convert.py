"""Converting a provider's billing file to FOCUS rows, in two SQL stages.

Stage one reads the provider's own columns: each one used is cast (money, timestamp,
date, enumerated text) and checked, so a bad value is refused naming the provider's
column and row (``lineItem/UnblendedCost``, not ``BilledCost``). Stage two is the FOCUS
loader's own conversion (:func:`focus._conversion_query`) run over the FOCUS-named
columns stage one computes: the same enum mapping, Tags handling and ``x_*`` extras as
a FOCUS export, so every format ends in exactly the same rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from mlcost.connectors.files.focus import (
    Conversion,
    SourceColumn,
    _conversion_query,
    _convert,
)
from mlcost.connectors.files.values import (
    CONTROL_EXPECTED,
    _present,
    clean_text,
    control_check,
    current_window,
    json_text,
    outside_years,
    timestamp_expected,
    timestamp_sql,
    widens_to_money,
    with_text,
)

from mlcost import mappings
from mlcost.errors import InputError
from mlcost.schema import FOCUS_COLUMNS, MONEY
from mlcost.store import quote_ident

#: Field kinds that are points in time: their years are checked (focus.outside_years).
_TIME_KINDS = ("timestamp", "date", "month")


@dataclass(frozen=True)
class Field:
    """A provider column the conversion uses, under an alias the formulas refer to.

    ``names`` are the column's possible names, as the format's ``lookup`` keys them
    (first found wins). ``kind`` is money, timestamp, date, text, json or credits.
    ``allowed`` (text only) lists the accepted values, matched case-insensitively.
    """

    alias: str
    names: tuple[str, ...]
    kind: str = "text"
    required: bool = False
    allowed: tuple[str, ...] = ()
    #: The column's name as the provider documents it, for messages (default names[0]).
    title: str = ""


@dataclass(frozen=True)
class ProviderPlan:
    """A format's conversion: its fields, and SQL over their aliases for each FOCUS
    column (``focus``), each kept provider column (``extras``: x_name → SQL), the
    default x_source, and optionally which rows are stored (``keep``)."""

    fields: Sequence[Field]
    focus: Mapping[str, str]
    extras: Mapping[str, str]
    source_sql: str
    keep_sql: str | None = None
    format_hint: str = ""
    #: Whether the Tags SQL yields a clean JSON object already (else raw tag text).
    tags_built: bool = True
    #: alias → SQL over the scan's own columns, computed beside the typed fields.
    raw: Mapping[str, str] = field(default_factory=dict)
    #: Packaged tables joined to each row (service and region mappings).
    lookups: Sequence[Lookup] = ()
    #: SQL over the field aliases: rows that give a second FOCUS row, the unused part of
    #: a commitment's fee (FOCUS keeps a purchase's EffectiveCost 0 and puts what went
    #: unused on a Usage row of its own). The formulas tell the two apart by the boolean
    #: ``unused_part``; the second row is never checked twice, nor counted as a file row.
    split_sql: str | None = None


@dataclass(frozen=True)
class Lookup:
    """One of our packaged tables joined to each row by a key, its values then usable by
    the FOCUS formulas under ``columns``.

    ``key`` is SQL over the field aliases; ``columns`` names the table's columns, the
    first being the key's (non-null on the rows the table matched); ``values`` holds one
    list per column, passed to DuckDB as query parameters (never SQL text). Keys must be
    unique, or the join would repeat rows.
    """

    key: str
    columns: tuple[str, ...]
    values: Sequence[Sequence[str | None]]


def service_lookup(
    provider: str, key: str, *, by_name: bool = False, prefix: str = "svc"
) -> Lookup:
    """The packaged service table of a provider, joined on ``key`` (SQL over the field
    aliases): ``{prefix}_key``, ``_name``, ``_category`` and ``_subcategory`` (null where
    the service is unknown). ``by_name`` keys it by FOCUS ServiceName instead."""
    values = (
        mappings.service_name_params(provider) if by_name else mappings.service_params(provider)
    )
    columns = tuple(f"{prefix}_{c}" for c in ("key", "name", "category", "subcategory"))
    return Lookup(key, columns, values)


def region_lookup(provider: str, key: str) -> Lookup:
    """The packaged region table of a provider, joined on ``key``: ``reg_key`` (null where
    the region is unknown), ``reg_id`` and ``reg_name`` (null for a location that is no
    region)."""
    return Lookup(key, ("reg_key", "reg_id", "reg_name"), mappings.region_params(provider))


def category_sql(*prefixes: str) -> tuple[str, str]:
    """SQL for (ServiceCategory, ServiceSubcategory): the first lookup (by prefix) that
    knows the service, else FOCUS's Other / Other (Other)."""
    category, subcategory = mappings.OTHER
    cats = ", ".join(f"{p}_category" for p in prefixes)
    subs = ", ".join(f"{p}_subcategory" for p in prefixes)
    return f"coalesce({cats}, '{category}')", f"coalesce({subs}, '{subcategory}')"


def money_product(a: str, b: str) -> str:
    """SQL for a × b as money: exact to 12 places (DuckDB multiplies DECIMAL(38,12)s at
    24 places, which overflows past 10^14; only those rare rows go through DOUBLE)."""
    return (
        f"coalesce(TRY(CAST(({a}) * ({b}) AS {MONEY})), "
        f"CAST(CAST({a} AS DOUBLE) * CAST({b} AS DOUBLE) AS {MONEY}))"
    )


def provider_conversion(
    path: Path,
    scan: str,
    columns: Mapping[str, SourceColumn],
    lookup: Mapping[str, str],
    plan: ProviderPlan,
    source: str | None,
    params: Sequence[object] = (),
    *,
    reader: str | None = None,
) -> Conversion:
    """The two-stage query for one file. ``lookup`` maps a field name (as ``Field.names``
    spell it) to the file's column; ``params`` are extra query parameters ($2…);
    ``reader`` is what stage one reads instead of ``scan`` (the scan joined with
    values computed once per distinct value, see :func:`focus.per_distinct`)."""
    missing = [
        f.title or f.names[0] for f in plan.fields if f.required and _find(f, lookup) is None
    ]
    if missing:
        raise InputError(
            f"{path}: missing the column{'s' if len(missing) > 1 else ''} "
            f"{', '.join(missing)} that this format needs.",
            plan.format_hint or "Check the export's format and settings.",
        )
    typed: list[str] = []
    checks: list[tuple[str, str]] = []
    cases: list[str] = []
    #: Aliases of plain text fields, which come out of stage one already clean.
    text_aliases = {f.alias for f in plan.fields if f.kind == "text" and not f.allowed}
    # Control characters are looked for in the provider's own text columns, first, so
    # that a message names the column as the provider does.
    texts = [
        column
        for f in plan.fields
        if f.kind in ("text", "json")
        and (column := _find(f, lookup)) is not None
        and columns[column].type == "VARCHAR"
        and not columns[column].no_control
    ]
    texts = list(dict.fromkeys(texts))
    typed.append(f"{control_check([columns[c].ref for c in texts])} AS _f_ctl")
    checks += [(column, CONTROL_EXPECTED) for column in texts]
    cases.append("WHEN _f_ctl > 0 THEN _f_ctl")
    for f in plan.fields:
        column = _find(f, lookup)
        alias = quote_ident(f.alias)
        if column is None:
            typed.append(f"CAST(NULL AS {_SQL_TYPE[f.kind]}) AS {alias}")
            continue
        raw, rtype = columns[column].ref, columns[column].type
        value, expected = _typed(f, raw, rtype, columns[column].cleaned)
        typed.append(f"{value} AS {alias}")
        outside = f" OR {outside_years(alias)}" if f.kind in _TIME_KINDS else ""
        if f.required:
            checks.append((column, expected))
            cases.append(f"WHEN {alias} IS NULL{outside} THEN {len(checks)}")
        elif (f.kind not in ("text", "json") or f.allowed) and not (
            f.kind == "money" and widens_to_money(rtype)
        ):
            # Plain text cannot fail to convert; the other kinds can. The raw value is
            # examined only where the converted one is null (see focus._conversion_query).
            kept = quote_ident(f"_f_{f.alias}")
            typed.append(f"{raw} AS {kept}")
            checks.append((column, expected))
            cases.append(
                f"WHEN {alias} IS NULL AND {_present(kept, rtype, cleaned=columns[column].cleaned)}"
                f"{outside} THEN {len(checks)}"
            )

    typed += [f"{sql} AS {quote_ident(alias)}" for alias, sql in plan.raw.items()]

    # Packaged lookups: hash joins against parameter lists (their numbers follow the
    # format's own parameters: $1 is the path, then ``params``, then these).
    lookup_params: list[object] = []
    joins: list[str] = []
    for i, packaged in enumerate(plan.lookups):
        if len({len(v) for v in packaged.values}) != 1 or len(packaged.values) != len(
            packaged.columns
        ):
            raise ValueError(f"lookup {i}: one list of equal length per column")
        if len(set(packaged.values[0])) != len(packaged.values[0]):
            raise ValueError(f"lookup {i}: repeated keys would repeat rows")
        unnests = []
        for column, values in zip(packaged.columns, packaged.values, strict=True):
            lookup_params.append(list(values))
            number = 1 + len(params) + len(lookup_params)
            unnests.append(f"unnest(${number}::VARCHAR[]) AS {quote_ident(column)}")
        table = f"_lookup{i}"
        joins.append(
            f"LEFT JOIN (SELECT {', '.join(unnests)}) AS {table} "
            f"ON {table}.{quote_ident(packaged.columns[0])} = ({packaged.key})"
        )

    selected: list[str] = []
    stage_two: dict[str, SourceColumn] = {}
    for name, sql in plan.focus.items():
        sql_type = FOCUS_COLUMNS[name]
        # Tags the plan already builds as a JSON object pass through as JSON; raw tag
        # text (Azure's) goes through the FOCUS loader's tag normalisation.
        out_type = "VARCHAR" if sql_type == "JSON" and not plan.tags_built else sql_type
        selected.append(f"CAST({sql} AS {out_type}) AS {quote_ident(name)}")
        # Text fields come out of stage one clean; a formula's text may not.
        cleaned = out_type == "VARCHAR" and sql in text_aliases
        stage_two[name] = SourceColumn(quote_ident(name), out_type, cleaned=cleaned)
    for name, sql in plan.extras.items():
        selected.append(f"CAST({sql} AS VARCHAR) AS {quote_ident(name)}")
        cleaned = sql in text_aliases
        stage_two[name] = SourceColumn(quote_ident(name), "VARCHAR", cleaned=cleaned)
    selected.append(f"{plan.source_sql} AS _source")
    passthrough = ["_source", "_pbad"]
    if plan.keep_sql is not None:
        selected.append(f"({plan.keep_sql}) AS _keep")
        passthrough.append("_keep")
    bad = f"CASE {' '.join(cases)} ELSE 0 END" if cases else "0"
    source_rows = with_text(reader or scan, [columns[c].ref for c in texts])
    fields = f"SELECT {', '.join(typed)} FROM {source_rows}"  # noqa: S608
    if plan.split_sql is not None:
        # The second row (unused_part) repeats the first's values: checked once, and
        # marked _copy so that a bad row's number stays the file's.
        bad = f"CASE WHEN unused_part THEN 0 ELSE {bad} END"
        selected.append("unused_part AS _copy")
        passthrough.append("_copy")
        fields = (
            f"SELECT *, unnest(CASE WHEN coalesce({plan.split_sql}, false) THEN [false, true] "  # noqa: S608
            f"ELSE [false] END) AS unused_part FROM ({fields})"
        )
    selected.append(f"{bad}::INTEGER AS _pbad")
    stage_one = f"SELECT {', '.join(selected)} FROM ({fields}) AS _fields {' '.join(joins)}"  # noqa: S608

    query, focus_checks, extras = _conversion_query(
        path,
        f"({stage_one})",
        stage_two,
        source,
        passthrough=passthrough,
        source_sql="_source",
        check_text=False,
    )
    n = len(checks)
    final = (
        f"SELECT * EXCLUDE (_bad, _pbad, _source), CASE WHEN _pbad > 0 THEN _pbad "  # noqa: S608
        f"WHEN _bad > 0 THEN _bad + {n} ELSE 0 END::INTEGER AS _bad FROM ({query})"
    )
    checks += [(f"{name} (as converted)", expected) for name, expected in focus_checks]
    return Conversion(
        final,
        checks,
        scan,
        dict(columns),
        extras,
        [str(path), *params, *lookup_params],
        filtered=plan.keep_sql is not None,
        copies=plan.split_sql is not None,
    )


_SQL_TYPE = {
    "money": MONEY,
    "timestamp": "TIMESTAMP",
    "date": "TIMESTAMP",
    "text": "VARCHAR",
    "json": "VARCHAR",
    "credits": MONEY,
    "month": "TIMESTAMP",
}


def _find(f: Field, lookup: Mapping[str, str]) -> str | None:
    for name in f.names:
        if name in lookup:
            return lookup[name]
    return None


def _typed(f: Field, raw: str, rtype: str, cleaned: bool = False) -> tuple[str, str]:
    """(SQL giving the field's value, or NULL where it cannot be read; what was expected).
    ``cleaned``: the column holds no blank or NULL token (focus.mark_clean)."""
    text = clean_text(raw, rtype, cleaned)
    if f.kind == "money":
        return _convert("", MONEY, raw, rtype)
    if f.kind == "timestamp":
        return _convert("", "TIMESTAMP", raw, rtype)
    if f.kind == "date":
        return timestamp_sql(raw, rtype), timestamp_expected("a date")
    if f.kind == "month":
        window = current_window()
        return (
            f"TRY_STRPTIME({text}, '%Y%m')",
            f"a month as YYYYMM from {window.earliest_year}01 to {window.latest_year}12",
        )
    if f.kind == "json":
        return json_text(raw, rtype), "JSON"
    if f.kind == "credits":
        # GCP's credits: a JSON list of {name, amount, type…}; the value is their sum.
        as_json = json_text(raw, rtype)
        amounts = (
            f"list_transform(json_extract_string(TRY_CAST({as_json} AS JSON), '$[*].amount'), "
            f"lambda a: TRY_CAST(a AS {MONEY}))"
        )
        return (
            f"CASE WHEN {amounts} IS NULL OR list_contains(list_transform({amounts}, "
            f"lambda v: v IS NULL), true) THEN NULL "
            f"ELSE coalesce(list_sum({amounts}), 0)::{MONEY} END",
            "a JSON list of credits, each with a numeric amount",
        )
    if f.allowed:
        whens = " ".join(f"WHEN '{v.lower()}' THEN '{v}'" for v in f.allowed)
        return f"CASE lower({text}) {whens} ELSE NULL END", "one of " + ", ".join(f.allowed)
    return text, "a value"
