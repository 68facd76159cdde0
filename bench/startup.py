"""How long ``atb`` takes to start: whole commands in fresh processes, cold and warm, beside the interpreter's
own floor, with ``python -X importtime`` figures for what each command imports.

    .venv/bin/python bench/startup.py [--repeat 10] [--top 12]

Commands (each run with an empty data directory and no ``.env``, as a new user would):
``atb --help``, ``atb strategies list``, ``atb backtest --help``, ``atb data list``; the peers in the same run
are ``python -c pass`` (the interpreter's floor) and ``python -c "import numpy"`` (the floor of anything that
computes). Target ([M6]): ``atb --help`` and ``atb strategies list`` in at most 0.3 s.

- **cold**: the first run after the command's ``__pycache__`` folders of atb's own packages are removed, so
  atb's modules are compiled again (what the first command after an install pays; the OS file cache stays
  warm, which a benchmark cannot honestly undo without root).
- **warm**: best and median of ``--repeat`` runs after that.
- **imports**: ``-X importtime`` of the same command: the total, and the ``--top`` slowest third-party
  packages by cumulative time.

Results go to bench/results/startup.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from machine import cpu_model  # noqa: E402  (bench/machine.py, beside this script)

TARGET_S = 0.3
PACKAGES = ("domain", "application", "adapters", "entrypoints")


def _atb() -> str:
    found = Path(sys.executable).with_name("atb")
    if not found.exists():
        sys.exit(f"no atb script beside {sys.executable}: install atb into this environment first")
    return str(found)


def commands() -> dict[str, list[str]]:
    atb = _atb()
    return {
        "python -c pass": [sys.executable, "-c", "pass"],
        "python -c 'import numpy'": [sys.executable, "-c", "import numpy"],
        "atb --help": [atb, "--help"],
        "atb strategies list": [atb, "strategies", "list"],
        "atb backtest --help": [atb, "backtest", "--help"],
        "atb data list": [atb, "data", "list"],
    }


def _env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATB_") and k != "DATABASE_URL"}
    env["ATB_DATA_DIR"] = str(data_dir)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def _run(argv: list[str], env: dict[str, str], cwd: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr.decode(errors='replace')[-400:]}")
    return elapsed


def _clear_bytecode() -> None:
    for package in PACKAGES:
        for cache in (ROOT / package).rglob("__pycache__"):
            shutil.rmtree(cache, ignore_errors=True)


_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)")


def import_profile(argv: list[str], env: dict[str, str], cwd: Path, top: int) -> dict[str, object]:
    """Total import time and the slowest top-level imports (cumulative microseconds, as -X importtime)."""
    python_argv = [sys.executable, "-X", "importtime", *argv[1:]] if argv[0] == sys.executable else None
    if python_argv is None:  # the atb script: run its entry point under -X importtime
        entry = "import sys; from entrypoints.cli.main import main; sys.argv[0] = 'atb'; main()"
        python_argv = [sys.executable, "-X", "importtime", "-c", entry, *argv[1:]]
    done = subprocess.run(python_argv, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    packages: dict[str, int] = {}
    total = 0
    for line in done.stderr.splitlines():
        m = _LINE.match(line)
        if not m:
            continue
        cumulative, indent, name = int(m.group(2)), len(m.group(3)), m.group(4)
        if indent == 1:  # a module the program imported itself: these add up to the whole
            total += cumulative
        if "." not in name and name not in PACKAGES:  # a package's own import, with what it pulls in
            packages[name] = max(packages.get(name, 0), cumulative)
    slowest = sorted(packages.items(), key=lambda kv: kv[1], reverse=True)[:top]
    return {"total_ms": round(total / 1000, 1), "slowest_ms": {k: round(v / 1000, 1) for k, v in slowest}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--top", type=int, default=12)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "startup.json")
    args = parser.parse_args()

    results: dict[str, dict[str, object]] = {}
    with tempfile.TemporaryDirectory(prefix="atb-startup-") as tmp:
        cwd, data_dir = Path(tmp), Path(tmp) / "data"
        env = _env(data_dir)
        for name, argv in commands().items():
            _clear_bytecode()
            cold = _run(argv, env, cwd)
            warm = [_run(argv, env, cwd) for _ in range(args.repeat)]
            row: dict[str, object] = {
                "cold_s": round(cold, 3),
                "warm_best_s": round(min(warm), 3),
                "warm_median_s": round(statistics.median(warm), 3),
                "imports": import_profile(argv, env, cwd, args.top),
            }
            if name in ("atb --help", "atb strategies list"):
                row["target_s"] = TARGET_S
                row["meets_target"] = statistics.median(warm) <= TARGET_S
            results[name] = row

    print(f"{'command':<28} {'cold':>7} {'warm best':>10} {'warm median':>12} {'imports':>9}")
    for name, row in results.items():
        imports = row["imports"]
        assert isinstance(imports, dict)
        mark = "" if "target_s" not in row else ("  <= 0.3 s ok" if row["meets_target"] else "  > 0.3 s MISSED")
        print(f"{name:<28} {row['cold_s']:>6.3f}s {row['warm_best_s']:>9.3f}s {row['warm_median_s']:>11.3f}s "
              f"{imports['total_ms']:>7.0f}ms{mark}")  # fmt: skip
    for name in ("atb --help", "atb strategies list"):
        imports = results[name]["imports"]
        assert isinstance(imports, dict)
        slowest = ", ".join(f"{k} {v:.0f}" for k, v in imports["slowest_ms"].items())
        print(f"\n{name}: slowest imports (ms, cumulative): {slowest}")

    args.out.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "machine": {"cpu": cpu_model(), "cpus": os.cpu_count(), "python": platform.python_version()},
        "repeat": args.repeat,
        "results": results,
    }
    args.out.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"\nwritten to {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")


if __name__ == "__main__":
    main()
