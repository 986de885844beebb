"""``printrelay demo --exit``: the newcomer's first command, run for real against the test Redis."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import sys
from collections import Counter
from contextlib import closing
from pathlib import Path

from config.providers import PRINT_PROVIDERS


def processes_in(folder: Path) -> list[str]:
    """Processes whose working directory is ``folder``: what the demo started and left running."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and int(proc.name) != os.getpid() and Path(os.readlink(proc / "cwd")) == folder:
                found.append((proc / "cmdline").read_bytes().replace(b"\0", b" ").decode())
        except OSError:
            continue
    return found


def test_the_demo_runs_every_provider_to_its_expected_end_and_cleans_up(private_redis_url: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRINTRELAY_")}
    env.update(PRINTRELAY_REDIS_URL=private_redis_url, COLUMNS="200")
    run = subprocess.run(
        [sys.executable, "-m", "worker.cli", "demo", "--exit"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    assert "how every job ended" in run.stdout and "Flower: http://127.0.0.1:" in run.stdout
    assert "password" in run.stdout and "did not end as expected" not in run.stdout

    left = sorted(p.name for p in (tmp_path / "var").iterdir())
    assert left == ["artifacts", "demo-beat.log", "demo-flower.log", "demo-worker.log", "printrelay.db"]  # its inputs are gone

    with closing(sqlite3.connect(tmp_path / "var" / "printrelay.db")) as db:
        jobs = db.execute("SELECT provider, kind, state, attempt_count FROM jobs").fetchall()
        artifacts = db.execute("SELECT provider, path, sha256, size FROM artifacts").fetchall()
    assert {provider for provider, *_ in jobs} == set(PRINT_PROVIDERS)
    assert Counter(state for _, _, state, _ in jobs) == {"succeeded": len(jobs) - 2, "failed": 1, "skipped": 1}
    assert ("printeers", "submit_order", "succeeded", 2) in jobs  # throttled once, then placed
    assert {provider for provider, *_ in artifacts} == {"printnow", "idealfactory"}
    for _, path, sha256, size in artifacts:
        data = Path(path).read_bytes()
        assert (hashlib.sha256(data).hexdigest(), len(data)) == (sha256, size)
        assert Path(path).is_relative_to(tmp_path / "var" / "artifacts")

    assert processes_in(tmp_path) == []  # worker, beat and Flower stopped with it
