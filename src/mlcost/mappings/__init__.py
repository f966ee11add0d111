"""Provider services and regions mapped to FOCUS values: packaged data, read once.

Three CSV files beside this module, versioned with the code (:data:`VERSION` changes
whenever a row does):

* ``focus_categories.csv``: FOCUS 1.2's allowed ServiceCategory × ServiceSubcategory
  pairs (each subcategory has one parent category);
* ``services.csv``: ``provider, key, service_name, service_category,
  service_subcategory``. The key is what the provider's billing export names a service
  by: the AWS product code (``line_item_product_code``, e.g. ``AmazonSageMaker``), the
  Azure meter category (``MeterCategory``), the GCP service description
  (``service.description``). ``service_name`` is the FOCUS ServiceName (AWS: the product
  name, as ``product/ProductName`` writes it; Azure and GCP: the key itself);
* ``regions.csv``: ``provider, key, region_id, region_name``. The key is the region as
  the export writes it (AWS region code; Azure location, lower-cased without spaces,
  including the older ``US East``-style names; GCP region); an empty region_id marks a
  location that is no region (Azure ``global``, ``Unassigned``).

A service the table does not know is ``Other`` / ``Other (Other)`` (:data:`OTHER`), never
null; the converters count such rows in the ingest report. The converters pass these
tables to DuckDB as query parameters (:func:`service_params`, :func:`region_params`),
so no packaged or provider string is ever part of the SQL text.
"""

from __future__ import annotations

import csv
import functools
import io
from dataclasses import dataclass
from importlib import resources

#: Bumped whenever a row of the packaged tables changes (year.release).
VERSION = "2026.1"

PROVIDERS = ("aws", "azure", "gcp")

#: What an unknown service is filed under.
OTHER = ("Other", "Other (Other)")


@dataclass(frozen=True)
class ServiceMapping:
    """One provider service: the key its export uses, and its FOCUS values."""

    provider: str
    key: str
    service_name: str
    category: str
    subcategory: str


@dataclass(frozen=True)
class RegionMapping:
    """One way an export writes a region, and the FOCUS RegionId / RegionName it is
    (both None for a location that is no region)."""

    provider: str
    key: str
    region_id: str | None
    region_name: str | None


class MappingError(ValueError):
    """The packaged tables contradict themselves (a packaging bug, caught by tests)."""


def _rows(name: str) -> list[dict[str, str]]:
    text = resources.files(__name__).joinpath(name).read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text)))


@functools.cache
def subcategories() -> dict[str, tuple[str, ...]]:
    """FOCUS 1.2 ServiceCategory → its allowed ServiceSubcategory values, in spec order."""
    out: dict[str, list[str]] = {}
    for row in _rows("focus_categories.csv"):
        out.setdefault(row["service_category"], []).append(row["service_subcategory"])
    return {category: tuple(subs) for category, subs in out.items()}


def categories() -> tuple[str, ...]:
    """FOCUS 1.2's allowed ServiceCategory values."""
    return tuple(subcategories())


@functools.cache
def _services() -> tuple[ServiceMapping, ...]:
    rows = tuple(
        ServiceMapping(
            r["provider"],
            r["key"],
            r["service_name"],
            r["service_category"],
            r["service_subcategory"],
        )
        for r in _rows("services.csv")
    )
    _check_services(rows)
    return rows


def _check_services(rows: tuple[ServiceMapping, ...]) -> None:
    allowed = subcategories()
    keys: set[tuple[str, str]] = set()
    names: dict[tuple[str, str], str] = {}
    for row in rows:
        where = f"services.csv ({row.provider}, {row.key})"
        if row.provider not in PROVIDERS:
            raise MappingError(f"{where}: unknown provider; known: {', '.join(PROVIDERS)}.")
        if (row.provider, row.key) in keys:
            raise MappingError(f"{where}: the key appears twice.")
        keys.add((row.provider, row.key))
        if row.subcategory not in allowed.get(row.category, ()):
            raise MappingError(
                f"{where}: {row.subcategory!r} is not a FOCUS 1.2 subcategory of {row.category!r}."
            )
        first = names.setdefault((row.provider, row.service_name), row.category)
        if first != row.category:
            raise MappingError(
                f"{where}: ServiceName {row.service_name!r} would have two categories "
                f"({first}, {row.category})."
            )


