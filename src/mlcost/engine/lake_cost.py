"""The clouds' own FOCUS exports as the store's ``cost`` table on Spark, read in place.

AWS Data Exports (FOCUS 1.2 with AWS columns), Azure's FocusCost export, GCP's FOCUS
export (the BigQuery table exported to Parquet) and ``mlcost export focus`` output are
read where they lie and given the store's columns by a projection over the files: no
pass writes the data again. The mapping is the FOCUS loader's
(:mod:`mlcost.connectors.files.focus`): columns matched by name in any case, FOCUS 1.3's
ServiceProviderName for ProviderName, the same required columns, enumerations and
``x_`` names for a provider's own columns. What differs between exports is the
physical type, converted here exactly:

* money: DECIMAL (AWS's and GCP's NUMERIC), DOUBLE (AWS, Azure) or text (CSV), as
  ``DECIMAL(38,12)``, a double rounded at the twelfth decimal as the loader does;
* timestamps: with zone (Parquet's UTC-adjusted), without, a date, or ISO 8601 text, as
  naive UTC;
* Tags: JSON text (braces added where Azure leaves them out), a map (AWS), or a list of
  key/value structs (GCP), as a JSON object;
* text: blanks and ``NULL`` tokens as null; enumerations in their canonical spelling.

A required column that is missing, or of a type that does not convert, is refused when
the lake is read; a value that does not convert (text that is not a number, a NaN) stops
the analysis with the lake's folder, the column and the value (:func:`lake_error`), never
a silent NULL.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from typing import Any

from mlcost.connectors.files.focus import (
    ENUMS,
    REQUIRED,
    extra_columns,
    match_focus_columns,
    refuse_missing,
)
from mlcost.errors import InputError
from mlcost.schema import FOCUS_COLUMNS, MONEY

#: What a refused value's message is wrapped in, inside Spark's error (see lake_error).
_MARK, _END = "mlcost-lake[", "]mlcost-lake"

_HINT = (
    "Fix or re-export the billing; nothing was written to the store. docs/spark.md lists "
    "the exports and types the lake reads."
)

#: Spark's names of the types a column already in the store's form has.
_STORE_TYPES = {MONEY: "decimal(38,12)", "TIMESTAMP": "timestamp_ntz", "VARCHAR": "string"}
_STORE_TYPES["JSON"] = "string"

#: A sub-folder of cost/ that is a partition of one export, not an export of its own:
#: ``BILLING_PERIOD=2026-09`` (AWS), ``BillingPeriod=2026-09`` (mlcost), ``20260901-20260930``
#: (Azure), ``2026-09``.
_PARTITION = re.compile(r"^(.*=.*|\d.*)$")
_DATA_SUFFIXES = (".parquet", ".csv", ".csv.gz")


def cost_sources(session: Any, folder: str) -> list[str] | None:
    """The exports under a lake's ``cost/`` folder (None when there is none): each
    sub-folder is one export (``cost/aws/``, ``cost/azure/`` …, each with its own
    columns), unless the folder holds billing files itself or its sub-folders are
    billing periods, when it is one export."""
    listing = _listing(session, folder)
    if listing is None:
        return None
    names = [(name, is_dir) for name, is_dir in listing if not name.startswith(("_", "."))]
    files = any(not is_dir and name.lower().endswith(_DATA_SUFFIXES) for name, is_dir in names)
    folders = [name for name, is_dir in names if is_dir]
    if files or not folders or any(_PARTITION.match(name) for name in folders):
        return [folder]
    return [f"{folder}/{name}" for name in sorted(folders)]


def _listing(session: Any, folder: str) -> list[tuple[str, bool]] | None:
    """(name, is a folder) of what ``folder`` holds, through Hadoop's file systems (so a
    local path, s3a://, abfss://, gs:// and dbfs:/ alike); None where it does not exist."""
    jvm = session.sparkContext._jvm
    path = jvm.org.apache.hadoop.fs.Path(folder)
    fs = path.getFileSystem(session.sparkContext._jsc.hadoopConfiguration())
    if not fs.exists(path):
        return None
    return [(s.getPath().getName(), bool(s.isDirectory())) for s in fs.listStatus(path)]


def read_cost(session: Any, sources: Sequence[str]) -> Any:
    """The exports as one DataFrame with the store's ``cost`` columns (then each
    export's ``x_`` columns), lazily: nothing is read until an analysis asks."""
    frames = [cost_frame(session, source) for source in sources]
    return functools.reduce(lambda a, b: a.unionByName(b, allowMissingColumns=True), frames)


