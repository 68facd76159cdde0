"""What can be checked of packaging without a Docker engine: the image's entrypoint exists and works,
the bundled data ships inside the package, and the image runs as a non-root user."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from importlib import resources
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _dockerfile() -> list[str]:
    return [line.strip() for line in (ROOT / "Dockerfile").read_text().splitlines() if line.strip()]


def test_the_image_entrypoint_is_the_installed_atb_console_script() -> None:
    lines = _dockerfile()
    (entry,) = [json.loads(line.removeprefix("ENTRYPOINT")) for line in lines if line.startswith("ENTRYPOINT")]
    (cmd,) = [json.loads(line.removeprefix("CMD")) for line in lines if line.startswith("CMD")]
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert entry[0] in scripts
    result = subprocess.run(
        [str(Path(sys.executable).with_name(entry[0])), *cmd], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0 and "backtest" in result.stdout


def test_the_image_is_multi_stage_and_runs_as_a_non_root_user() -> None:
    lines = _dockerfile()
    assert sum(line.startswith("FROM ") for line in lines) >= 2
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users and users[-1] not in ("root", "0")


def test_bundled_candles_are_package_data() -> None:
    names = {p.name for p in resources.files("adapters.files").joinpath("bundled").iterdir()}
    assert {"BTCUSDT-1h.csv.gz", "ETHUSDT-1h.csv.gz"} <= names
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assert "bundled/*.csv.gz" in declared["adapters.files"]


def test_the_wheel_carries_the_bundled_data_and_the_shipped_models(tmp_path: Path) -> None:
    """What `pip install .` (the Docker image) gets: candles, Fear & Greed, and every file of each shipped
    model version with its `latest` pointer and registry log, so a backtest of ml_basic works offline."""
    import shutil
    import zipfile

    # Built from a copy: setuptools writes build/ and *.egg-info into the tree it builds.
    source = tmp_path / "src"
    skip = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("domain", "application", "adapters", "entrypoints"):
        shutil.copytree(ROOT / name, source / name, ignore=skip)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    out = tmp_path / "dist"
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out)]
    subprocess.run([*command, str(source)], check=True, capture_output=True, timeout=300)
    (wheel,) = out.glob("atb-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    data = ("BTCUSDT-1h.csv.gz", "ETHUSDT-1h.csv.gz", "fear_greed_daily.csv.gz", "instruments.json")
    assert {f"adapters/files/bundled/{n}" for n in data} <= names
    bundled = resources.files("adapters.registry").joinpath("bundled")
    shipped = [p for s in bundled.iterdir() if s.is_dir() for p in s.iterdir() if p.is_dir()]
    assert shipped, "no model ships with the package"
    for model in shipped:  # {SYMBOL}/{TYPE}
        prefix = f"adapters/registry/bundled/{model.parent.name}/{model.name}"
        assert {f"{prefix}/latest", f"{prefix}/history.jsonl"} <= names
        latest = model.joinpath("latest").read_text().strip()
        files = {"model.keras", "model.onnx", "metadata.json", "feature_schema.json"}
        assert {f"{prefix}/{latest}/{f}" for f in files} <= names
