"""`make lint`: no known advisory (tools/advisories.json, a dated snapshot committed to the
repository, so the check works offline) applies to a version pinned in requirements.lock
or installed in this environment; and the snapshot is not too old to trust.

Prints the snapshot's date every time; exits 1 naming each advisory that applies, or when
the snapshot is older than its max_age_days (ADVISORY_MAX_AGE_DAYS overrides), so an
out-of-date snapshot is never a silent pass.
"""

from __future__ import annotations

import json
import os
import re
import sys
from dataclasses import dataclass
from datetime import UTC, date, datetime
from importlib import metadata
from pathlib import Path

from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
SNAPSHOT = ROOT / "tools" / "advisories.json"
LOCK = ROOT / "requirements.lock"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s\\;]+)")


@dataclass(frozen=True)
class Advisory:
    package: str
    id: str
    affected: SpecifierSet
    summary: str


def load(path: Path) -> tuple[date, int, list[Advisory]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    advisories = [
        Advisory(
            canonicalize_name(a["package"]), a["id"], SpecifierSet(a["affected"]), a["summary"]
        )
        for a in data["advisories"]
    ]
    return date.fromisoformat(data["snapshot_date"]), int(data["max_age_days"]), advisories


def locked(path: Path) -> dict[str, Version]:
    pins: dict[str, Version] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        found = PIN.match(line)
        if found:
            pins[canonicalize_name(found[1])] = Version(found[2])
    return pins


def installed() -> dict[str, Version]:
    found: dict[str, Version] = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            found[canonicalize_name(name)] = Version(dist.version)
    return found


def applying(advisories: list[Advisory], versions: dict[str, Version], where: str) -> list[str]:
    return [
        f"{where}: {a.package} {versions[a.package]} is affected by {a.id} ({a.affected}): "
        f"{a.summary}"
        for a in advisories
        if a.package in versions and a.affected.contains(versions[a.package], prereleases=True)
    ]


def main() -> int:
    taken, max_age, advisories = load(SNAPSHOT)
    max_age = int(os.environ.get("ADVISORY_MAX_AGE_DAYS", max_age))
    age = (datetime.now(UTC).date() - taken).days
    pins, present = locked(LOCK), installed()
    problems = applying(advisories, pins, "requirements.lock")
    problems += applying(advisories, present, "installed")
    print(
        f"advisories: snapshot of {taken} ({age} days old, {len(advisories)} advisories), "
        f"{len(pins)} locked pins and {len(present)} installed packages checked"
    )
    if age > max_age:
        problems.append(
            f"the advisory snapshot is {age} days old (more than {max_age}): look up the "
            "locked packages' advisories, update tools/advisories.json and its snapshot_date"
        )
    for problem in problems:
        print("  " + problem)
    if not problems:
        print("  no known advisory applies")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
