"""The command line starts in a blink for ``--help`` (issue 20: ≤ 0.3 s; measured 0.06 s).

Timing tests are noisy on shared machines, so these check the cause instead: what a command's
help imports. SQLAlchemy, pydantic(-settings), httpx, Celery and redis are about 0.45 s of imports
between them; help needs none of them.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("sqlalchemy", "pydantic", "pydantic_settings", "httpx", "celery", "redis", "worker.adapters.printeers")

PROBE = """
import json, sys
from worker.cli import main
try:
    main({args!r}, prog_name="printrelay")
except SystemExit as exc:
    code = exc.code
print(json.dumps({{"code": code, "heavy": [m for m in {heavy!r} if m in sys.modules]}}))
"""


def _help_imports(args: list[str], env_extra: dict[str, str] | None = None) -> dict[str, object]:
    import os

    env = {k: v for k, v in os.environ.items() if k != "PRINTRELAY_PLUGINS"} | (env_extra or {})
    env["PRINTRELAY_DATABASE_URL"] = "sqlite:////nonexistent/never-created.db"
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(args=args, heavy=HEAVY)], capture_output=True, text=True, env=env, check=True, timeout=60
    )
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@pytest.mark.parametrize(
    "args", [["--help"], ["enqueue", "--help"], ["jobs", "--help"], ["jobs", "find", "--help"], ["providers", "pause", "--help"]]
)
def test_help_imports_nothing_heavy(args: list[str]) -> None:
    found = _help_imports(args, {"PRINTRELAY_NOT_A_SETTING": "1"})
    assert found == {"code": 0, "heavy": []}


def test_provider_names_without_importing_match_the_registry() -> None:
    """``enqueue --help`` lists the providers from module names; they must be the registry's."""
    probe = (
        "import json, sys\n"
        "from worker.adapters.registry import print_provider_names, print_providers\n"
        "names = print_provider_names()\n"
        "imported = 'httpx' in sys.modules\n"
        "print(json.dumps([list(names), sorted(print_providers()), imported]))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60)
    names, registered, imported = json.loads(done.stdout)
    assert names == registered
    assert len(names) == 5
    assert imported is False


def test_a_misspelt_setting_is_still_warned_of_when_a_command_runs(tmp_path: object) -> None:
    import os

    env = {**os.environ, "PRINTRELAY_PRINTEERS__SECRETKEY": "x", "PRINTRELAY_DATABASE_URL": "sqlite:////nonexistent/never.db"}
    done = subprocess.run(
        [sys.executable, "-m", "worker.cli", "jobs", "list"], capture_output=True, text=True, env=env, timeout=60, cwd=str(tmp_path)
    )
    assert "PRINTRELAY_PRINTEERS__SECRETKEY is not a printrelay setting" in done.stderr
