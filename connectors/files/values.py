"""SQL for one value of a billing file: text as written (blanks and NULL tokens as
null), money exactly, timestamps as UTC within the years a bill covers, and text
searched for control characters. Every format's conversion (the FOCUS loader's and
the providers', connectors/files/convert.py) builds its values from these, chosen by
the column's physical type: a cast that cannot fail is a plain cast with no check.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Sequence
from contextvars import ContextVar

from mlcost.config import BillingSettings
from mlcost.schema import MONEY

#: Text as the file writes it, with blanks and NULL tokens as null. Values are never
#: trimmed or otherwise rewritten: " org" and "org" are two different things. Most values
#: have no space at either end and are longer than ``NULL``, and pass on the first test
#: (LIKE tests the ends without taking them out).
#: A text value that stands for no value: blank, or a NULL token (spaces around it too).
NULL_TOKEN = "trim({x}) IN ('', 'NULL', 'null', 'Null')"
_CLEAN = (
    "CASE WHEN {x} NOT LIKE ' %' AND {x} NOT LIKE '% ' AND strlen({x}) > 4 THEN {x} "
    f"WHEN {NULL_TOKEN} THEN NULL ELSE {{x}} END"
)

#: Timestamps written with no zone or offset, or with ``Z`` (most exports): a plain
#: TIMESTAMP cast reads them, three times faster than going through TIMESTAMPTZ.
_UTC_SHAPES = ("____-__-__ __:__:__", "____-__-__T__:__:__", "____-__-__T__:__:__Z")

#: Slash dates are read month first (M/D/YYYY or M/D/YY, as US spreadsheets, Azure's
#: cost details and the FOCUS specification's own examples write them), with an optional
#: time. The year's digits choose the format: ``%Y`` would read ``4/1/25`` as year 25.
_SLASH_TIMES = ("", " %H:%M", " %H:%M:%S", " %I:%M %p", " %I:%M:%S %p")
_SLASH_LONG = "[" + ", ".join(f"'%m/%d/%Y{t}'" for t in _SLASH_TIMES) + "]"
_SLASH_SHORT = "[" + ", ".join(f"'%m/%d/%y{t}'" for t in _SLASH_TIMES) + "]"

#: The years a billing timestamp may fall in, by default (``[billing]`` settings change
#: them for a load, see :func:`billing_window`). A year outside is refused, never stored:
#: it is a misread date (``4/1/25`` as year 4) or a placeholder (9999-12-31), and one such
#: row breaks every analysis over time. Six years ahead leaves room for the end of a
#: commitment bought today (five-year reservations exist).
EARLIEST_YEAR = BillingSettings().earliest_year
LATEST_YEAR = BillingSettings().latest_year

#: The ``[billing]`` settings of the load being planned: a context variable, so that the
#: SQL of every format (built deep inside the converters) checks the same window.
_WINDOW: ContextVar[BillingSettings] = ContextVar(
    "mlcost_billing_window",
    default=BillingSettings(),  # noqa: B039 (a frozen dataclass: never mutated)
)


@contextlib.contextmanager
def billing_window(settings: BillingSettings | None) -> Iterator[BillingSettings]:
    """Plan the conversions made inside the block with ``settings``' dates (None: the
    defaults, or the window already in force)."""
    token = _WINDOW.set(settings) if settings is not None else None
    try:
        yield _WINDOW.get()
    finally:
        if token is not None:
            _WINDOW.reset(token)


def current_window() -> BillingSettings:
    """The ``[billing]`` settings the conversions planned now check against."""
    return _WINDOW.get()


def timestamp_expected(what: str = "a timestamp") -> str:
    """What a timestamp must be, for messages: its forms and the years of the window."""
    window = _WINDOW.get()
    return (
        f"{what} (ISO 8601, or M/D/YYYY) from {window.earliest_year}-01-01 "
        f"to {window.latest_year}-12-31"
    )


def timestamp_sql(raw: str, rtype: str) -> str:
    """SQL giving ``raw`` as a UTC TIMESTAMP, or NULL where it is not a timestamp this
    loader reads for certain (:func:`outside_years` then checks the year).

    Text: ISO 8601 (``T`` or a space, ``Z``, an offset, which is applied, or a date
    alone) or a month-first slash date; nothing else, since DuckDB's own cast guesses
    (``4/1/25`` → year 4). Typed columns (TIMESTAMP, TIMESTAMPTZ, DATE) are cast.
    """
    if rtype == "VARCHAR":
        t = f"trim({raw})"
        general = f"TRY_CAST(TRY_CAST({t} AS TIMESTAMPTZ) AS TIMESTAMP)"
        shaped = " OR ".join(f"{raw} LIKE '{shape}'" for shape in _UTC_SHAPES)
        value = (
            f"CASE WHEN {shaped} THEN coalesce(TRY_CAST({raw} AS TIMESTAMP), {general}) "
            f"WHEN regexp_full_match({t}, '\\d{{4}}-\\d{{1,2}}-\\d{{1,2}}([T ].*)?') "
            f"THEN {general} "
            f"WHEN regexp_full_match({t}, '\\d{{1,2}}/\\d{{1,2}}/\\d{{4}}( .*)?') "
            f"THEN TRY_STRPTIME({t}, {_SLASH_LONG}) "
            f"WHEN regexp_full_match({t}, '\\d{{1,2}}/\\d{{1,2}}/\\d{{2}}( .*)?') "
            f"THEN TRY_STRPTIME({t}, {_SLASH_SHORT}) END"
        )
    elif rtype == "TIMESTAMP":
        value = raw  # zone-less (Spark's INT96 too): taken as UTC as it is
    elif rtype == "TIMESTAMP WITH TIME ZONE":
        # The instant as UTC from its epoch: a tenth of the cost of the cast, which goes
        # through the time zone library (±infinity gives NULL, refused as unreadable).
        value = f"make_timestamp(epoch_us({raw}))"
    else:
        value = f"TRY_CAST({raw} AS TIMESTAMP)"
    return value


def outside_years(column: str) -> str:
    """SQL that is true where the timestamp ``column`` falls outside the years a bill
    can cover (the row is then refused, naming the value)."""
    window = _WINDOW.get()
    return (
        f"({column} < TIMESTAMP '{window.earliest_year:04d}-01-01' "
        f"OR {column} >= TIMESTAMP '{window.latest_year + 1:04d}-01-01')"
    )


def clean_text(raw: str, rtype: str, cleaned: bool = False) -> str:
    """A column as clean text: trimmed, with blanks and ``NULL`` as null."""
    if rtype != "VARCHAR":
        return f"CAST({raw} AS VARCHAR)"
    return raw if cleaned else _CLEAN.format(x=raw)


def json_text(raw: str, rtype: str) -> str:
    """A column as JSON text: text as it is (cleaned), a nested value (a struct, a list,
    a MAP) serialised, or NULL where it cannot be."""
    if rtype == "VARCHAR":
        return clean_text(raw, rtype)
    return f"TRY(CAST(to_json({raw}) AS VARCHAR))"


def _present(raw: str, rtype: str, *, cleaned: bool = False) -> str:
    return (
        f"{clean_text(raw, rtype, cleaned)} IS NOT NULL"
        if rtype == "VARCHAR"
        else f"{raw} IS NOT NULL"
    )


#: Column types a cost or quantity may be read from: numbers, and text holding one.
_NUMERIC_TYPES = re.compile(
    r"^(U?(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT)|FLOAT|DOUBLE|VARINT|BIGNUM"
    r"|DECIMAL\(\d+,\s*\d+\))$"
)


def money_sql(raw: str, rtype: str) -> tuple[str, str]:
    """(SQL giving ``raw`` as exact money, or NULL where it is not a finite number; what
    was expected). Text and numbers only: a boolean is not an amount (DuckDB would add
    1.00 per true), nor is a date.

    A float's NaN and infinities are made NULL explicitly: DuckDB 2.0.1 derives from
    the Parquet statistics (which ignore NaN) that ``TRY_CAST(x AS DECIMAL)`` cannot
    fail, and then treats ``IS NULL`` of the NaN row's result as false, so the check
    alone would let the row through with a NULL cost.
    """
    if rtype == "VARCHAR":
        # The cast skips spaces itself; NULL tokens and 'NaN'/'inf' fail it, as blanks do.
        return f"TRY_CAST({raw} AS {MONEY})", "a number"
    if widens_to_money(rtype):
        return f"CAST({raw} AS {MONEY})", "a number"  # cannot fail: no TRY, no check
    if rtype in ("FLOAT", "DOUBLE"):
        return (
            f"CASE WHEN isfinite({raw}) THEN TRY_CAST({raw} AS {MONEY}) END",
            "a finite number",
        )
    if _NUMERIC_TYPES.match(rtype):
        return f"TRY_CAST({raw} AS {MONEY})", "a number that fits DECIMAL(38,12)"
    return f"CAST(NULL AS {MONEY})", f"a number (the column is {rtype}, not a number)"


#: Integer types whose every value fits DECIMAL(38,12) (26 digits before the point).
_WIDENING_INTEGERS = frozenset(
    ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT")
)


def widens_to_money(rtype: str) -> bool:
    """Whether every value of a column of type ``rtype`` converts to money exactly, so
    that the conversion is a plain cast with nothing to check: DECIMAL(18,6) (Azure's,
    Spark's) and the like, and integers up to 64 bits."""
    if rtype in _WIDENING_INTEGERS or rtype == MONEY:
        return True
    found = re.fullmatch(r"DECIMAL\((\d+),\s*(\d+)\)", rtype)
    if found is None:
        return False
    precision, scale = int(found.group(1)), int(found.group(2))
    return scale <= 12 and precision - scale <= 26


#: Control characters refused in text: C0 but tab, line feed and carriage return, DEL
#: (a NUL truncates strings in other tools; ESC starts terminal escape sequences)...
_C0_CONTROLS = (*range(0, 9), 11, 12, *range(14, 32), 127)
#: ... and C1 (U+0080 to U+009F: CSI, NEL), which a valid export never holds either.
_C1_CONTROLS = tuple(range(128, 160))
#: The same characters written as JSON escapes (``\u0000``, ``\b``) inside a tag object;
#: an escaped backslash before them (``\\u0000`` is text) does not count.
_ESCAPED_CONTROL = (
    r"(^|[^\\])(\\\\)*\\([bf]|u00(0[0-8bBcCeEfF]|1[0-9a-fA-F]|7[fF]|[89][0-9a-fA-F]))"
)
_CONTROL_CODES = frozenset(_C0_CONTROLS + _C1_CONTROLS)
#: The same characters as an RE2 class (the C1 range as code points), and C1 alone.
_C1_RANGE = r"\x{80}-\x{9f}"
_CONTROL_CLASS = rf"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f{_C1_RANGE}]"
_C1_CLASS = f"[{_C1_RANGE}]"
CONTROL_EXPECTED = "text without control characters (NUL, ESC…)"


def with_text(scan: str, refs: Sequence[str]) -> str:
    """The scan with one more column, ``_mlcost_text``: all of a row's text expressions
    ``refs`` joined, which :func:`control_check` searches once per row."""
    if not refs:
        return scan
    return f"(SELECT *, concat({', '.join(refs)}) AS _mlcost_text FROM {scan})"  # noqa: S608


def control_check(refs: Sequence[str]) -> str:
    """SQL over a scan :func:`with_text` made: 0, or the 1-based index of the first of the
    text expressions ``refs`` that holds a control character. A character search each
    on the row's joined text; the culprit is looked for on bad rows only."""
    if not refs:
        return "0"
    # The culprit, on bad rows only: one regular expression per column keeps the query
    # small (its planning is paid once per file, and a load may be of hundreds of files).
    which = " ".join(
        f"WHEN regexp_matches({ref}, '{_CONTROL_CLASS}') THEN {i}" for i, ref in enumerate(refs, 1)
    )
    return f"CASE WHEN {has_control('_mlcost_text')} THEN CASE {which} ELSE 0 END ELSE 0 END"


def has_control(text: str) -> str:
    """SQL that is true where the text ``text`` holds a control character: a character
    search each (faster than one regular expression)."""
    c0 = " OR ".join(f"contains({text}, chr({c}))" for c in _C0_CONTROLS)
    c1 = " OR ".join(f"contains({text}, chr({c}))" for c in _C1_CONTROLS)
    # C1 characters are not ASCII: only text that is not all ASCII is searched.
    return f"(({c0}) OR (strlen({text}) <> length({text}) AND ({c1})))"


def json_control(json_sql: str) -> str:
    """SQL that is true where the JSON text ``json_sql`` holds a control character: one
    escaped (``\\u001b``), or DEL or a C1 character as it is. A tag object's conversion
    (``json()``, a MAP's ``to_json``) writes C0 characters as escapes but DEL and C1 ones
    as they are, ``\\u009b`` included: so the converted text is searched for both (JSON
    cannot hold a C0 character as it is)."""
    escaped = f"contains({json_sql}, '\\') AND regexp_matches({json_sql}, '{_ESCAPED_CONTROL}')"
    # C1 characters are not ASCII: only text that is not all ASCII is searched for them.
    c1 = f"strlen({json_sql}) <> length({json_sql}) AND regexp_matches({json_sql}, '{_C1_CLASS}')"
    return f"(({escaped}) OR contains({json_sql}, chr(127)) OR ({c1}))"
