"""CSV.gz files decompressed beside the store, so that DuckDB reads them in parallel.

DuckDB reads a gzip-compressed CSV on one thread: its decompression, its parse and every
conversion and check of its rows then run on one core. The same file decompressed is
read in parallel. ISA-L's igzip (the ``isal`` package) decompresses it several times
faster than zlib, on the side of the load that would otherwise wait for it.

The copy lives in a scratch folder beside the store (never in the system's temporary
folder, which may be memory), one file at a time, and is removed once its file is
loaded or the load fails. It may take at most half of the free space of that disk: a
file that would need more, or that does not decompress (truncated, corrupt), is read
compressed, as before, and its errors are DuckDB's, retold as always.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import cast

from isal import igzip, isal_zlib

#: Bytes decompressed and written at a time (memory stays flat whatever the file's size).
CHUNK = 1 << 22


def is_csv_gz(path: Path) -> bool:
    return path.name.lower().endswith(".csv.gz")


@contextlib.contextmanager
def scratch_folder(beside: Path | None) -> Iterator[Path | None]:
    """A new folder in ``beside`` (the store's folder) for decompressed copies, removed
    with everything in it on leaving; None where there is no such place or it cannot be
    made (the files are then read compressed)."""
    if beside is None:
        yield None
        return
    try:
        folder = tempfile.mkdtemp(prefix=".mlcost-scratch-", dir=beside)
    except OSError:
        yield None
        return
    try:
        yield Path(folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def decompressed(path: Path, folder: Path | None) -> Iterator[Path | None]:
    """A plain copy of the CSV.gz ``path`` in ``folder`` for the time of the block, or
    None (not a CSV.gz, no folder, not enough room, or not a readable gzip file)."""
    copy = _decompress(path, folder) if folder is not None and is_csv_gz(path) else None
    try:
        yield copy
    finally:
        if copy is not None:
            copy.unlink(missing_ok=True)


#: What a file that is not gzip, or is cut short, raises (isal's stub types its
#: ``error`` as an instance, hence the cast).
_UNREADABLE = (OSError, EOFError, cast(type[Exception], isal_zlib.error))


class _NoRoom(Exception):
    """The copy would take more than its share of the disk."""


def _decompress(path: Path, folder: Path) -> Path | None:
    target = folder / (path.name[: -len(".gz")] if len(path.name) < 200 else "file.csv")
    try:
        room = shutil.disk_usage(folder).free // 2
        with igzip.open(path, "rb") as source, open(target, "xb") as copy:
            written = 0
            while chunk := source.read(CHUNK):
                written += len(chunk)
                if written > room:
                    raise _NoRoom
                copy.write(chunk)
    except (_NoRoom, *_UNREADABLE):
        target.unlink(missing_ok=True)
        return None
    return target
