"""Storing downloaded files: streamed to a temporary name, hashed on the way, renamed when whole.

A half-written file never appears under its final name, and a large file never sits in memory.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from worker.http import network_failure
from worker.outcome import Outcome

CHUNK = 1024 * 1024


def zip_problem(path: Path) -> str | None:
    """Why the file at ``path`` is not a readable ZIP archive, or ``None`` if it is one."""
    try:
        with zipfile.ZipFile(path) as archive:
            broken = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        return f"not a readable ZIP archive ({exc})"
    return f"the ZIP member {broken!r} is corrupt" if broken is not None else None


def download(
    client: httpx.Client,
    request: httpx.Request,
    destination: Path,
    *,
    check: Callable[[Path], str | None] | None = None,
    refused: Callable[[httpx.Response], Outcome] | None = None,
) -> dict[str, Any] | Outcome:
    """Stream ``request``'s 2xx body to ``destination``; ``{"path", "sha256", "size"}`` or why not.

    ``check`` may look at the complete temporary file and return a reason to refuse it (a ZIP
    that does not open); a refused or cut-off download is a ``transient`` failure, never stored.
    ``refused`` turns a non-2xx answer (its body read) into the provider's Outcome; without
    it, any non-2xx answer is ``transient``.
    """
    destination.parent.mkdir(parents=True, exist_ok=True)
    digest, size = hashlib.sha256(), 0
    fd, temporary = tempfile.mkstemp(dir=destination.parent, prefix=f".{destination.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as output:
            try:
                response = client.send(request, stream=True)
            except httpx.HTTPError as exc:
                return network_failure(exc, idempotent=True)
            try:
                if not response.is_success:
                    response.read()
                    if refused is not None:
                        return refused(response)
                    return Outcome.transient(
                        f"http_{response.status_code}",
                        f"the download answered HTTP {response.status_code}",
                        http_status=response.status_code,
                    )
                expected = response.headers.get("content-length")
                try:
                    for chunk in response.iter_raw(CHUNK):
                        digest.update(chunk)
                        size += len(chunk)
                        output.write(chunk)
                except httpx.HTTPError as exc:
                    return Outcome.transient("download_incomplete", f"the download broke off after {size} bytes ({type(exc).__name__})")
            finally:
                response.close()
            if expected is not None and expected.isdigit() and int(expected) != size:
                return Outcome.transient("download_incomplete", f"received {size} of {expected} bytes")
        if check is not None and (reason := check(Path(temporary))) is not None:
            return Outcome.transient("download_corrupt", reason)
        os.replace(temporary, destination)
        temporary = ""
        return {"path": str(destination.resolve()), "sha256": digest.hexdigest(), "size": size}
    finally:
        if temporary:
            Path(temporary).unlink(missing_ok=True)
