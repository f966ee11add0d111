"""What every GCP call of the connector shares: the default credentials and retry, one
translation of Google's errors into :class:`mlcost.errors.MlcostError` naming the call and
where it was made, and the helpers that turn Google's names into the store's."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, TypeVar

from mlcost.connectors._rows import to_json

from mlcost.errors import AccessDeniedError, ConfigError, InputError, MlcostError

SOURCE = "gcp"
PROVIDER = "gcp"
GLOBAL = "global"

T = TypeVar("T")


def default_credentials() -> Any:
    import google.auth
    from google.auth.exceptions import DefaultCredentialsError

    try:
        credentials, _ = google.auth.default(
            scopes=["https://www.googleapis.com/auth/cloud-platform.read-only"]
        )
    except DefaultCredentialsError as exc:
        raise ConfigError(
            "No Google application default credentials were found.",
            "Run `gcloud auth application-default login`, or set "
            "GOOGLE_APPLICATION_CREDENTIALS to a service account key file.",
        ) from exc
    return credentials


def default_retry() -> Any:
    from google.api_core import exceptions, retry

    return retry.Retry(
        predicate=retry.if_exception_type(
            exceptions.TooManyRequests,
            exceptions.ResourceExhausted,
            exceptions.ServiceUnavailable,
            exceptions.InternalServerError,
        ),
        initial=1.0,
        maximum=30.0,
        multiplier=2.0,
        timeout=180.0,
    )


def call(what: str, where: str, fn: Callable[[], T]) -> T:
    """Run one API call (pages and all) and translate its failure into one clear error."""
    from google.api_core import exceptions
    from google.auth.exceptions import GoogleAuthError

    try:
        return fn()
    except MlcostError:
        raise
    except GoogleAuthError as exc:
        raise ConfigError(
            f"Google refused the credential for {what} on {where}: {_first_line(exc)}",
            "Run `gcloud auth application-default login` or check GOOGLE_APPLICATION_CREDENTIALS.",
        ) from exc
    except (exceptions.Forbidden, exceptions.PermissionDenied) as exc:
        raise AccessDeniedError(
            f"Google denied {what} on {where} (HTTP 403 {_reason(exc)}).",
            "Grant roles/compute.viewer and roles/monitoring.viewer there, or leave it out "
            "of --projects. The store is unchanged.",
        ) from exc
    except (exceptions.TooManyRequests, exceptions.ResourceExhausted, exceptions.RetryError) as exc:
        raise InputError(
            f"Google kept throttling {what} on {where} after retries.",
            "Try again later or scan fewer projects at once. The store is unchanged.",
        ) from exc
    except exceptions.GoogleAPICallError as exc:
        raise InputError(
            f"Google {what} on {where} failed (HTTP {exc.code}): {_first_line(exc)}",
            "The store is unchanged.",
        ) from exc
    except OSError as exc:  # requests' connection errors are OSErrors
        raise InputError(
            f"Cannot reach Google for {what} on {where} ({type(exc).__name__}).",
            "Check the network or proxy settings. The store is unchanged.",
        ) from exc


def rest_page(session: Any, url: str, token: str, retry: Any) -> dict[str, Any]:
    """One page of endpoints.list; an API not enabled in the project reads as no endpoints."""
    from google.api_core import exceptions

    def get() -> dict[str, Any]:
        response = session.get(url, params={"pageToken": token} if token else {}, timeout=60)
        if response.status_code == 403 and "SERVICE_DISABLED" in response.text:
            return {}
        if response.status_code >= 400:
            raise exceptions.from_http_response(response)
        return dict(response.json())

    return dict(retry(get)())


def location_of(name: str) -> str:
    """``projects/P/locations/us-central1-a/instances/N`` → ``us-central1-a``."""
    match = re.search(r"/locations/([^/]+)/", name)
    return match.group(1) if match else ""


def _reason(exc: Any) -> str:
    reason = getattr(exc, "reason", None)
    return str(reason) if reason else "PERMISSION_DENIED"


def full_name(link: str) -> str:
    """A Compute Engine self link as the full resource name: //compute.googleapis.com/projects/…"""
    match = re.search(r"/compute/(?:v1|beta|alpha)/(projects/.*)$", link)
    return f"//compute.googleapis.com/{match.group(1)}" if match else link


def scope_region(scope: str) -> str:
    """``zones/us-central1-a``, a zone URL, ``regions/us-central1`` or ``global`` → region."""
    name = scope.rstrip("/").rsplit("/", 1)[-1]
    if "zones/" in scope or re.fullmatch(r"[a-z]+-[a-z]+\d+-[a-z]", name):
        return name.rsplit("-", 1)[0]
    return name


def gpu_model_of(accelerator_type: str) -> str:
    """``…/acceleratorTypes/nvidia-tesla-a100``, ``nvidia-l4`` or ``NVIDIA_L4`` → ``A100``,
    ``L4``."""
    name = accelerator_type.rsplit("/", 1)[-1].lower().replace("_", "-")
    name = re.sub(r"^nvidia-(tesla-)?", "", name)
    return name.split("-", 1)[0].upper()


def details_json(details: Mapping[str, Any]) -> str:
    return to_json({k: v for k, v in details.items() if v is not None})


def rfc3339(value: datetime) -> str:
    return f"{value:%Y-%m-%dT%H:%M:%SZ}"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
