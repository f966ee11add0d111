"""What every Azure call of the connector shares: the default credential, one translation
of the SDKs' errors into :class:`mlcost.errors.MlcostError` naming the call and where it was
made, and the helpers that read ARM's JSON."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from mlcost.errors import AccessDeniedError, ConfigError, InputError, MlcostError

SOURCE = "azure"
PROVIDER = "azure"
ARM = "https://management.azure.com"

#: Seconds to connect to Azure and to wait for an answer (the SDK's defaults are 300 s
#: each): an unreachable endpoint fails in about a minute, not ten.
CLIENT_TIMEOUTS = {"connection_timeout": 10, "read_timeout": 60}

#: GPU model by VM size name (the size catalogue gives the count, not the model).
GPU_MODELS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), model)
    for pattern, model in (
        (r"H100", "H100"),
        (r"H200", "H200"),
        (r"A100|ND96a", "A100"),
        (r"MI300X", "MI300X"),
        (r"A10", "A10"),
        (r"T4", "T4"),
        (r"^Standard_NC\d+r?s_v3$|^Standard_ND40rs_v2$", "V100"),
        (r"^Standard_NC\d+r?s_v2$|^Standard_ND\d+r?s$", "P100"),
    )
)

T = TypeVar("T")


def default_credential() -> Any:
    try:
        from azure.identity import DefaultAzureCredential
    except ImportError as exc:  # pragma: no cover - a dependency of mlcost
        raise ConfigError("azure-identity is not installed.", "pip install azure-identity") from exc
    return DefaultAzureCredential(exclude_interactive_browser_credential=True)


def call(what: str, where: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run one SDK call (pages and all) and translate its failure into one clear error."""
    from azure.core.exceptions import (
        ClientAuthenticationError,
        HttpResponseError,
        ServiceRequestError,
    )

    try:
        return fn(*args, **kwargs)
    except MlcostError:
        raise
    except ClientAuthenticationError as exc:
        raise ConfigError(
            f"Azure refused the credential for {what} on {where}: {_first_line(exc)}",
            "Sign in (az login), or set AZURE_CLIENT_ID / AZURE_TENANT_ID / "
            "AZURE_CLIENT_SECRET for a service principal.",
        ) from exc
    except HttpResponseError as exc:
        status = exc.status_code
        code = getattr(exc.error, "code", None) if exc.error is not None else None
        label = f"HTTP {status}" + (f" {code}" if code else "")
        if status == 403:
            raise AccessDeniedError(
                f"Azure denied {what} on {where} ({label}).",
                "Grant the identity the built-in Reader and Monitoring Reader roles there, "
                "or leave it out of --subscriptions. The store is unchanged.",
            ) from exc
        if status == 429:
            raise InputError(
                f"Azure kept throttling {what} on {where} ({label}) after retries.",
                "Try again later or scan fewer subscriptions at once. The store is unchanged.",
            ) from exc
        raise InputError(
            f"Azure {what} on {where} failed ({label}): {_first_line(exc)}",
            "The store is unchanged.",
        ) from exc
    except ServiceRequestError as exc:
        raise InputError(
            f"Cannot reach Azure for {what} on {where}: {_first_line(exc)}",
            "Check the network or proxy settings. The store is unchanged.",
        ) from exc


def get_json(client: Any, request: Any) -> dict[str, Any]:
    response = client.send_request(request)
    response.raise_for_status()
    return dict(response.json())


def raw(model: Any) -> dict[str, Any]:
    """An SDK model as the REST JSON it was read from (camelCase keys)."""
    if isinstance(model, Mapping):
        return dict(model.as_dict()) if hasattr(model, "as_dict") else dict(model)
    return dict(model.serialize(keep_readonly=True))


def region_of(item: Mapping[str, Any]) -> str:
    return str(item.get("location") or "").replace(" ", "").lower()


def resource_group(resource_id: str) -> str | None:
    match = re.search(r"/resourceGroups/([^/]+)", resource_id, re.IGNORECASE)
    return match.group(1) if match else None


def gpu_model_of(size: str | None) -> str | None:
    for pattern, model in GPU_MODELS:
        if size and pattern.search(size):
            return model
    return None


def to_int(value: Any) -> int | None:
    try:
        return int(float(value)) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def to_float(value: Any) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
