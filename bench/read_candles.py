"""How fast, and in how much memory, atb reads candle files: valid files of 1M and 10M rows (plain CSV and
CSV.gz), a gzip bomb, and the bundled BTCUSDT file, with the previous reader (the whole-file one of commit
ed0820d, before ADR 0014) as the peer.

    .venv/bin/python bench/read_candles.py              # about 3 minutes on 2 cores; the peer on 1M rows
    .venv/bin/python bench/read_candles.py --peer-10m   # also the previous reader on 10M rows (4+ minutes more)

- Files are synthetic (generated into a temporary directory, not timed): a seeded random walk of 1-minute
  bars in atb's format, ``open_time_ms,open,high,low,close,volume``, prices near 20,000 with 2 decimals and
  volumes with 3 (about 54 bytes a row: 10M rows are 543 MB, more than the issue's 359 MB). The gzip files
  are level 1 (what ``gzip -1`` writes; the level does not change what is decompressed).
- The bomb: 2 GiB of zeros gzipped at level 9 by streaming (about 2 MB on disk), as ``head -c 2G /dev/zero |
  gzip -9``. The previous reader is not run on it: it holds the 2 GiB, then more (21 GB in the issue).
- Each (file, reader) pair runs in its own Python process: **seconds** is the read alone (``read_candle_file``
  from path to validated ``CandleSeries``, imports excluded); **peak RSS** is the child's ``ru_maxrss``, which
  includes the interpreter, numpy and pandas (about 80 MB).

Targets ([M7], issue #13 point 2): 10M rows in at most 20 s and 1.5 GB; the bomb refused in under 2 s and
200 MB. Results: bench/results/read_candles.json.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from machine import cpu_model  # noqa: E402  (bench/machine.py, beside this script)

PEER_COMMIT = "ed0820d"
BUNDLED = ROOT / "adapters" / "files" / "bundled" / "BTCUSDT-1h.csv.gz"
TARGETS = {"10M seconds": 20.0, "10M peak RSS MB": 1500.0, "bomb seconds": 2.0, "bomb peak RSS MB": 200.0}

CHILD = r"""
import json, sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[1])
if sys.argv[2] == "peer":
    sys.path.insert(0, sys.argv[4])
    import peer_reader as reader
else:
    import adapters.files.csv_market_data as reader
from domain.model.symbols import Symbol
symbol = Symbol.parse("BTCUSDT")
start = time.perf_counter()
try:
    rows, error = len(reader.read_candle_file(Path(sys.argv[3]), symbol)), None
except Exception as e:
    rows, error = None, f"{type(e).__name__}: {e}"
print(json.dumps({"seconds": time.perf_counter() - start, "rows": rows, "error": error}))
"""


def write_candles(path: Path, rows: int, seed: int = 7) -> None:
    """``rows`` 1-minute bars of a seeded walk, in atb's format; gzip level 1 when ``path`` ends in .gz."""
    rng = np.random.default_rng(seed)
    price = 20_000.0
    f: Any
    with gzip.open(path, "wt", compresslevel=1) if path.suffix == ".gz" else path.open("w") as f:
        f.write("open_time_ms,open,high,low,close,volume\n")
        for start in range(0, rows, 1_000_000):
            n = min(1_000_000, rows - start)
            close = price * np.exp(np.cumsum(rng.normal(0, 0.0005, n)))
            open_ = np.concatenate(([price], close[:-1]))
            high = np.maximum(open_, close) + rng.random(n) * 5
            low = np.minimum(open_, close) - rng.random(n) * 5
            volume = rng.random(n) * 10
            times = 1_500_000_000_000 + (start + np.arange(n, dtype=np.int64)) * 60_000
            f.writelines(
                f"{t},{o:.2f},{h:.2f},{lo:.2f},{c:.2f},{v:.3f}\n"
                for t, o, h, lo, c, v in zip(
                    times.tolist(), open_.tolist(), high.tolist(), low.tolist(), close.tolist(), volume.tolist(),
                    strict=True,
                )
            )  # fmt: skip
            price = float(close[-1])


def write_bomb(path: Path, zeros: int = 2 << 30) -> None:
    """``zeros`` zero bytes gzipped at level 9, by streaming (``head -c 2G /dev/zero | gzip -9``)."""
    block = bytes(1 << 20)
    with gzip.open(path, "wb", compresslevel=9) as f:
        for _ in range(zeros // len(block)):
            f.write(block)


def write_peer(folder: Path) -> None:
    """The previous reader (commit ed0820d) as the module ``peer_reader``, its text helper beside it."""
    def show(path: str) -> str:
        return subprocess.run(["git", "-C", str(ROOT), "show", f"{PEER_COMMIT}:{path}"], check=True,
                              capture_output=True, text=True).stdout  # fmt: skip

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "peer_text.py").write_text(show("adapters/files/text.py"))
    reader = show("adapters/files/csv_market_data.py").replace(
        "from adapters.files.text import read_text", "from peer_text import read_text"
    )
    (folder / "peer_reader.py").write_text(reader)


