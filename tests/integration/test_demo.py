"""``printrelay demo --exit``: the newcomer's first command, run for real against the test Redis."""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import subprocess
from collections import Counter
from contextlib import closing
from pathlib import Path

from config.providers import PRINT_PROVIDERS

ROOT = Path(__file__).resolve().parents[2]


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


def fresh_clone(tmp_path: Path) -> Path:
    """A clone of the repository as a newcomer gets it (committed files only, no .venv)."""
    clone = tmp_path / "printrelay"
    if (ROOT / ".git").exists():
        subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", str(ROOT), str(clone)], check=True, timeout=120)
    else:  # an unpacked archive: the files `make demo` reads
        clone.mkdir()
        for name in ("Makefile", "pyproject.toml", "README.md"):
            shutil.copy(ROOT / name, clone / name)
    return clone


def test_the_demo_from_a_fresh_clone_ends_with_commands_that_work_as_printed(private_redis_url: str, tmp_path: Path) -> None:
    """``make demo DEMO_ARGS=--exit`` in a fresh clone, then every ``$`` line of its closing
    words, exactly as printed, in one shell in the same directory. The clone uses this run's
    virtual environment (``make -o`` keeps it from building a second one): the code is the same."""
    clone = fresh_clone(tmp_path)
    venv = ROOT / ".venv"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRINTRELAY_")}
    env.update(PRINTRELAY_REDIS_URL=private_redis_url, COLUMNS="200")
    run = subprocess.run(
        ["make", "--no-print-directory", "demo", "DEMO_ARGS=--exit", f"VENV={venv}", "-o", f"{venv}/.installed"],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    assert "how every job ended" in run.stdout and "did not end as expected" not in run.stdout
    # Flower stopped with the demo: its address and password are not offered any more
    assert "Flower: http" not in run.stdout and "password" not in run.stdout
    assert f"the job store: {clone / 'var' / 'printrelay.db'}" in run.stdout
    assert f"artifacts (print files, checked and hashed): {clone / 'var' / 'artifacts'}" in run.stdout

    left = sorted(p.name for p in (clone / "var").iterdir())
    assert left == ["artifacts", "demo-beat.log", "demo-flower.log", "demo-worker.log", "printrelay.db"]  # its inputs are gone

    with closing(sqlite3.connect(clone / "var" / "printrelay.db")) as db:
        jobs = db.execute("SELECT provider, kind, state, attempt_count FROM jobs").fetchall()
        artifacts = db.execute("SELECT provider, path, sha256, size FROM artifacts").fetchall()
        ids = [row[0] for row in db.execute("SELECT id FROM jobs")]
    assert {provider for provider, *_ in jobs} == set(PRINT_PROVIDERS)
    assert Counter(state for _, _, state, _ in jobs) == {"succeeded": len(jobs) - 2, "failed": 1, "skipped": 1}
    assert ("printeers", "submit_order", "succeeded", 2) in jobs  # throttled once, then placed
    assert {provider for provider, *_ in artifacts} == {"printnow", "idealfactory"}
    for _, path, sha256, size in artifacts:
        data = Path(path).read_bytes()
        assert (hashlib.sha256(data).hexdigest(), len(data)) == (sha256, size)
        assert Path(path).is_relative_to(clone / "var" / "artifacts")
    assert processes_in(clone) == []  # worker, beat and Flower stopped with it

    commands = [line.strip()[2:] for line in run.stdout.splitlines() if line.strip().startswith("$ ")]
    assert len(commands) >= 3 and any(" jobs show " in c for c in commands)
    shown_prefix = next(c for c in commands if " jobs show " in c).split()[-1]
    assert len(shown_prefix) == 8 and sum(i.startswith(shown_prefix) for i in ids) == 1
    # the id prefix is the one the table shows too
    assert shown_prefix in run.stdout.split("how every job ended")[1]
    env.pop("PRINTRELAY_REDIS_URL")  # a newcomer's shell: nothing set
    session = subprocess.run(
        ["bash", "-e", "-c", "\n".join(f"echo '>>> {c}'; {c}" for c in commands)],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert session.returncode == 0, session.stdout[-3000:] + session.stderr[-3000:]
    assert "submit_order" in session.stdout and "attempts" in session.stdout and "throttled" in session.stdout
    assert "printrelay:" not in session.stderr  # no refusal, no warning
