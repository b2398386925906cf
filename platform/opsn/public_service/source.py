"""The platform's Corresponding Source (AGPL-3.0 §13): a ``.tar.gz`` of the code that
runs, built from the installed files once per version and kept under ``OPSN_DATA_DIR``.

It holds the two halves of the ``opsn`` package (``platform/opsn/``, ``tenants/opsn/``:
code, templates, static files, SQL, reference data) and, from the checkout beside them,
LICENSE, README.md, pyproject.toml, setup.py, publiccode.yml and docs/. Never what is not
source: compiled files, caches, and nothing under the data, media or static folders (the
database, uploads, exports), nor a file whose name says it holds a secret."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import tarfile
from importlib import metadata
from pathlib import Path

from django.conf import settings

import opsn

ROOT_FILES = ("LICENSE", "README.md", "pyproject.toml", "setup.py", "publiccode.yml", "dev",
              "Dockerfile")
ROOT_FOLDERS = ("docs",)
SKIPPED_PARTS = {"__pycache__", ".git", ".pytest_cache", ".mypy_cache", ".ruff_cache",
                 "node_modules", ".venv", "var"}
SKIPPED_SUFFIXES = (".pyc", ".pyo", ".pem", ".key", ".p12", ".sqlite3", ".log")
SKIPPED_NAMES = (".env", "secrets", "secret", "credentials")


def version() -> str:
    try:
        return metadata.version("opsn")
    except metadata.PackageNotFoundError:  # pragma: no cover - a checkout is installed
        return "0"


def _excluded_roots() -> list[Path]:
    return [Path(p).resolve() for p in (settings.DATA_DIR, settings.MEDIA_ROOT,
                                        settings.STATIC_ROOT, settings.OPSN_EXPORT_DIR)]


def _kept(path: Path, relative: Path, excluded: list[Path]) -> bool:
    """``path`` on disk, ``relative`` to its folder (the parts that say what it is)."""
    if set(relative.parts) & SKIPPED_PARTS or path.suffix in SKIPPED_SUFFIXES:
        return False
    if path.name.lower() in SKIPPED_NAMES or path.name.lower().startswith(".env"):
        return False
    resolved = path.resolve()
    return not any(resolved.is_relative_to(root) for root in excluded)


def files() -> list[tuple[Path, str]]:
    """(file on disk, name in the archive), sorted: the archive is the same every time."""
    excluded = _excluded_roots()
    found: dict[str, Path] = {}
    for half in opsn.__path__:  # the namespace's two folders (or one, installed as a wheel)
        half_dir = Path(half)
        prefix = f"{half_dir.parent.name}/opsn" if half_dir.parent.name in (
            "platform", "tenants") else "opsn"
        for path in half_dir.rglob("*"):
            if path.is_file() and _kept(path, path.relative_to(half_dir.parent), excluded):
                found[f"{prefix}/{path.relative_to(half_dir).as_posix()}"] = path
    checkout = settings.REPO_DIR
    for name in ROOT_FILES:
        if (checkout / name).is_file():
            found[name] = checkout / name
    if "LICENSE" not in found:  # installed from a wheel: the licence is in its metadata
        for entry in _distribution_files():
            if entry.name == "LICENSE":
                found["LICENSE"] = Path(str(entry.locate()))
                break
    for folder in ROOT_FOLDERS:
        for path in (checkout / folder).rglob("*") if (checkout / folder).is_dir() else ():
            if path.is_file() and _kept(path, path.relative_to(checkout), excluded):
                found[path.relative_to(checkout).as_posix()] = path
    return sorted(((path, name) for name, path in found.items()), key=lambda x: x[1])


def _distribution_files() -> list:
    try:
        return list(metadata.distribution("opsn").files or [])
    except metadata.PackageNotFoundError:  # pragma: no cover
        return []


def archive_name() -> str:
    return f"opsn-{version()}.tar.gz"


def fingerprint(listed: list[tuple[Path, str]]) -> str:
    """What the files are now (names, sizes, modification times): code deployed again under
    the same version number gets an archive of its own."""
    digest = hashlib.sha256()
    for path, name in listed:
        stat = path.stat()
        digest.update(f"{name}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


def archive() -> Path:
    """The archive of the running code, built on first demand and kept per version (and
    fingerprint); written whole, then renamed: a reader never sees half of one."""
    listed = files()
    top = archive_name().removesuffix(".tar.gz")
    target = Path(settings.DATA_DIR) / "source" / f"{top}-{fingerprint(listed)}.tar.gz"
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as gz, \
            tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path, name in listed:
            info = tarfile.TarInfo(f"{top}/{name}")
            data = path.read_bytes()
            info.size = len(data)
            info.mode = 0o755 if os.access(path, os.X_OK) else 0o644
            info.mtime = 0
            tar.addfile(info, io.BytesIO(data))
    partial = target.with_suffix(f".{os.getpid()}.part")
    partial.write_bytes(buffer.getvalue())
    partial.replace(target)
    return target