@functools.cache
def _regions() -> tuple[RegionMapping, ...]:
    rows = tuple(
        RegionMapping(r["provider"], r["key"], r["region_id"] or None, r["region_name"] or None)
        for r in _rows("regions.csv")
    )
    seen: set[tuple[str, str]] = set()
    for row in rows:
        if row.provider not in PROVIDERS or (row.provider, row.key) in seen:
            raise MappingError(f"regions.csv ({row.provider}, {row.key}): bad or repeated key.")
        if (row.region_id is None) != (row.region_name is None):
            raise MappingError(f"regions.csv ({row.provider}, {row.key}): id without name.")
        seen.add((row.provider, row.key))
    return rows


def services(provider: str | None = None) -> tuple[ServiceMapping, ...]:
    """The packaged service table (one provider's rows, or all)."""
    return tuple(s for s in _services() if provider is None or s.provider == provider)


def regions(provider: str | None = None) -> tuple[RegionMapping, ...]:
    """The packaged region table (one provider's rows, or all)."""
    return tuple(r for r in _regions() if provider is None or r.provider == provider)


@functools.cache
def _service_index() -> dict[tuple[str, str], ServiceMapping]:
    index: dict[tuple[str, str], ServiceMapping] = {}
    for row in _services():
        index[(row.provider, row.key)] = row
    for row in _services():  # a service is also found by its FOCUS ServiceName
        index.setdefault((row.provider, row.service_name), row)
    return index


def service(provider: str, name: str | None) -> ServiceMapping | None:
    """The mapping for a service named by its export key or its ServiceName, or None."""
    if name is None:
        return None
    return _service_index().get((_provider(provider), name))


def service_category(provider: str, name: str | None) -> tuple[str, str]:
    """(ServiceCategory, ServiceSubcategory) of a provider's service, looked up by its
    export key (AWS product code, Azure meter category, GCP service description) or its
    ServiceName; :data:`OTHER` for a service the table does not know."""
    found = service(provider, name)
    return (found.category, found.subcategory) if found else OTHER


def region_name(provider: str, region: str | None) -> str | None:
    """The FOCUS RegionName of a region as the export writes it, or None if unknown."""
    if region is None:
        return None
    key = region.lower().replace(" ", "") if _provider(provider) == "azure" else region
    for row in _regions():
        if row.provider == _provider(provider) and row.key == key:
            return row.region_name
    return None


def service_params(provider: str) -> list[list[str]]:
    """One provider's service table as four parallel lists (key, service name,
    category, subcategory), the query parameters a converter joins on."""
    rows = services(_provider(provider))
    return [
        [r.key for r in rows],
        [r.service_name for r in rows],
        [r.category for r in rows],
        [r.subcategory for r in rows],
    ]


def service_name_params(provider: str) -> list[list[str]]:
    """Like :func:`service_params`, keyed by ServiceName instead (one row per name): for
    a row whose export key is missing or unknown but whose service name is known."""
    first: dict[str, ServiceMapping] = {}
    for row in services(_provider(provider)):
        first.setdefault(row.service_name, row)
    rows = list(first.values())
    return [
        [r.service_name for r in rows],
        [r.service_name for r in rows],
        [r.category for r in rows],
        [r.subcategory for r in rows],
    ]


def region_params(provider: str) -> list[list[str | None]]:
    """One provider's region table as three parallel lists (key, region id, name). Each
    region's name is a key too, for exports that write only a location's name (AWS
    ``product/location`` without a region code)."""
    rows = list(regions(_provider(provider)))
    keys = {r.key for r in rows}
    for row in list(rows):
        if row.region_name is not None and row.region_name not in keys:
            keys.add(row.region_name)
            rows.append(
                RegionMapping(row.provider, row.region_name, row.region_id, row.region_name)
            )
    return [[r.key for r in rows], [r.region_id for r in rows], [r.region_name for r in rows]]


def _provider(provider: str) -> str:
    lowered = provider.lower()
    aliases = {"microsoft": "azure", "google cloud": "gcp", "google": "gcp"}
    lowered = aliases.get(lowered, lowered)
    if lowered not in PROVIDERS:
        raise MappingError(f"Unknown provider {provider!r}; known: {', '.join(PROVIDERS)}.")
    return lowered
