"""pyproject.toml ships every part of the package: each folder under src/mlcost,
connectors/ and app/ is in `packages`, and each data file in it is matched by a
`package-data` glob (else `pip install mlcost` gives a package without its migrations,
templates or mappings, and setuptools warns on every install)."""

from __future__ import annotations

import tomllib
from fnmatch import fnmatch
from pathlib import Path

ROOT = Path(__file__).parent.parent
SETUPTOOLS = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["tool"]["setuptools"]


def package_folders() -> dict[str, Path]:
    """{package name: folder} for every folder of the installed package's sources."""
    found = {}
    for name, where in SETUPTOOLS["package-dir"].items():
        base = ROOT / where
        for folder in [base, *base.rglob("*")]:
            is_package = folder.is_dir() and folder.name != "__pycache__"
            if is_package and any(f.is_file() for f in folder.iterdir()):
                found[".".join([name, *folder.relative_to(base).parts])] = folder
    return found


def test_every_folder_is_a_listed_package() -> None:
    folders = package_folders()
    assert {"mlcost.rules", "mlcost.templates", "mlcost.connectors.aws", "mlcost.app.screens"} <= (
        set(folders)
    )
    missing = sorted(set(folders) - set(SETUPTOOLS["packages"]))
    assert not missing, f"add to [tool.setuptools] packages in pyproject.toml: {missing}"
    gone = sorted(set(SETUPTOOLS["packages"]) - set(folders))
    assert not gone, f"packages without a folder: {gone}"


def test_every_data_file_is_shipped() -> None:
    data = SETUPTOOLS["package-data"]
    unshipped = []
    for package, folder in package_folders().items():
        for path in folder.iterdir():
            is_data = path.is_file() and path.suffix not in (".py", ".pyc")
            if is_data and not any(fnmatch(path.name, g) for g in data.get(package, [])):
                unshipped.append(str(path.relative_to(ROOT)))
    assert not unshipped, f"add to [tool.setuptools.package-data]: {unshipped}"
