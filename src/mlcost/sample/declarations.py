"""The sample organisation's declarations, read from the data files in
``mlcost/sample/data/`` (TOML, and CSV for long uniform tables) into typed, frozen
dataclasses. :mod:`mlcost.sample.org` builds the organisation from them.

Every entry is checked as it is read: an unknown key, a missing one or a value of the
wrong type is one :class:`SampleDataError` naming the file, the entry and the key. The
format is documented in ``docs/sample-organisation.md``.
"""

from __future__ import annotations

import csv
import io
import tomllib
import types
from dataclasses import MISSING, dataclass, field, fields, is_dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from importlib import resources
from typing import Any, TypeVar, Union, get_args, get_origin, get_type_hints

T = TypeVar("T")


class SampleDataError(ValueError):
    """A sample data file does not say what the builder needs (a packaging bug, or an
    edit to a data file: the message names the file, the entry and the key)."""


#: A day of the window: a TOML date (``2026-09-09``) or the name of a planted day
#: (``"spike_total"``, see ``anomalies.toml``).
Day = date | str


# -- declarations -------------------------------------------------------------------------


@dataclass(frozen=True)
class Plant:
    """A planted finding: ``rule`` must fire on the resource (the answer key's
    ``recommendations``); ``may_also`` lists rules that may fire on it as well."""

    rule: str
    note: str
    may_also: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Negative:
    """A resource on which none of ``rules`` may fire (the answer key's ``negatives``)."""

    rules: list[str]
    note: str


@dataclass(frozen=True)
class Elastic:
    """Random whole hours a day, drawn from [lo, hi] (weekdays and weekends), growing
    with the window's +15 % trend and capped at 24."""

    weekday: list[int]
    weekend: list[int]


@dataclass(frozen=True)
class Hours:
    """Billed hours per day. ``per_day`` hours on the days from ``start`` to ``stop``
    (exclusive; default: the whole window), or only ``on`` those days; none on the
    ``off`` days; ``set`` gives single days their own hours (keys are dates)."""

    start: Day | None = None
    stop: Day | None = None
    on: list[Day] | Day | None = None
    off: list[Day] | Day | None = None
    per_day: float = 24.0
    set: dict[str, float] = field(default_factory=dict)
    elastic: Elastic | None = None


@dataclass(frozen=True)
class DaySpan:
    """The days from ``start`` to ``stop`` (exclusive); default: the whole window."""

    start: Day | None = None
    stop: Day | None = None


@dataclass(frozen=True)
class DailySample:
    """A daily metric given as it is: ``value`` on each day of [start, stop), or
    ``values`` on consecutive days from ``start``."""

    metric: str
    stat: str
    value: float | None = None
    values: list[float] | None = None
    start: Day | None = None
    stop: Day | None = None


@dataclass(frozen=True)
class ResourceDecl:
    """One resource of the sample organisation (see ``docs/sample-organisation.md``)."""

    key: str
    kind: str
    name: str
    account: str
    created: datetime | None = None
    #: The file's ``provider`` unless the entry names its own.
    provider: str | None = None
    type: str | None = None
    state: str | None = None
    region: str | None = None
    zone: str | None = None
    #: The resource id; by default derived from ``id_name`` (default: ``name``).
    id: str | None = None
    id_name: str | None = None
    resource_group: str | None = None
    workspace: str | None = None
    count: int = 1
    #: A resource id, or ``@key`` for a resource of the organisation.
    attached_to: str | None = None
    source: str | None = None
    size_gb: float | None = None
    #: A bucket's size on the first and last day of the window, TB (linear growth).
    size_tb: list[float] | None = None
    lifecycle: str | None = None
    last_used: datetime | None = None
    details: dict[str, Any] = field(default_factory=dict)
    #: Keys of ``details`` whose value is JSON null (TOML has no null).
    null_details: list[str] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)
    hours: Hours | str = "always"
    profile: str | None = None
    metric_days: DaySpan | None = None
    inventory: bool = True
    commitment: str | None = None
    price: str | None = None
    start_hour: int = 0
    boot_disk_gb: float | None = None
    #: A VM as declared: no boot disk, no details beyond its own.
    bare: bool = False
    daily: list[DailySample] = field(default_factory=list)
    pattern: str | None = None
    #: A job entry with ``series = N`` stands for N generated jobs (see org.py).
    series: int | None = None
    plant: Plant | None = None
    negative: Negative | None = None


