"""``bench/load.py`` (the load benchmark of the operations issue) runs end to end, small and short.

The figures themselves come from running the script for real (docs/operations-cluster-proof.md);
this guards that it keeps working against the current pages and API: it builds an installation,
starts a web server, logs its users in, and every request of its mix answers as a user expects.
"""

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def run_bench(tmp_path: Path, *arguments: str) -> tuple[subprocess.CompletedProcess, dict]:
    # The bench builds its own installation: nothing of the test run's may leak into it.
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("IBCLOUD_", "DJANGO_", "DATABASE_URL", "REDIS_URL"))
    }
    env["TMPDIR"] = str(tmp_path)
    result = subprocess.run(  # noqa: S603 - our interpreter, our script
        [sys.executable, str(REPO / "bench" / "load.py"), *arguments],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    figures = dict(line.split(": ", 1) for line in result.stdout.splitlines() if ": " in line)
    return result, figures


def test_load_bench_reports_its_figures_and_no_errors(tmp_path):
    result, figures = run_bench(
        tmp_path,
        *("--users", "2", "--seconds", "3", "--deals", "40", "--projects", "40"),
        *("--server", "waitress"),
    )

    assert result.returncode == 0, result.stderr[-4000:]
    assert figures["errors"] == "0"
    assert int(figures["users"]) == 2
    assert int(figures["requests"]) > 0
    for key in ("rps", "p50_ms", "p95_ms", "p99_ms", "cpu_seconds"):
        assert float(figures[key]) >= 0, key
    assert float(figures["p50_ms"]) <= float(figures["p95_ms"]) <= float(figures["p99_ms"])
    # Its data directory was temporary and is gone.
    assert not any(tmp_path.glob("ibcloud-bench-load-*"))
