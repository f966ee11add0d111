"""The fixed values the command line offers (option choices and defaults), in a module
that imports nothing: `mlcost --help` lists them without loading DuckDB, Arrow or
pandas. The modules that use them take them from here."""

#: The store file when neither --db nor MLCOST_DB names one.
DEFAULT_DB = "mlcost.duckdb"

#: `--format` of `mlcost ingest billing`: auto, then each reader of
#: connectors/files/formats.py (FORMATS) by name.
BILLING_FORMATS = ("auto", "focus", "aws-cur", "azure", "gcp")

#: Why an anomaly is acknowledged (`mlcost anomalies ack`).
FEEDBACK_REASONS = ("expected", "planned")

#: A finding's statuses, and ``all`` to list every one (`mlcost recommendations --status`).
STATUSES = ("open", "dismissed", "closed", "all")