@dataclass(frozen=True)
class ResourceFile:
    provider: str | None = None
    resource: list[ResourceDecl] = field(default_factory=list)


@dataclass(frozen=True)
class CommitmentDecl:
    key: str
    provider: str
    account: str
    region: str
    id: str
    name: str
    category: str
    type: str
    unit: str
    quantity: str
    rate: str
    service: str
    start: datetime
    term_years: int
    plan_rates: dict[str, str] = field(default_factory=dict)
    payment: str = "No Upfront"
    upfront_rate: str = "0"
    covers: str | None = None
    plant: Plant | None = None
    negative: Negative | None = None


@dataclass(frozen=True)
class CommitmentFile:
    commitment: list[CommitmentDecl]


@dataclass(frozen=True)
class Scope:
    scope: str
    scope_value: str


@dataclass(frozen=True)
class AnomalyDecl:
    days: Day
    scope: str
    scope_value: str
    direction: str
    note: str
    also_visible_in: list[Scope] = field(default_factory=list)


@dataclass(frozen=True)
class AnomalyFile:
    planted_days: dict[str, list[date] | date]
    anomaly: list[AnomalyDecl]


@dataclass(frozen=True)
class BillingAccountDecl:
    id: str
    name: str
    type: str


@dataclass(frozen=True)
class AccountDecl:
    key: str
    provider: str
    id: str
    name: str
    type: str


@dataclass(frozen=True)
class AccountFile:
    #: Per provider: the billing account every account of that cloud is billed to.
    billing_account: dict[str, BillingAccountDecl]
    account: list[AccountDecl]


@dataclass(frozen=True)
class StoragePrice:
    price: str
    unit: str


@dataclass(frozen=True)
class VertexPrices:
    training_a2_8g: str
    prediction: dict[str, str]
    workbench: dict[str, str]


@dataclass(frozen=True)
class PriceFile:
    spot: dict[str, str]
    storage: dict[str, StoragePrice]
    vertex: VertexPrices


# -- reading ------------------------------------------------------------------------------


def to_decimal(value: str, where: str) -> Decimal:
    """A money figure written as a string (``"19.2256"``), exactly."""
    try:
        return Decimal(value)
    except InvalidOperation:
        raise SampleDataError(f"{where}: {value!r} is not a decimal number.") from None


