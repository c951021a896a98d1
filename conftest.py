"""Collects the wall time of each notebook run by nbval (summed over its cells and the
kernel start) and prints them slowest first; also saved to build/notebook_times.json."""

import json
from collections import defaultdict
from pathlib import Path

_times: dict[str, float] = defaultdict(float)


def pytest_runtest_logreport(report):
    path = report.nodeid.split("::", 1)[0]
    if path.endswith(".ipynb"):
        _times[path] += report.duration


def pytest_terminal_summary(terminalreporter):
    if not _times:
        return
    terminalreporter.section("notebook wall times (slowest first)")
    for path, seconds in sorted(_times.items(), key=lambda kv: -kv[1]):
        terminalreporter.write_line(f"{seconds:8.1f} s  {path}")
    out = Path("build") / "notebook_times.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(dict(_times), indent=1), encoding="utf-8")
