"""One vocabulary for filters: the values a user may name, as the store knows them.

Every filter of the CLI, the dashboard, the report and the Python API (provider, account,
service, anomaly scope, experiment, metric, rule, status) goes through :func:`resolve`:

* values match case-insensitively, and also by their other spellings: a provider by its
  key (``aws``) or its bill name (``AWS``, ``Microsoft``, ``Google Cloud``), an account by
  its id or its name on the bill;
* several values may be given at once, comma-separated (``--provider aws,gcp``);
* a value the store does not know is an :class:`InputError` that lists the known ones,
  so a typo is never a silent empty result.

Values from the store are data: they are compared in Python and passed to SQL as
parameters, never pasted into it.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import duckdb

from mlcost.errors import InputError
from mlcost.schema import PROVIDER_KEY_SQL

#: Known values listed in an error before the rest are counted.
LISTED = 25
#: Scope kinds of anomalies that exist whatever the store holds (tag:KEY are added).
SCOPE_KINDS = ("total", "provider", "account", "service", "gpus")


@dataclass(frozen=True)
class Term:
    """One known value: its canonical spelling (what filters compare) and other names."""

    value: str
    aliases: tuple[str, ...] = field(default=())

    def names(self) -> tuple[str, ...]:
        return (self.value, *self.aliases)

    def label(self) -> str:
        others = [a for a in self.aliases if a != self.value]
        return f"{self.value} ({', '.join(others)})" if others else self.value


def split_values(values: Iterable[str] | str | None) -> list[str]:
    """``["aws,gcp", " azure "]`` → ``["aws", "gcp", "azure"]`` (blanks dropped)."""
    if values is None:
        return []
    if isinstance(values, str):
        values = [values]
    return [v.strip() for value in values for v in str(value).split(",") if v.strip()]


def resolve(
    what: str,
    values: Iterable[str] | str | None,
    known: Sequence[Term],
    *,
    split: bool = True,
    hint: str | None = None,
) -> tuple[str, ...]:
    """The canonical values ``values`` name, in order and once each.

    Raises :class:`InputError` naming the first unknown value and listing the known ones.
    ``split=False`` keeps commas inside a value (names that may hold one).
    """
    if isinstance(values, str):
        values = [values]
    wanted = split_values(values) if split else [v.strip() for v in values or [] if v.strip()]
    if not wanted:
        return ()
    # a value's own spelling wins over another value's alias (a GCP project id may be
    # an Azure subscription's name); an alias several values share names them all
    exact: dict[str, str] = {}
    other: dict[str, list[str]] = {}
    for term in known:
        exact.setdefault(term.value.casefold(), term.value)
        for alias in term.aliases:
            other.setdefault(alias.casefold(), []).append(term.value)
    found: list[str] = []
    for value in wanted:
        key = value.casefold()
        canonical = [exact[key]] if key in exact else other.get(key)
        if not canonical:
            raise unknown(what, value, known, hint=hint)
        found += [c for c in canonical if c not in found]
    return tuple(found)


def unknown(what: str, value: str, known: Sequence[Term], *, hint: str | None = None) -> InputError:
    """The error for a value nobody knows: the known values (the first LISTED), and the
    nearest spelling when one is close."""
    if not known:
        return InputError(
            f"Unknown {what} {value!r}: the store holds no {what} values yet.",
            hint or "Load data first (`mlcost ingest …`, then `mlcost analyze`).",
        )
    labels = [t.label() for t in known]
    listed = ", ".join(labels[:LISTED])
    if len(labels) > LISTED:
        listed += f" and {len(labels) - LISTED} more"
    names = {n.casefold(): t.value for t in known for n in t.names()}
    close = difflib.get_close_matches(value.casefold(), list(names), n=1, cutoff=0.6)
    guess = f"Did you mean {names[close[0]]!r}? " if close else ""
    return InputError(
        f"Unknown {what} {value!r}; the known values are: {listed}.",
        guess + (hint or "Values match in any case; separate several with commas."),
    )


# -- what the store knows ----------------------------------------------------------------


def _tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}


def _billing(con: duckdb.DuckDBPyConnection) -> str:
    """Where the billing's providers and accounts are read: the daily roll-up (the same
    values as ``cost``, from a few thousand rows; ``mlcost.rollups``)."""
    from mlcost.rollups import spend_source

    return spend_source(con).table


def providers(con: duckdb.DuckDBPyConnection) -> list[Term]:
    """Providers by key (aws, azure, gcp), with the names the bill gives them."""
    key = PROVIDER_KEY_SQL.format(n="ProviderName")
    rows = con.execute(
        f"SELECT DISTINCT {key}, ProviderName FROM {_billing(con)} "  # noqa: S608 - constant SQL
        "WHERE ProviderName IS NOT NULL "
        "UNION SELECT DISTINCT provider, NULL FROM recommendations WHERE provider IS NOT NULL "
        "UNION SELECT DISTINCT provider, NULL FROM resources WHERE provider IS NOT NULL"
    ).fetchall()
    return _group(rows)


def accounts(con: duckdb.DuckDBPyConnection) -> list[Term]:
    """Accounts (subscriptions, projects) by id, with their names on the bill."""
    return _group(
        [
            *[(i, n) for i, n in account_names(con).items()],
            *con.execute(
                "SELECT DISTINCT account_id, NULL FROM recommendations "
                "WHERE account_id IS NOT NULL "
                "UNION SELECT DISTINCT account_id, NULL FROM resources "
                "WHERE account_id IS NOT NULL"
            ).fetchall(),
        ]
    )


def account_names(con: duckdb.DuckDBPyConnection) -> dict[str, str | None]:
    """Account id → its name on the bill (the sub-account's, else the billing account's)."""
    rows = con.execute(
        "SELECT coalesce(SubAccountId, BillingAccountId) AS id, "  # noqa: S608 - constant SQL
        "max(CASE WHEN SubAccountId IS NOT NULL THEN SubAccountName ELSE BillingAccountName END) "
        f"FROM {_billing(con)} WHERE coalesce(SubAccountId, BillingAccountId) IS NOT NULL "
        "GROUP BY 1 ORDER BY 1"
    ).fetchall()
    return {r[0]: r[1] for r in rows}


def services(con: duckdb.DuckDBPyConnection) -> list[Term]:
    rows = con.execute(
        f"SELECT DISTINCT ServiceName FROM {_billing(con)} "  # noqa: S608 - constant SQL
        "WHERE ServiceName IS NOT NULL ORDER BY 1"
    ).fetchall()
    return [Term(r[0]) for r in rows]


def rules() -> list[Term]:
    from mlcost.rules import all_rules

    return [Term(r) for r in all_rules()]


def choices(values: Sequence[str]) -> list[Term]:
    """A fixed list (statuses, periods): matched in any case like the rest."""
    return [Term(v) for v in values]


def experiments(con: duckdb.DuckDBPyConnection) -> list[Term]:
    rows = con.execute(
        "SELECT DISTINCT experiment FROM runs WHERE experiment IS NOT NULL ORDER BY 1"
    ).fetchall()
    return [Term(r[0]) for r in rows]


def metrics(con: duckdb.DuckDBPyConnection, experiment_names: Sequence[str] = ()) -> list[Term]:
    """The numeric metrics the runs of those experiments (default: all) report."""
    rows = con.execute(
        "SELECT metrics FROM runs WHERE metrics IS NOT NULL "
        "AND (len($e) = 0 OR list_contains($e, experiment))",
        {"e": list(experiment_names)},
    ).fetchall()
    names: set[str] = set()
    for (text,) in rows:
        try:
            values = json.loads(text)
        except ValueError:
            continue
        if isinstance(values, dict):
            names.update(
                k
                for k, v in values.items()
                if isinstance(v, int | float) and not isinstance(v, bool)
            )
    return [Term(n) for n in sorted(names)]


def scope_kinds(con: duckdb.DuckDBPyConnection, tag_keys: Sequence[str] = ()) -> list[Term]:
    """The anomaly scope kinds: the fixed ones, the configured tag keys, and any other
    kind the stored anomalies have."""
    kinds = [*SCOPE_KINDS, *(f"tag:{k}" for k in tag_keys)]
    if "anomalies" in _tables(con):
        rows = con.execute("SELECT DISTINCT scope FROM anomalies ORDER BY 1").fetchall()
        kinds += [r[0] for r in rows]
    return [Term(k) for k in dict.fromkeys(kinds)]


def scope_values(con: duckdb.DuckDBPyConnection, kind: str) -> list[Term]:
    """The values a scope kind can take, as its series name them: providers by bill name
    (with the key as an alias), accounts by id (with the name), services, tag values; and
    whatever the stored anomalies hold."""
    pairs: list[tuple[str, str | None]] = []
    if kind == "provider":
        pairs += [(a, t.value) for t in providers(con) for a in t.aliases]
    elif kind == "account":
        pairs += list(account_names(con).items())
    elif kind == "service":
        pairs += [(t.value, None) for t in services(con)]
    elif kind.startswith("tag:"):
        pointer = "/" + kind[4:].replace("~", "~0").replace("/", "~1")
        rows = con.execute(
            "SELECT DISTINCT json_extract_string(Tags, ?) AS v FROM cost WHERE v IS NOT NULL",
            [pointer],
        ).fetchall()
        pairs += [(r[0], None) for r in rows]
    if "anomalies" in _tables(con):
        rows = con.execute(
            "SELECT DISTINCT scope_value FROM anomalies WHERE scope = ?", [kind]
        ).fetchall()
        pairs += [(r[0], None) for r in rows]
    return _group(pairs)


def resolve_scopes(
    con: duckdb.DuckDBPyConnection, scopes: Iterable[str], tag_keys: Sequence[str] = ()
) -> list[str]:
    """``--scope`` values (``KIND`` or ``KIND=VALUE``, comma-separated lists allowed) in
    their stored spelling: ``provider=aws,gcp`` → ``provider=AWS``, ``provider=Google
    Cloud``; ``Service`` → ``service``. After ``KIND=VALUE``, a bare item that is not a
    scope kind is another value of that kind."""
    kinds = scope_kinds(con, tag_keys)
    kind_names = {k.value.casefold() for k in kinds}
    values: dict[str, list[Term]] = {}
    out: list[str] = []
    for scope in scopes:
        current: str | None = None
        for item in split_values(scope):
            kind, sep, value = item.partition("=")
            if not sep and current is not None and kind.casefold() not in kind_names:
                kind, value, sep = current, item, "="
            (kind,) = resolve(
                "anomaly scope", kind, kinds, split=False,
                hint="Give a scope kind, or KIND=VALUE (for example provider=aws).",
            )  # fmt: skip
            if not sep:
                current = None
                out.append(kind)
                continue
            current = kind
            if kind not in values:
                values[kind] = scope_values(con, kind)
            named = resolve(f"{kind} value", value, values[kind], split=False)
            out += [f"{kind}={v}" for v in named]
    return list(dict.fromkeys(out))


def _group(rows: Iterable[tuple[str, str | None]]) -> list[Term]:
    """(canonical, alias) pairs → one term per canonical value, sorted."""
    aliases: dict[str, list[str]] = {}
    for value, alias in rows:
        if value is None:
            continue
        names = aliases.setdefault(str(value), [])
        if alias is not None and str(alias) != str(value) and str(alias) not in names:
            names.append(str(alias))
    return [Term(v, tuple(a)) for v, a in sorted(aliases.items())]


#: The shortest id prefix accepted for a whole id (as git takes short hashes).
MIN_PREFIX = 4


def resolve_id(
    con: duckdb.DuckDBPyConnection, sql: str, given: str, what: str, hint: str
) -> str | None:
    """The whole id that ``given`` names: itself, or the one id it is a prefix of (at
    least MIN_PREFIX characters, any case). ``sql`` lists the ids (one column, filtered
    by a ``$prefix`` parameter of the form ``abc%``). None when nothing matches; an
    ambiguous prefix is an error naming the ids it could be."""
    given = given.strip()
    exact = con.execute(f"SELECT id FROM ({sql}) WHERE id = $id", {"id": given, "prefix": given})  # noqa: S608 - sql is our constant
    if exact.fetchall():
        return given
    if len(given) < MIN_PREFIX:
        return None
    rows = con.execute(
        f"SELECT DISTINCT id FROM ({sql}) ORDER BY 1 LIMIT 6",  # noqa: S608 - sql is our constant
        {"prefix": given.lower().replace("\\", "").replace("%", "").replace("_", "") + "%"},
    ).fetchall()
    if len(rows) == 1:
        return str(rows[0][0])
    if len(rows) > 1:
        shown = ", ".join(str(r[0]) for r in rows[:5]) + (" …" if len(rows) > 5 else "")
        raise InputError(f"The {what} id {given!r} is ambiguous: it starts {shown}.", hint)
    return None
