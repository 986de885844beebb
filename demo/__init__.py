"""``printrelay demo``: printrelay at work on one machine, across all five providers, with
nothing set up beforehand.

It starts what is missing — a Redis server (unless one answers at ``PRINTRELAY_REDIS_URL``), the
providers' sandbox, a worker, beat and Flower (behind a generated password) — keeps the job store
in SQLite under ``./var``, runs the scenario of :mod:`demo.scenario` with a live view of
the jobs, and prints how every job ended. Everything it started is stopped on the way out
(Ctrl-C, or at once with ``--exit``) and its inputs removed; the job store, the artifacts and
the processes' logs stay in ``./var`` to look at.

The demo never talks to a real provider: every base URL points at its own sandbox, whatever
the environment says.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from contextlib import ExitStack
from pathlib import Path
from typing import IO

from rich.console import Console
from rich.live import Live

from demo import report
from demo.scenario import Scenario
from worker.runtime import Runtime

console = Console()
if not console.is_terminal:  # a log or a pipe: wide enough for the tables
    console = Console(width=160)
VAR = Path("var")
#: The scenario's input files (images, a PDF), removed at the end.
INPUTS = VAR / "demo"
#: Long enough for the slowest story (PrintNow's 409s, Printlane's outage) several times over.
TIMEOUT = 180.0


def run_demo(*, keep_serving: bool) -> int:
    """Run the demo; 0 if every job ended as the scenario expects. Ctrl-C (or SIGTERM) at any
    point stops everything it started."""
    for signum in (signal.SIGINT, signal.SIGTERM):  # also when started where SIGINT is ignored
        signal.signal(signum, _interrupt)
    try:
        return _demo(keep_serving=keep_serving)
    except KeyboardInterrupt:
        console.print("stopped; everything the demo started is stopped too")
        return 130


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _demo(*, keep_serving: bool) -> int:
    from sandbox.server import BackgroundSandbox
    from sandbox.services import free_port, redis_answers, start_redis

    VAR.mkdir(exist_ok=True)
    with ExitStack() as stack:
        stack.callback(_tidy, INPUTS)  # last, once the processes (beat writes its schedule) are gone
        redis_url = os.environ.get("PRINTRELAY_REDIS_URL", "redis://127.0.0.1:6379/0")
        if redis_answers(redis_url):
            console.print(f"using the Redis server at {redis_url}")
        else:
            started = start_redis()
            stack.callback(started.stop)
            redis_url = started.url
            console.print(f"started a Redis server at {redis_url}")

        sandbox = BackgroundSandbox(port=free_port()).start()
        stack.callback(sandbox.stop)
        console.print(f"started the providers' sandbox at {sandbox.root}")

        flower_password = secrets.token_urlsafe(12)
        flower_port = 5555 if _port_free(5555) else free_port()
        env = demo_environment(redis_url, sandbox.root, flower_password, flower_port)
        os.environ.update(env)
        runtime = _runtime()
        runtime.store.upgrade()
        console.print(f"job store: {runtime.store.engine.url.render_as_string(hide_password=True)}")

        processes = Processes(stack, env)
        worker_name = f"demo-{os.getpid()}@{socket.gethostname()}"
        processes.start("worker", "worker", "--concurrency", "8", "-n", worker_name)
        processes.start("beat", "beat", "--schedule", str(VAR / "celerybeat-schedule"))
        processes.start("flower", "flower", f"--port={flower_port}", "--address=127.0.0.1")
        if not _answers(worker_name, processes):
            console.print(f"[red]the worker did not start: see {VAR}/demo-worker.log[/]")
            return 1
        console.print(f"started a worker, beat and Flower (logs: {VAR}/demo-*.log)\n")

        scenario = Scenario(runtime, sandbox.root, INPUTS)
        failed = _watch(runtime, scenario)

        for line in closing_lines(
            runtime,
            scenario,
            flower=f"http://127.0.0.1:{flower_port}  user demo, password {flower_password}" if keep_serving and not failed else None,
            redis_url=redis_url if keep_serving and not failed else None,
        ):
            console.print(line, markup=False, highlight=False, soft_wrap=True)
        if keep_serving and not failed:
            console.print("\nstill serving (worker, beat, Flower, sandbox). Ctrl-C stops it all.")
            try:
                while processes.alive():
                    time.sleep(0.5)
            except KeyboardInterrupt:
                console.print("stopping…")
        return 1 if failed else 0


def printrelay_command() -> str:
    """How to run printrelay from where the user stands: ``printrelay`` when that is the one on
    PATH, else this environment's script, relative to the working directory when inside it."""
    import shutil

    script = Path(sys.executable).parent / "printrelay"
    found = shutil.which("printrelay")
    if found and Path(found).resolve() == script.resolve():
        return "printrelay"
    try:
        return str(script.relative_to(Path.cwd()))
    except ValueError:
        return str(script)


