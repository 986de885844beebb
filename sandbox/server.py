"""Running the sandbox with uvicorn, in the foreground or in a background thread."""

from __future__ import annotations

import threading
import time

import httpx
import uvicorn

from sandbox.app import base_urls, create_app


def serve(host: str = "127.0.0.1", port: int = 9000) -> None:
    root = f"http://{host}:{port}"
    print(f"printrelay sandbox on {root}")
    for provider, url in base_urls(root).items():
        print(f"  PRINTRELAY_{provider.upper()}__BASE_URL={url}")
    uvicorn.run(create_app(), host=host, port=port, log_level="warning", access_log=False)


class BackgroundSandbox:
    """The sandbox in a thread of this process (the demo uses it)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 9000) -> None:
        self.root = f"http://{host}:{port}"
        config = uvicorn.Config(create_app(), host=host, port=port, log_level="warning", access_log=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="sandbox", daemon=True)

    def start(self, timeout: float = 10.0) -> BackgroundSandbox:
        self.thread.start()
        wait_healthy(self.root, timeout)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def wait_healthy(root: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{root}/_sandbox/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"the sandbox at {root} did not come up within {timeout} s")
        time.sleep(0.05)
