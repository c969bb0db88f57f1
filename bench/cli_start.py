"""Start-up of the command line: `marac-gateway --help` and `--version` (neither touches a
database), against a bare `python -c pass` in the same run as the baseline. Whole
processes, --count runs each, interleaved; p50 and p95 in ms. JSON lines.

Run: .venv/bin/python bench/cli_start.py
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import emit, environment, percentile, r

CLI = str(Path(sys.executable).parent / "marac-gateway")
RUNS = {
    "help": [CLI, "--help"],
    "version": [CLI, "--version"],
    "baseline_python": [sys.executable, "-c", "pass"],
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=20)
    args = parser.parse_args()
    emit({"bench": "cli_start", **environment()})
    took: dict[str, list[float]] = {label: [] for label in RUNS}
    for _ in range(args.count):
        for label, command in RUNS.items():
            started = time.perf_counter()
            subprocess.run(command, check=True, capture_output=True)
            took[label].append((time.perf_counter() - started) * 1000)
    for label, samples in took.items():
        emit(
            {
                "phase": label,
                "runs": args.count,
                "p50_ms": r(percentile(samples, 50)),
                "p95_ms": r(percentile(samples, 95)),
                "goal_ms": 500 if label != "baseline_python" else None,
            }
        )


if __name__ == "__main__":
    main()
