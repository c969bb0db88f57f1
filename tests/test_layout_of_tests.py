"""Test modules are imported by their bare name (pytest's default import mode, no
packages): two test files with one name would shadow each other, so none may share one."""

from __future__ import annotations

from collections import Counter
from pathlib import Path


def test_no_two_test_modules_share_a_name() -> None:
    names = Counter(path.name for path in Path(__file__).parent.rglob("test_*.py"))
    assert [name for name, count in names.items() if count > 1] == []
