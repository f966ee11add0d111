"""Write the sample (or a large cost file) to disk, deterministically.

Parquet: zstd, dictionary encoding, statistics; no timestamps or paths in the files.
CSV: gzip with mtime 0 and no file name in the header; timestamps as ISO 8601 with ``Z``.
Large files are streamed batch by batch: the whole table is never in memory.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from mlcost.sample.bulk import iter_cost_batches
from mlcost.sample.generator import TABLE_NAMES, cost_schema, generate

FORMATS = ("parquet", "csv.gz")
_PARQUET_OPTIONS = {
    "compression": "zstd",
    "use_dictionary": True,
    "write_statistics": True,
    "version": "2.6",
}


def _csv_schema(schema: pa.Schema) -> pa.Schema:
    return pa.schema(
        [pa.field(f.name, pa.string()) if pa.types.is_timestamp(f.type) else f for f in schema]
    )


def _csv_batch(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    cols = []
    for field, col in zip(batch.schema, batch.columns, strict=True):
        if pa.types.is_timestamp(field.type):
            # Few distinct timestamps per batch: format the dictionary, not every row.
            enc = col.dictionary_encode()
            seconds = enc.dictionary.cast(pa.timestamp("s"), safe=False)
            text = pc.strftime(seconds, format="%Y-%m-%dT%H:%M:%SZ")
            col = text.take(enc.indices)
        cols.append(col)
    return pa.RecordBatch.from_arrays(cols, schema=schema)


def write_parquet(
    path: Path, batches: Iterable[pa.RecordBatch], schema: pa.Schema, *, level: int = 9
) -> Path:
    options = {**_PARQUET_OPTIONS, "compression_level": level}
    with pq.ParquetWriter(path, schema, **options) as writer:
        for batch in batches:
            writer.write_batch(batch)
    return path


def write_csv_gz(path: Path, batches: Iterable[pa.RecordBatch], schema: pa.Schema) -> Path:
    out_schema = _csv_schema(schema)
    with (
        open(path, "wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=3) as gz,
    ):
        writer = pacsv.CSVWriter(gz, out_schema)
        try:
            for batch in batches:
                writer.write_batch(_csv_batch(batch, out_schema))
        finally:
            writer.close()
    return path


def _write(
    path: Path, batches: Iterable[pa.RecordBatch], schema: pa.Schema, fmt: str, level: int = 9
) -> Path:
    if fmt == "parquet":
        return write_parquet(path, batches, schema, level=level)
    return write_csv_gz(path, batches, schema)


def write_sample(
    out_dir: Path, *, seed: int = 7, rows: int | None = None, fmt: str = "parquet"
) -> dict[str, Path]:
    """Write the sample organisation's tables and answer key to ``out_dir``; with ``rows``,
    write only a large FOCUS cost file of exactly that many rows, streamed."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if rows is not None:
        path = out_dir / f"cost.{fmt}"
        # Large files: a faster zstd level (the sample itself is written at level 9).
        _write(path, iter_cost_batches(rows, seed=seed), cost_schema(), fmt, level=3)
        return {"cost": path}
    data = generate(seed)
    written: dict[str, Path] = {}
    for name in TABLE_NAMES:
        table = data.tables[name]
        path = out_dir / f"{name}.{fmt}"
        written[name] = _write(path, table.to_batches(max_chunksize=1_000_000), table.schema, fmt)
    key_path = out_dir / "answer_key.json"
    key_path.write_text(json.dumps(data.answer_key, indent=2) + "\n", encoding="utf-8")
    written["answer_key"] = key_path
    return written