def to_int(value: str, where: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise SampleDataError(f"{where}: {value!r} is not an integer.") from None


def _where_file(name: str) -> str:
    return f"mlcost/sample/data/{name}"


def _text(name: str) -> str:
    return resources.files("mlcost.sample").joinpath("data", name).read_text(encoding="utf-8")


def read_toml(cls: type[T], name: str, text: str | None = None) -> T:
    """Read data file ``name`` (or ``text`` given as its content) as a ``cls``."""
    where = _where_file(name)
    try:
        raw = tomllib.loads(_text(name) if text is None else text)
    except tomllib.TOMLDecodeError as exc:
        raise SampleDataError(f"{where}: not valid TOML ({exc}).") from None
    return _build(cls, raw, where)


def read_csv(
    name: str, columns: tuple[str, ...], optional: tuple[str, ...] = (), text: str | None = None
) -> list[dict[str, str]]:
    """Rows of CSV data file ``name`` (or ``text`` given as its content), whose header must
    be exactly ``columns``; only the ``optional`` columns may be empty."""
    where = _where_file(name)
    reader = csv.DictReader(io.StringIO(_text(name) if text is None else text))
    if tuple(reader.fieldnames or ()) != columns:
        raise SampleDataError(
            f"{where}: the header must be {','.join(columns)}, "
            f"not {','.join(reader.fieldnames or ())}."
        )
    rows = list(reader)
    for n, row in enumerate(rows, start=2):
        if None in row or any(v is None for v in row.values()):
            raise SampleDataError(f"{where}, line {n}: expected {len(columns)} values.")
        empty = [c for c, v in row.items() if v == "" and c not in optional]
        if empty:
            raise SampleDataError(f"{where}, line {n}: {empty[0]!r} is empty.")
    return rows


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    if cls not in _HINTS:
        _HINTS[cls] = get_type_hints(cls)
    return _HINTS[cls]


def _entry_name(cls: type, raw: dict[str, Any], where: str) -> str:
    label = cls.__name__.removesuffix("Decl").lower()
    key = raw.get("key")
    if not isinstance(key, str):
        return where
    # An entry with a key is named by its file and key, wherever it sits in the file.
    return f"{where.split(':', 1)[0].split(',', 1)[0]}, {label} {key!r}"


def _build(cls: type[T], raw: Any, where: str) -> T:
    if not isinstance(raw, dict):
        raise SampleDataError(f"{where}: expected a table, got {_show(raw)}.")
    where = _entry_name(cls, raw, where)
    hints = _hints(cls)
    known = {f.name: f for f in fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(raw) - set(known))
    if unknown:
        raise SampleDataError(
            f"{where}: unknown key {unknown[0]!r}; the keys are: {', '.join(known)}."
        )
    values: dict[str, Any] = {}
    for name, f in known.items():
        if name not in raw:
            if f.default is MISSING and f.default_factory is MISSING:
                raise SampleDataError(f"{where}: {name!r} is missing.")
            continue
        values[name] = _conform(raw[name], hints[name], f"{where}: {name!r}")
    return cls(**values)


def _conform(value: Any, tp: Any, where: str) -> Any:
    """``value`` as type ``tp``, or a SampleDataError saying what was expected."""
    origin = get_origin(tp)
    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        tables = [a for a in get_args(tp) if is_dataclass(a)]
        if isinstance(value, dict) and len(tables) == 1:
            # A table can only be that declaration: say what is wrong inside it.
            return _build(tables[0], value, where)  # type: ignore[arg-type]
        for arm in get_args(tp):
            if arm is type(None):
                continue
            try:
                return _conform(value, arm, where)
            except SampleDataError:
                pass
        raise SampleDataError(f"{where} must be {_describe(tp)}, not {_show(value)}.")
    if origin is list:
        if not isinstance(value, list):
            raise SampleDataError(f"{where} must be {_describe(tp)}, not {_show(value)}.")
        (arg,) = get_args(tp)
        return [_conform(v, arg, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise SampleDataError(f"{where} must be {_describe(tp)}, not {_show(value)}.")
        arg = get_args(tp)[1]
        return {k: _conform(v, arg, f"{where}[{k!r}]") for k, v in value.items()}
    if is_dataclass(tp):
        return _build(tp, value, where)  # type: ignore[arg-type]
    ok: bool
    if tp is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif tp is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif tp is datetime:
        ok = isinstance(value, date) and getattr(value, "tzinfo", None) is None
        if ok and not isinstance(value, datetime):
            value = datetime(value.year, value.month, value.day)
    elif tp is date:
        ok = type(value) is date
    else:
        ok = isinstance(value, tp)
    if not ok:
        raise SampleDataError(f"{where} must be {_describe(tp)}, not {_show(value)}.")
    return value


def _describe(tp: Any) -> str:
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        arms = [a for a in get_args(tp) if a is not type(None)]
        return " or ".join(_describe(a) for a in arms)
    if origin is list:
        return f"a list of ({_describe(get_args(tp)[0])})"
    if origin is dict:
        return f"a table of ({_describe(get_args(tp)[1])})"
    if is_dataclass(tp):
        return f"a table ({', '.join(f.name for f in fields(tp))})"
    return {
        str: "a string",
        int: "an integer",
        float: "a number",
        bool: "true or false",
        datetime: "a date or a local date-time",
        date: "a date",
    }.get(tp, str(tp))


def _show(value: Any) -> str:
    kind = {
        str: "a string",
        int: "an integer",
        float: "a number",
        bool: "a boolean",
        list: "a list",
        dict: "a table",
    }.get(type(value), type(value).__name__)
    text = repr(value)
    return f"{kind} ({text if len(text) <= 40 else text[:37] + '...'})"
