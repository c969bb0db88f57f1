"""`make lint`'s advisory check (tools/check_advisories.py): the snapshot's date is always
printed, an affected version is named, and an old snapshot fails rather than passing."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

from packaging.version import Version

TOOL = Path(__file__).resolve().parents[2] / "tools" / "check_advisories.py"


def checker() -> ModuleType:
    spec = importlib.util.spec_from_file_location("check_advisories", TOOL)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks its module up there
    spec.loader.exec_module(module)
    return module


def run(**env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(TOOL)], env={**os.environ, **env}, capture_output=True, text=True
    )


def test_an_affected_version_is_named() -> None:
    tool = checker()
    _taken, _age, advisories = tool.load(tool.SNAPSHOT)
    found = tool.applying(advisories, {"gunicorn": Version("22.0.0")}, "installed")
    assert found and all("gunicorn 22.0.0" in line for line in found)
    assert any("CVE-2024-6827" in line for line in found)
    assert tool.applying(advisories, {"gunicorn": Version("23.0.0")}, "installed") == []


def test_the_snapshot_date_is_printed_and_an_old_snapshot_fails() -> None:
    fresh = run(ADVISORY_MAX_AGE_DAYS="100000")
    assert fresh.returncode == 0, fresh.stdout
    assert "snapshot of 20" in fresh.stdout
    stale = run(ADVISORY_MAX_AGE_DAYS="-1")
    assert stale.returncode == 1
    assert "days old (more than -1)" in stale.stdout
