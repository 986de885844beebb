"""The test suite's fault proxy does what the incident tests rely on (against a local echo server)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import suppress

import pytest

from tests.faultproxy import FaultProxy


@pytest.fixture
def echo() -> Iterator[int]:
    server = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            threading.Thread(target=lambda c=conn: [c.sendall(d) for d in iter(lambda: c.recv(1024), b"")], daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    yield server.getsockname()[1]
    server.close()


def roundtrip(port: int, timeout: float = 2.0) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as conn:
        conn.sendall(b"ping")
        return conn.recv(16)


def test_it_passes_refuses_cuts_stalls_and_delays(echo: int) -> None:
    with FaultProxy("127.0.0.1", echo) as proxy:
        assert roundtrip(proxy.port) == b"ping"
        held = socket.create_connection(("127.0.0.1", proxy.port), timeout=2)

        proxy.refuse()
        with pytest.raises(ConnectionRefusedError):
            roundtrip(proxy.port)
        with suppress(ConnectionResetError):  # the open connection was cut: closed, or reset
            assert held.recv(16) == b""

        proxy.restore()
        assert roundtrip(proxy.port) == b"ping"

        proxy.blackhole()
        with pytest.raises(TimeoutError):
            roundtrip(proxy.port, timeout=0.5)

        proxy.delay(0.2)
        started = time.monotonic()
        assert roundtrip(proxy.port) == b"ping"
        assert time.monotonic() - started >= 0.4  # both directions

        proxy.restore()
        with proxy.down(0.3), pytest.raises(ConnectionRefusedError):
            roundtrip(proxy.port)
        assert roundtrip(proxy.port) == b"ping"
