"""Reading a print file from where the producer said it is: a local path or an http(s) URL.

A local path is made absolute at enqueue; a worker on another machine cannot read it, so use
a URL (or a shared volume) when workers run elsewhere.
"""

from __future__ import annotations

from pathlib import Path

import httpx

from worker.http import network_failure
from worker.outcome import Outcome

#: Larger sources are refused rather than read into memory.
MAX_SOURCE_BYTES = 200 * 1024 * 1024

JPEG_MAGIC = b"\xff\xd8\xff"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
PDF_MAGIC = b"%PDF-"


def is_url(source: str) -> bool:
    return source.startswith(("http://", "https://"))


def sniff(data: bytes) -> str | None:
    """The media type by content (never by name): ``image/jpeg``, ``image/png``, ``application/pdf``."""
    if data.startswith(JPEG_MAGIC):
        return "image/jpeg"
    if data.startswith(PNG_MAGIC):
        return "image/png"
    if data.startswith(PDF_MAGIC):
        return "application/pdf"
    return None


def read_source(source: str, client: httpx.Client) -> bytes | Outcome:
    """The bytes of ``source``, or the Outcome that explains why they cannot be had."""
    if is_url(source):
        try:
            with client.stream("GET", source) as response:
                if response.status_code >= 400:
                    kind = Outcome.transient if response.status_code >= 500 or response.status_code == 429 else Outcome.permanent
                    return kind(
                        "source_unavailable", f"fetching the source answered HTTP {response.status_code}", http_status=response.status_code
                    )
                chunks, size = [], 0
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    if size > MAX_SOURCE_BYTES:
                        return Outcome.permanent("source_too_large", f"the source is larger than {MAX_SOURCE_BYTES} bytes")
                    chunks.append(chunk)
                return b"".join(chunks)
        except httpx.HTTPError as exc:
            failure = network_failure(exc, idempotent=True)
            return Outcome.transient("source_unavailable", f"fetching the source failed: {failure.error_message}")
    path = Path(source)
    try:
        if path.stat().st_size > MAX_SOURCE_BYTES:
            return Outcome.permanent("source_too_large", f"the source is larger than {MAX_SOURCE_BYTES} bytes")
        return path.read_bytes()
    except FileNotFoundError:
        return Outcome.permanent("source_unavailable", "the source file does not exist on this worker")
    except OSError as exc:
        return Outcome.transient("source_unavailable", f"the source file cannot be read ({type(exc).__name__})")
