"""``python -m coursekit.bench [NAME ...]``: run the benchmarks (all, or the named modules) in
full mode and print one table of what they measured."""

from __future__ import annotations

import importlib
import os
import pkgutil
import sys
import time

import coursekit.bench as bench


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    os.environ["LMLIB_FAST"] = "0"
    available = sorted(m.name for m in pkgutil.iter_modules(bench.__path__)
                       if not m.name.startswith("_"))
    unknown = [n for n in argv if n not in available]
    if unknown:
        print(f"unknown benchmark(s) {unknown}; available: {available}", file=sys.stderr)
        return 2
    import lmlib

    lmlib.setup()
    rows = []
    for name in argv or available:
        start = time.perf_counter()
        print(f"running {name} ...", flush=True)
        module = importlib.import_module(f"coursekit.bench.{name}")
        for m in module.run():
            rows.append((name, m))
        print(f"  {name} took {time.perf_counter() - start:.1f} s", flush=True)
    if not rows:
        print("no benchmarks yet")
        return 0
    w = max(len(m.name) for _, m in rows)
    print(f"\n{'benchmark':<10} {'measure':<{w}} {'value':>12} {'unit':<10} {'target':<14} note")
    for name, m in rows:
        print(f"{name:<10} {m.name:<{w}} {m.value:>12.4f} {m.unit:<10} {m.target:<14} {m.note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