def cost_frame(session: Any, source: str) -> Any:
    """One export (a folder, read with every Parquet file under it, or its CSV files
    where it has no Parquet) as the store's ``cost`` columns."""
    frame = _read(session, source)
    if _in_store_form(frame.schema):
        return frame  # `mlcost export lake`: the store's own columns and types
    return frame.select(*projection(source, frame.schema))


def _read(session: Any, source: str) -> Any:
    reader = session.read.option("recursiveFileLookup", "true").option("mergeSchema", "true")
    try:
        return reader.option("pathGlobFilter", "*.parquet").parquet(source)
    except Exception as exc:  # Spark's AnalysisException
        if "UNABLE_TO_INFER_SCHEMA" not in str(exc) and "PATH_NOT_FOUND" not in str(exc):
            raise
    try:
        csv = (
            reader.option("pathGlobFilter", "*.csv*")
            .option("header", "true")
            .option("escape", '"')
            .option("multiLine", "true")
        )
        return csv.csv(source)
    except Exception as exc:
        if "UNABLE_TO_INFER_SCHEMA" not in str(exc) and "PATH_NOT_FOUND" not in str(exc):
            raise
    raise InputError(
        f"{source}: no Parquet or CSV billing files in it.",
        "Point the lake's cost/ (or --cost) at the folder your FOCUS export writes.",
    )


def _in_store_form(schema: Any) -> bool:
    types = {f.name: f.dataType.simpleString() for f in schema.fields}
    store = {**FOCUS_COLUMNS, "x_source": "VARCHAR", "x_ingested_at": "TIMESTAMP"}
    return all(types.get(name) == _STORE_TYPES[kind] for name, kind in store.items())


def projection(source: str, schema: Any) -> list[Any]:
    """The columns of the store's ``cost`` as expressions over an export's columns."""
    from pyspark.sql import functions as F

    fields = {f.name: f.dataType for f in schema.fields}
    present = match_focus_columns(fields)
    refuse_missing(source, present, list(fields))
    columns = []
    for focus, kind in FOCUS_COLUMNS.items():
        if focus not in present:
            columns.append(F.lit(None).cast(_spark_type(kind)).alias(focus))
            continue
        name = present[focus]
        value = _convert(source, focus, kind, name, fields[name])
        if focus in REQUIRED:
            value = F.when(value.isNull(), _refuse(source, name, "a value")).otherwise(value)
        columns.append(value.alias(focus))
    # x_source as the loader names a FOCUS export's rows: focus:<provider>:<account>
    account = F.lit("")
    if "BillingAccountId" in present:
        account = F.coalesce(_column(present["BillingAccountId"]).cast("string"), account)
    provider = _column(present["ProviderName"]).cast("string")
    columns.append(F.concat(F.lit("focus:"), provider, F.lit(":"), account).alias("x_source"))
    columns.append(F.lit(None).cast("timestamp_ntz").alias("x_ingested_at"))
    for name, extra in extra_columns(fields, present.values()):
        columns.append(_as_text(_column(name), fields[name]).alias(extra))
    return columns


def _spark_type(kind: str) -> str:
    return _STORE_TYPES.get(kind, "string")


def _column(name: str) -> Any:
    """A column by its exact name (a dot or a backtick in it is no path)."""
    from pyspark.sql import functions as F

    return F.col("`" + name.replace("`", "``") + "`")


def _refuse(source: str, column: str, expected: str, found: Any = None) -> Any:
    """An expression that stops the query with a message naming the export, the column,
    what was expected and the value found (cut at 60 characters; None: nothing)."""
    from pyspark.sql import functions as F

    said = f"{source}: column {column}: expected {expected}, found "
    shown = F.lit("nothing")
    if found is not None:
        shown = F.concat(F.lit("'"), F.substring(found.cast("string"), 1, 60), F.lit("'"))
    return F.raise_error(F.concat(F.lit(_MARK + said), shown, F.lit("." + _END)))


def _clean(col: Any) -> Any:
    """Text as written, with blanks and NULL tokens as null (the loader's rule)."""
    from pyspark.sql import functions as F

    return F.when(F.trim(col).isin("", "NULL", "null", "Null"), F.lit(None)).otherwise(col)


def _as_text(col: Any, dtype: Any) -> Any:
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    if isinstance(dtype, T.StringType):
        return _clean(col)
    if isinstance(dtype, T.MapType | T.StructType | T.ArrayType):
        return F.to_json(col)
    return col.cast("string")