def run_one(which: str, path: Path, peer_dir: Path) -> dict[str, Any]:
    # Popen.communicate reaps the child, so wait4 cannot see it: run it under a tiny wrapper that reports the
    # child's own rusage instead.
    wrapper = (
        "import os, subprocess, sys, json\n"
        "p = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)\n"
        "out = p.stdout.read(); err = p.stderr.read()\n"
        "_, status, usage = os.wait4(p.pid, 0)\n"
        "print(json.dumps({'out': out, 'err': err, 'maxrss_kb': usage.ru_maxrss}))\n"
    )
    args = [sys.executable, "-c", CHILD, str(ROOT), which, str(path), str(peer_dir)]
    done = subprocess.run([sys.executable, "-c", wrapper, *args], capture_output=True, text=True, check=True)
    report = json.loads(done.stdout)
    try:
        result: dict[str, Any] = json.loads(report["out"].strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        result = {"seconds": None, "rows": None, "error": (report["err"].strip().splitlines() or ["no output"])[-1]}
    result["peak_rss_mb"] = round(report["maxrss_kb"] / 1024, 1)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--peer-10m", action="store_true", help="also run the previous reader on 10M rows")
    parser.add_argument("--no-peer", action="store_true", help="atb's reader only")
    parser.add_argument("--sizes", default="1000000,10000000", help="rows of the valid files (comma-separated)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="atb-read-bench-") as tmp:
        folder = Path(tmp)
        peer_dir = folder / "peer"
        write_peer(peer_dir)
        cases: list[tuple[str, Path, int | None]] = [("bundled BTCUSDT 1h", BUNDLED, None)]
        for rows in sizes:
            for suffix in ("csv", "csv.gz"):
                path = folder / f"walk-{rows}.{suffix}"
                t0 = time.perf_counter()
                write_candles(path, rows)
                print(f"wrote {path.name}: {path.stat().st_size / 1e6:.0f} MB in {time.perf_counter() - t0:.0f} s",
                      flush=True)  # fmt: skip
                cases.append((f"{rows:,} rows {suffix}", path, rows))
        bomb = folder / "bomb.csv.gz"
        write_bomb(bomb)
        print(f"wrote {bomb.name}: {bomb.stat().st_size / 1e6:.1f} MB (2 GiB of zeros)", flush=True)
        cases.append(("gzip bomb, 2 GiB of zeros", bomb, 0))
        for name, path, rows in cases:
            readers = ["atb"]
            if not args.no_peer and rows != 0 and (rows is None or rows <= 1_000_000 or args.peer_10m):
                readers.append("peer")
            for which in readers:
                result = {"case": name, "reader": "atb" if which == "atb" else f"previous ({PEER_COMMIT})",
                          "file_mb": round(path.stat().st_size / 1e6, 1), **run_one(which, path, peer_dir)}  # fmt: skip
                results.append(result)
                seconds = "-" if result["seconds"] is None else f"{result['seconds']:.2f} s"
                outcome = f"{result['rows']:,} rows" if result["rows"] is not None else result["error"][:90]
                print(f"{name:28} {result['reader']:18} {seconds:>9} {result['peak_rss_mb']:>8.0f} MB  {outcome}",
                      flush=True)  # fmt: skip
    checks = _targets(results)
    for check in checks:
        print(f"target {check['target']}: measured {check['measured']}, {'met' if check['met'] else 'NOT met'}")
    out = ROOT / "bench" / "results" / "read_candles.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    machine = {"cpu": cpu_model(), "cores": os.cpu_count(), "python": platform.python_version(),
               "platform": platform.platform()}  # fmt: skip
    out.write_text(json.dumps({"machine": machine, "results": results, "targets": checks}, indent=2) + "\n")
    print(f"results: {out}")


def _targets(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    checks: list[dict[str, Any]] = []
    for r in results:
        if r["reader"] != "atb":
            continue
        if r["case"].startswith("10,000,000 rows"):
            ok = r["rows"] == 10_000_000
            checks.append({"target": f"{r['case']} <= 20 s", "measured": r["seconds"],
                           "met": ok and r["seconds"] <= TARGETS["10M seconds"]})  # fmt: skip
            checks.append({"target": f"{r['case']} <= 1500 MB", "measured": r["peak_rss_mb"],
                           "met": ok and r["peak_rss_mb"] <= TARGETS["10M peak RSS MB"]})  # fmt: skip
        if r["case"].startswith("gzip bomb"):
            refused = r["error"] is not None and "Unavailable" in r["error"]
            checks.append({"target": "bomb refused in < 2 s", "measured": r["seconds"],
                           "met": refused and r["seconds"] < TARGETS["bomb seconds"]})  # fmt: skip
            checks.append({"target": "bomb refused in < 200 MB", "measured": r["peak_rss_mb"],
                           "met": refused and r["peak_rss_mb"] < TARGETS["bomb peak RSS MB"]})  # fmt: skip
    return checks


if __name__ == "__main__":
    main()
