"""What a newcomer runs: the README's commands, docker-compose.yml, .env.example.

No Docker engine runs here, so the compose file is checked without one: against the Compose
specification's JSON schema (``check-jsonschema``'s vendored copy, offline), and each service's
command against printrelay's own command line.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import click
import pytest
from ruamel.yaml import YAML

from config.settings import Settings, unknown_names
from worker.cli import main

ROOT = Path(__file__).resolve().parents[2]
#: Every setting CONTRACT.md's configuration table names (``<PROVIDER>`` expanded).
CONTRACT_SETTINGS = [
    "PRINTRELAY_REDIS_URL",
    "PRINTRELAY_DATABASE_URL",
    "PRINTRELAY_ARTIFACT_DIR",
    *(
        f"PRINTRELAY_{p}__{s}"
        for p in ("PRINTEERS", "PRINTAPI", "IDEALFACTORY", "PRINTNOW", "PRINTLANE")
        for s in ("BASE_URL", "RATE_LIMITS")
    ),
    "PRINTRELAY_PRINTEERS__SECRET_KEY",
    "PRINTRELAY_PRINTAPI__CLIENT_ID",
    "PRINTRELAY_PRINTAPI__CLIENT_SECRET",
    "PRINTRELAY_IDEALFACTORY__TOKEN",
    "PRINTRELAY_IDEALFACTORY__STORE_ID",
    "PRINTRELAY_PRINTNOW__TOKEN",
    "PRINTRELAY_PRINTNOW__KEY",
    "PRINTRELAY_PRINTLANE__STORE_ID",
    "PRINTRELAY_PRINTLANE__API_KEY",
    "PRINTRELAY_PRINTLANE__API_SECRET",
    "PRINTRELAY_PRINTLANE__DOMAIN",
    "PRINTRELAY_FLOWER__BASIC_AUTH",
    "PRINTRELAY_FLOWER__PORT",
]


def parse(args: list[str]) -> click.Context:
    """Resolve ``printrelay ARGS`` to its command and parse every option, without running it:
    an unknown command or option, or a bad value, raises ``click.UsageError``."""
    ctx = main.make_context("printrelay", list(args))
    command: click.Command = main
    while isinstance(command, click.Group):
        rest = [*ctx._protected_args, *ctx.args]
        if not rest and command.invoke_without_command:  # `printrelay providers` runs the group itself
            break
        name, sub, rest = command.resolve_command(ctx, rest)
        assert sub is not None and name is not None
        ctx = sub.make_context(name, rest, parent=ctx)
        command = sub
    return ctx


def readme_commands() -> list[list[str]]:
    commands, fenced = [], False
    for line in (ROOT / "README.md").read_text().splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif fenced and line.startswith("printrelay "):
            commands.append(shlex.split(line.split("  #")[0].replace("[--force]", "--force")))
    return commands


def test_every_printrelay_command_in_the_readme_parses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "order.json").write_text("{}")
    (tmp_path / "orders.jsonl").write_text("{}\n")
    commands = readme_commands()
    assert len(commands) >= 15 and ["printrelay", "db", "upgrade"] in commands
    for command in commands:
        args = [str(uuid.uuid4()) if a == "JOB_ID" else a for a in command[1:]]
        ctx = parse(args)
        group = main.commands.get(args[0])
        assert ctx.command.name == args[1 if isinstance(group, click.Group) and len(args) > 1 else 0]


def test_the_two_top_commands_are_the_makefiles(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text()
    top = readme.split("```")[1]
    assert "make demo" in top and "make test" in top
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^demo: .*\n\t\$\(BIN\)/printrelay demo", makefile, flags=re.M)
    assert re.search(r"^test: lint typecheck\n\t\$\(BIN\)/pytest", makefile, flags=re.M)
    assert "make test" in (ROOT / ".ci" / "run").read_text()  # what CI runs is what the README says
    dry = subprocess.run(["make", "-n", "demo", "test"], cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert dry.returncode == 0, dry.stderr


def compose() -> dict[str, Any]:
    data: dict[str, Any] = YAML(typ="safe").load((ROOT / "docker-compose.yml").read_text())
    return data


def test_the_compose_file_validates_against_the_compose_specification(tmp_path: Path) -> None:
    check = [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec"]
    good = subprocess.run([*check, str(ROOT / "docker-compose.yml")], capture_output=True, text=True, timeout=60)
    assert good.returncode == 0, good.stdout + good.stderr
    broken = tmp_path / "docker-compose.yml"  # the check can fail: a wrong start-order condition
    broken.write_text((ROOT / "docker-compose.yml").read_text().replace("service_completed_successfully", "service_finished", 1))
    assert subprocess.run([*check, str(broken)], capture_output=True, timeout=60).returncode != 0


def test_the_compose_services_start_in_order_and_run_real_commands() -> None:
    services = compose()["services"]
    assert {"redis", "postgres", "migrate", "worker", "beat", "flower", "console", "sandbox"} <= set(services)
    assert "--appendonly" in services["redis"]["command"] and "yes" in services["redis"]["command"]
    for name in ("redis", "postgres", "worker", "console", "sandbox"):
        assert "healthcheck" in services[name], f"{name} has no health check"
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in ("worker", "beat"):
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert services[name]["depends_on"]["redis"]["condition"] == "service_healthy"
    for name, service in services.items():
        command = service.get("command")
        if service.get("image", "").startswith("printrelay") or "build" in service:
            assert command[0] == "printrelay", name
            parse(command[1:])  # a command (and options) printrelay has
            assert unknown_names(service.get("environment", {})) == [], name


def test_env_example_lists_every_setting_and_nothing_else(tmp_path: Path) -> None:
    text = (ROOT / ".env.example").read_text()
    names = re.findall(r"^#? ?(PRINTRELAY_[A-Z0-9_]+)=", text, flags=re.M)
    assert set(CONTRACT_SETTINGS) <= set(names), sorted(set(CONTRACT_SETTINGS) - set(names))
    assert unknown_names(names) == []
    assert {f"PRINTRELAY_WEBHOOK__{s}" for s in ("SECRET", "SIGNATURE_HEADER")} <= set(names)
    # every line, uncommented, is a valid configuration
    env = tmp_path / ".env"
    env.write_text("\n".join(re.sub(r"^# ?(PRINTRELAY_)", r"\1", line) for line in text.splitlines()))
    settings = Settings(_env_file=str(env))  # type: ignore[call-arg]
    assert settings.printlane.push_deadline == 604800 and settings.rate_limits("printeers")["uploads"] == (5000, 86400)
    assert settings.retry["submit_order"].max_attempts == 8 and settings.printeers.for_account("shop2").secret_key is not None


def test_a_misspelt_setting_is_pointed_out(tmp_path: Path) -> None:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("PRINTRELAY_")}
    env.update(PRINTRELAY_PRINTEERS__SECRETKEY="sk", PRINTRELAY_DATABASE_URL=f"sqlite:///{tmp_path / 'x.db'}")
    run = subprocess.run(
        [sys.executable, "-m", "worker.cli", "db", "upgrade"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0
    assert "PRINTRELAY_PRINTEERS__SECRETKEY is not a printrelay setting" in run.stderr


def test_every_link_in_the_readme_and_docs_resolves_inside_the_repository() -> None:
    """A clone carries its own reference: no link to a file outside it (``../shared/…``)."""
    import re

    documents = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    checked = 0
    for document in documents:
        text = document.read_text()
        targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text) + re.findall(r"`(\.\./[^`]+)`", text)
        for target in targets:
            if target.startswith(("http://", "https://", "mailto:")):
                continue
            resolved = (document.parent / target).resolve()
            assert resolved.is_relative_to(ROOT), f"{document.name} links outside the repository: {target}"
            assert resolved.exists(), f"{document.name} links to {target}, which is not in the repository"
            checked += 1
    assert checked >= 2
