"""A small TCP fault proxy of the test suite's own, after Shopify's toxiproxy.

It sits between printrelay and a real service (PostgreSQL, Redis, the sandbox) so that a test can
make that service misbehave the way it does in an incident, without touching the machine's own
service:

- :meth:`FaultProxy.refuse` — new connections are refused (nothing listens on the port: what a
  restarting PostgreSQL or a dead Redis looks like), and every open connection is cut;
- :meth:`FaultProxy.cut` — every open connection is closed now (a server restart, a failover);
- :meth:`FaultProxy.delay` — every chunk in either direction waits this long first (a slow link);
- :meth:`FaultProxy.blackhole` — connections are accepted and nothing is forwarded (a partition:
  no reset, just silence until the client's own timeout);
- :meth:`FaultProxy.restore` — back to passing bytes through.

    >>> with FaultProxy("127.0.0.1", 5432) as proxy:                       # doctest: +SKIP
    ...     url = f"postgresql+psycopg://postgres@127.0.0.1:{proxy.port}/test"
    ...     with proxy.down(10):                                          # a 10-second restart
    ...         ...

Warning: a refused port is given back to the kernel while it is down; the proxy binds it again
with SO_REUSEADDR when restored, which on a busy machine could in theory fail (it says so).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from types import TracebackType

CHUNK = 65536


class FaultProxy:
    def __init__(self, upstream_host: str, upstream_port: int, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.host = host
        self.mode = "pass"
        self.latency = 0.0
        self._lock = threading.Lock()
        self._pairs: set[tuple[socket.socket, socket.socket]] = set()
        self._listener: socket.socket | None = None
        self._closed = False
        self.accepted = 0
        self.port = self._listen(port)

    # -- the knobs ----------------------------------------------------------------------------

    def refuse(self) -> None:
        """Refuse new connections (the port is closed) and cut the open ones."""
        with self._lock:
            self.mode = "refuse"
            listener, self._listener = self._listener, None
        if listener is not None:
            _close(listener)  # shutdown first: a bare close() would not wake the thread in accept()
        self.cut()

    def cut(self) -> int:
        """Close every open connection now; how many there were."""
        with self._lock:
            pairs, self._pairs = self._pairs, set()
        for pair in pairs:
            _close(*pair)
        return len(pairs)

    def delay(self, seconds: float) -> None:
        """Hold every chunk ``seconds`` before passing it on."""
        self.latency = seconds
        self._reopen("pass")

    def blackhole(self) -> None:
        """Accept connections, forward nothing (the open ones are cut first)."""
        self.cut()
        self._reopen("blackhole")

    def restore(self) -> None:
        self.latency = 0.0
        self._reopen("pass")

    @contextmanager
    def down(self, seconds: float) -> Iterator[None]:
        """Refused (and open connections cut) for ``seconds`` from entering, then restored; the
        block runs while it is down."""
        until = time.monotonic() + seconds
        self.refuse()
        try:
            yield
        finally:
            time.sleep(max(0.0, until - time.monotonic()))
            self.restore()

    # -- plumbing -------------------------------------------------------------------------------

    def _reopen(self, mode: str) -> None:
        with self._lock:
            self.mode = mode
            needs_listener = self._listener is None
        if needs_listener:
            self._listen(self.port)

    def _listen(self, port: int) -> int:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            listener.bind((self.host, port))
        except OSError as exc:
            listener.close()
            raise RuntimeError(f"the fault proxy could not bind {self.host}:{port} again: {exc}") from exc
        listener.listen(128)
        with self._lock:
            self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), name=f"faultproxy-{port}", daemon=True).start()
        return int(listener.getsockname()[1])

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # closed by refuse() or close()
            self.accepted += 1
            if self.mode == "blackhole":
                with self._lock:
                    self._pairs.add((client, client))
                continue
            try:
                upstream = socket.create_connection(self.upstream, timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            for sock in (client, upstream):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            pair = (client, upstream)
            with self._lock:
                refused = self.mode == "refuse"  # refuse() came while this one was being connected
                if not refused:
                    self._pairs.add(pair)
            if refused:
                _close(*pair)
                continue
            threading.Thread(target=self._pump, args=(client, upstream, pair), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, pair), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket, pair: tuple[socket.socket, socket.socket]) -> None:
        try:
            while True:
                data = source.recv(CHUNK)
                if not data:
                    break
                if self.latency:
                    time.sleep(self.latency)
                if self.mode == "blackhole":
                    continue
                target.sendall(data)
        except OSError:
            pass
        finally:
            with self._lock:
                self._pairs.discard(pair)
            _close(*pair)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            listener, self._listener = self._listener, None
        if listener is not None:
            _close(listener)
        self.cut()

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()


def _close(*sockets: socket.socket) -> None:
    """Shut down and close, whatever state the sockets are in (the peer may be gone)."""
    for sock in sockets:
        with suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        sock.close()
