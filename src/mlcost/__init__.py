"""mlcost: FinOps cost and utilisation analysis for ML infrastructure.

The library's way in (docs/python-api.md)::

    import mlcost
    ws = mlcost.open("mlcost.duckdb")   # a Workspace: load, analyze, spend, findings…
    frame = mlcost.to_pandas(ws.spend(by="service"))

``open``, ``Workspace`` and ``to_pandas`` come from :mod:`mlcost.api`, imported on first
use so that ``import mlcost`` itself stays cheap (no DuckDB or Arrow until needed).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from mlcost.api import Workspace, open, to_pandas

__all__ = ["Workspace", "__version__", "open", "to_pandas"]

_API = ("Workspace", "open", "to_pandas")


def __getattr__(name: str) -> Any:
    if name in _API:
        from mlcost import api

        return getattr(api, name)
    raise AttributeError(f"module 'mlcost' has no attribute {name!r}")