def closing_lines(runtime: Runtime, scenario: Scenario, *, flower: str | None, redis_url: str | None) -> list[str]:
    """What is still there when the demo ends, and commands that work exactly as printed
    (``$ `` lines, in this shell and directory). Flower and Redis only while they run."""
    from worker.store.engine import sqlite_file

    command = printrelay_command()
    database = sqlite_file(runtime.settings.database_url)
    example = next((p.job_id for p in scenario.jobs if p.provider == "printeers" and "order" in p.label), None)
    lines = ["", "what is still here:"]
    lines.append(f"  the job store: {database.resolve() if database else runtime.store.engine.url.render_as_string(hide_password=True)}")
    lines.append(f"  artifacts (print files, checked and hashed): {Path(runtime.settings.artifact_dir).resolve()}")
    lines.append(f"  logs: {VAR.resolve()}/demo-*.log")
    if flower:
        lines.append(f"  Flower: {flower}")
    lines.append("look closer, from this directory:")
    if redis_url:
        lines.append(f"  $ export PRINTRELAY_REDIS_URL={redis_url}")
    lines.append(f"  $ {command} jobs list")
    if example:
        lines.append(f"  $ {command} jobs show {example[:8]}")
    lines.append(f"  $ {command} jobs list --state failed --json")
    if redis_url:
        lines.append(f"  $ {command} limits")
    if command != "printrelay":
        lines.append(f"(`source {Path(command).parent}/activate` puts printrelay on your PATH)")
    return lines


def demo_environment(redis_url: str, sandbox: str, flower_password: str, flower_port: int) -> dict[str, str]:
    """Settings for the demo's processes: every registered provider at the sandbox (with
    credentials the sandbox accepts, fresh for this run), quick waits."""
    from worker.adapters.registry import providers

    env = {"PRINTRELAY_REDIS_URL": redis_url}
    tag = "demo-" + secrets.token_hex(8)
    for name, provider in providers().items():
        if provider.sandbox is not None:
            for key, value in provider.sandbox.settings(f"{sandbox}{provider.sandbox.prefix}", tag).items():
                env[f"PRINTRELAY_{name.upper()}__{key.upper()}"] = str(value)
    return {
        **env,
        # the demo's minutes are short: poll every second, back off from half a second
        "PRINTRELAY_RETRY__POLL_PRINT_FILE__POLL_INTERVAL": "1",
        "PRINTRELAY_RETRY__SUBMIT_ORDER__BASE": "0.5",
        "PRINTRELAY_RETRY__SUBMIT_ORDER__CAP": "2",
        "PRINTRELAY_FLOWER__BASIC_AUTH": f"demo:{flower_password}",
        "PRINTRELAY_FLOWER__PORT": str(flower_port),
    }


class Processes:
    """printrelay subprocesses with a log each under ./var, stopped (TERM, then KILL) on exit."""

    def __init__(self, stack: ExitStack, env: dict[str, str]) -> None:
        self.stack, self.env, self.running = stack, env, {}  # type: ExitStack, dict[str, str], dict[str, subprocess.Popen[bytes]]

    def start(self, name: str, *args: str) -> None:
        log: IO[bytes] = self.stack.enter_context((VAR / f"demo-{name}.log").open("ab"))
        process = subprocess.Popen(
            [sys.executable, "-m", "worker.cli", *args], env={**os.environ, **self.env}, stdout=log, stderr=subprocess.STDOUT
        )
        self.running[name] = process
        self.stack.callback(_stop, process)

    def alive(self) -> bool:
        return all(p.poll() is None for p in self.running.values())


def _watch(runtime: Runtime, scenario: Scenario) -> int:
    """Run the scenario in a thread, show progress until every job has ended; how many ended
    otherwise than expected (or never ended)."""
    errors: list[BaseException] = []

    def story() -> None:
        try:
            scenario.run()
        except BaseException as exc:  # shown below; the demo must still clean up
            errors.append(exc)

    thread = threading.Thread(target=story, name="demo-scenario", daemon=True)
    started = time.monotonic()
    thread.start()
    with Live(console=console, refresh_per_second=4, transient=False) as live:
        while True:
            jobs = report.snapshot(runtime, list(scenario.jobs))
            live.update(report.progress(jobs, time.monotonic() - started))
            done = not thread.is_alive() and all(job.finished for _, job in jobs)
            if done or time.monotonic() - started > TIMEOUT:
                break
            time.sleep(0.25)
    if not console.is_terminal:  # rich leaves the last frame's line open on a pipe
        console.file.write("\n")
    for refusal in scenario.refusals:
        console.print(f"refused before anything was stored: {refusal}")
    if errors:
        console.print(f"[red]the scenario stopped: {type(errors[0]).__name__}: {errors[0]}[/]")
    jobs = report.snapshot(runtime, list(scenario.jobs))
    console.print(report.outcomes(jobs, width=console.width))
    wrong = report.unexpected(jobs)
    if wrong:
        console.print(f"[red]{len(wrong)} job(s) did not end as expected[/]")
    return len(wrong) + len(errors)


def _runtime() -> Runtime:
    from config.celery import celery_config
    from config.settings import get_settings, use_settings
    from worker.app import app
    from worker.runtime import reset_runtime

    use_settings(None)
    settings = get_settings()
    app.conf.update(celery_config(settings))
    return reset_runtime(settings)


def _answers(worker_name: str, processes: Processes, timeout: float = 60.0) -> bool:
    """Wait until the worker answers a ping, so the scenario's timings start with it running."""
    from worker.app import app

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and processes.alive():
        if app.control.ping(destination=[worker_name], timeout=0.5):
            return True
    return False


def _tidy(workdir: Path) -> None:
    """Remove the demo's inputs and beat's schedule; the job store, artifacts and logs stay."""
    import shutil

    shutil.rmtree(workdir, ignore_errors=True)
    for schedule in VAR.glob("celerybeat-schedule*"):
        schedule.unlink(missing_ok=True)


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
