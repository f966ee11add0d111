"""mlcost's own small error hierarchy.

Errors from DuckDB, the cloud SDKs and the file readers are translated once, at the
edge, into these. Each carries one clear sentence and, where there is one, what to do.
The CLI prints ``message`` (and ``hint``) on stderr and exits 1.
"""

from __future__ import annotations


class MlcostError(Exception):
    """Base class: a failure the user can understand and act on."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message} {self.hint}"


class InputError(MlcostError):
    """Bad input: an unreadable file, a missing column, a value that is not what it claims."""


class AccessDeniedError(InputError):
    """A cloud refused a call for lack of permission: that subscription, project or
    region can be skipped with a warning while the rest loads."""


class StoreError(MlcostError):
    """The store is missing, from a newer mlcost, or refused an operation."""


class StoreBusyError(StoreError):
    """Another process holds the store for longer than we were willing to wait."""


class ConfigError(MlcostError):
    """mlcost.toml is malformed or names an unknown setting."""


class ReadOnlyError(MlcostError):
    """A statement given to a read-only entry point would write."""