def _convert(source: str, focus: str, kind: str, name: str, dtype: Any) -> Any:
    """One FOCUS column from the export's column ``name`` of Spark type ``dtype``."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    col = _column(name)
    shown = dtype.simpleString()

    def refused(hint: str) -> InputError:
        return InputError(
            f"{source}: column {name} is {shown}, which mlcost cannot read as {hint}.", _HINT
        )

    if kind == MONEY:
        money = "decimal(38,12)"
        if isinstance(dtype, T.DecimalType) and dtype.scale <= 12:
            if dtype.precision - dtype.scale <= 26:
                return col.cast(money)  # widens: every value fits exactly
        elif isinstance(dtype, T.StringType):
            col = _clean(col)
        elif not isinstance(dtype, T.NumericType):
            raise refused("an amount (a number)")
        # A double rounds at the twelfth decimal (as the loader's cast); NaN, an infinity,
        # text that is no number or an amount past 26 digits gives NULL: refused.
        value = col.cast(money)
        expected = "a finite number that fits DECIMAL(38,12)"
        return F.when(
            col.isNotNull() & value.isNull(), _refuse(source, name, expected, col)
        ).otherwise(value)
    if kind == "TIMESTAMP":
        if isinstance(dtype, T.TimestampNTZType):
            return col
        if isinstance(dtype, T.TimestampType | T.DateType):
            return col.cast("timestamp_ntz")  # the instant in UTC (the session's zone)
        if not isinstance(dtype, T.StringType):
            raise refused("a timestamp")
        text = _clean(col)
        value = text.cast("timestamp").cast("timestamp_ntz")
        expected = "a timestamp (ISO 8601)"
        return F.when(
            text.isNotNull() & value.isNull(), _refuse(source, name, expected, col)
        ).otherwise(value)
    if kind == "JSON":
        return _json(source, focus, name, col, dtype, refused)
    text = _as_text(col, dtype)
    if focus == "BillingCurrency":
        return F.upper(F.trim(text))
    if focus in ENUMS and isinstance(dtype, T.StringType):
        return _enum(source, focus, name, text)
    return text


def _json(source: str, focus: str, name: str, col: Any, dtype: Any, refused: Any) -> Any:
    """Tags (and SkuPriceDetails) as JSON text: text as written, a map or a struct
    written as an object, a list of key/value structs (GCP) as the object of its pairs."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    if isinstance(dtype, T.StringType):
        text = _clean(col)
        if focus != "Tags":
            return text
        # Azure has written tags without their outer braces: "k": "v", "k2": "v2".
        return F.when(F.ltrim(text).startswith("{"), text).otherwise(
            F.concat(F.lit("{"), text, F.lit("}"))
        )
    if isinstance(dtype, T.MapType | T.StructType):
        return F.to_json(col)
    if isinstance(dtype, T.ArrayType) and isinstance(dtype.elementType, T.StructType):
        fields = {f.name.lower(): f.name for f in dtype.elementType.fields}
        if "key" in fields and "value" in fields:
            key, value = fields["key"], fields["value"]
            pairs = F.transform(
                col, lambda e: F.struct(e[key].alias("key"), e[value].alias("value"))
            )
            keys = F.transform(col, lambda e: e[key])
            # A key twice is refused (two labels of one name), never resolved by a choice.
            twice = F.size(F.array_distinct(keys)) < F.size(keys)
            expected = "each tag key once"
            return F.when(twice, _refuse(source, name, expected, F.to_json(col))).otherwise(
                F.to_json(F.map_from_entries(pairs))
            )
    raise refused(
        "tags (JSON text, a map, or a list of key/value structs)"
        if focus == "Tags"
        else "JSON (text, a map or a struct)"
    )


def _enum(source: str, focus: str, name: str, text: Any) -> Any:
    """An enumerated column in its canonical spelling (``usage-based`` → Usage-Based), an
    unknown value refused where the loader refuses it. The spellings are one literal map
    (a chain of CASEs over FOCUS's 80 subcategories outgrows Spark's generated code)."""
    from pyspark.sql import functions as F

    values, strict = ENUMS[focus]
    spellings = {re.sub("[^a-z]", "", v.lower()): v for v in values}
    known = F.create_map(*[F.lit(x) for pair in spellings.items() for x in pair])
    spelled = F.element_at(known, F.regexp_replace(F.lower(text), "[^a-z]", ""))
    canonical = F.when(text.isin(*values), text).otherwise(spelled)
    if not strict:
        return F.coalesce(canonical, text)
    expected = "one of " + ", ".join(values)
    unknown = text.isNotNull() & canonical.isNull()
    return F.when(unknown, _refuse(source, name, expected, text)).otherwise(canonical)


def lake_error(exc: BaseException) -> InputError | None:
    """A value the projection refused, as the one clear message it wrote (Spark wraps
    it in its own error and stack trace); None for any other error."""
    found = re.search(re.escape(_MARK) + "(.*?)" + re.escape(_END), str(exc), re.S)
    if found is None:
        return None
    return InputError(found.group(1), _HINT)
