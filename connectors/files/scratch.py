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
import queue
import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import cast

from isal import igzip, isal_zlib

from mlcost.store import NotTrusted

#: Bytes decompressed and written at a time (memory stays flat whatever the file's size).
CHUNK = 1 << 22
#: The size of a part (``Copy.parts``): three at most on disk at once.
PART_BYTES = 512 << 20


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
def decompressed(path: Path, folder: Path | None) -> Iterator[Copy | None]:
    """The CSV.gz ``path`` decompressed in ``folder``, on demand, for the time of the
    block (everything it made removed on leaving); None where it is not a CSV.gz or there
    is no folder."""
    if folder is None or not is_csv_gz(path):
        yield None
        return
    copy = Copy(path, folder)
    try:
        yield copy
    finally:
        copy.remove()


class Copy:
    """A CSV.gz to be read decompressed: whole (``whole``, made once, the careful scan's)
    or in parts (``parts``, the scan taken on trust)."""

    def __init__(self, path: Path, folder: Path) -> None:
        self.path = path
        self.folder = folder
        self._whole: Path | None = None
        self._made = False

    def whole(self) -> Path | None:
        """The whole file decompressed, made on the first call; None where there is not
        room for it or it is not a readable gzip file (it is then read compressed)."""
        if not self._made:
            self._made = True
            self._whole = _decompress(self.path, self.folder)
        return self._whole

    def room_for_parts(self) -> bool:
        """Whether the disk has room for the parts on it at once (three), within half of
        its free space."""
        return shutil.disk_usage(self.folder).free // 2 >= 3 * (PART_BYTES + CHUNK)

    def parts(self) -> Iterator[tuple[Path, float]]:
        """The file in parts of about PART_BYTES decompressed, each the header and
        whole records (a newline inside quotes is not an end of record), with how far
        through the compressed file it ends (0 to 1). The next part is decompressed, on
        a thread, while the caller reads this one; a part is deleted as soon as the
        caller asks for the next, so the kernel seldom writes one out to the disk. A
        file that is not a readable gzip file raises PartsFailed."""
        return _parts(self.path, self.folder, PART_BYTES)

    def remove(self) -> None:
        if self._whole is not None:
            self._whole.unlink(missing_ok=True)
            self._whole = None


class PartsFailed(NotTrusted):
    """A CSV.gz could not be cut into parts (not gzip, cut short, a record too long)."""


_END = object()


def _parts(path: Path, folder: Path, part_bytes: int) -> Iterator[tuple[Path, float]]:
    ready: queue.Queue[object] = queue.Queue(maxsize=1)
    stop = threading.Event()

    def hand(item: object) -> bool:
        while not stop.is_set():
            try:
                ready.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for part in _cut(path, folder, part_bytes, stop):
                if not hand(part):
                    part[0].unlink(missing_ok=True)
                    return
            hand(_END)
        except BaseException as exc:  # handed to the reader, raised there
            hand(PartsFailed(f"{path}: {exc}") if isinstance(exc, _UNREADABLE) else exc)

    worker = threading.Thread(target=produce, name="mlcost-parts", daemon=True)
    worker.start()
    current: Path | None = None
    try:
        while True:
            item = ready.get()
            if current is not None:
                current.unlink(missing_ok=True)
                current = None
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            current, share = cast(tuple[Path, float], item)
            yield current, share
    finally:
        stop.set()
        worker.join()
        while not ready.empty():
            left = ready.get_nowait()
            if isinstance(left, tuple):
                left[0].unlink(missing_ok=True)
        if current is not None:
            current.unlink(missing_ok=True)


def _cut(
    path: Path, folder: Path, part_bytes: int, stop: threading.Event
) -> Iterator[tuple[Path, float]]:
    """The parts, written one after the other (``_parts`` hands them over)."""
    size = max(path.stat().st_size, 1)
    with open(path, "rb") as raw, igzip.open(raw, "rb") as source:
        header = source.readline()
        if not header.endswith(b"\n") or header.count(b'"') % 2:
            raise PartsFailed(f"{path}: no header line of its own")
        carry = b""
        number = 0
        while not stop.is_set():
            target = folder / f"part-{number}.csv"
            written, inside, ended = 0, False, False
            with open(target, "xb") as part:
                part.write(header)
                chunk = carry
                carry = b""
                while True:
                    if not chunk:
                        chunk = source.read(CHUNK)
                        if not chunk:
                            ended = True
                            break
                    if written + len(chunk) >= part_bytes:
                        cut = _record_end(chunk, inside)
                        if cut is not None:
                            part.write(chunk[:cut])
                            written += cut
                            carry = chunk[cut:]
                            break
                    inside ^= chunk.count(b'"') % 2 == 1
                    part.write(chunk)
                    written += len(chunk)
                    chunk = b""
                    if written > 4 * part_bytes:
                        raise PartsFailed(f"{path}: a record longer than a part")
            if written:
                yield target, min(raw.tell() / size, 1.0)
            else:
                target.unlink()
            number += 1
            if ended and not carry:
                return


def _record_end(chunk: bytes, inside: bool) -> int | None:
    """Where in ``chunk`` a record ends (just after a newline outside quotes), as late as
    can be found; ``inside``: whether the chunk starts inside quotes. None if none of
    its last newlines is such an end."""
    at = len(chunk)
    for _ in range(64):
        at = chunk.rfind(b"\n", 0, at)
        if at < 0:
            return None
        if (chunk.count(b'"', 0, at) % 2 == 1) == inside:
            return at + 1
    return None


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
