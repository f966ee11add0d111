"""The ``mlcost`` command: thin shells over the library (DESIGN.md §3).

Each command parses its options, calls one library function and prints. Exit codes:
0 success, 1 failure or bad input (one clear message on stderr), 2 usage error.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys

from mlcost import redact
from mlcost.cli.common import app
from mlcost.errors import MlcostError

__all__ = ["app", "main"]

# The commands register in import order, which is the order `mlcost --help` lists them:
# filling the store first, then analysing, reading and serving it.
for _module in ("ingest", "analysis", "findings", "service", "data"):
    importlib.import_module(f"mlcost.cli.{_module}")


def main() -> None:
    """Console entry point: run the app, turning our errors into one line and exit 1."""
    try:
        app()
    except MlcostError as exc:
        sys.stderr.write(f"mlcost: {redact.redact(exc.message)}\n")
        if exc.hint:
            sys.stderr.write(f"  {redact.redact(exc.hint)}\n")
        sys.exit(1)
    except KeyboardInterrupt:
        sys.stderr.write("mlcost: interrupted; the store is unchanged.\n")
        sys.exit(130)
    except BrokenPipeError:
        _reader_gone()
    except SystemExit as exc:
        # Click turns a broken pipe into exit 1; the reader going away is no failure
        if exc.code == 1 and isinstance(exc.__context__, BrokenPipeError):
            _reader_gone()
        raise
    except Exception as exc:
        # A failure we did not foresee: one redacted line, not a traceback that may quote a
        # secret (MLCOST_DEBUG=1 shows the traceback).
        if os.environ.get("MLCOST_DEBUG"):
            raise
        line = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        sys.stderr.write(
            redact.redact(f"mlcost: unexpected {type(exc).__name__}: {line}".rstrip(": "))
            + "\n  This is a bug in mlcost: please report it (MLCOST_DEBUG=1 shows where).\n"
        )
        sys.exit(1)


def _reader_gone() -> None:
    """The reader of stdout went away (`mlcost … | head`): stop quietly with exit 0, like
    other Unix tools. stdout goes to /dev/null so the interpreter's last flush finds no
    broken pipe to complain about."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.__stdout__.fileno() if sys.__stdout__ else 1)
    sys.exit(0)
