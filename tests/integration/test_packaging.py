"""What can be checked of packaging without a Docker engine: the image's entrypoint exists and works, the
bundled data and the migrations ship inside the wheel, the image runs as a non-root user with its data in a
volume, and atb installed from the wheel into a fresh venv outside the repository migrates, saves (SQLite and
PostgreSQL), lists, and answers the image's CMD and HEALTHCHECK."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import tomllib
import zipfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import pytest

from tests.integration.persistence.fixtures import create_postgres_database, drop_postgres_database, postgres_admin
from tests.isolation import is_setting

ROOT = Path(__file__).resolve().parents[2]


def _dockerfile() -> list[str]:
    return [line.strip() for line in (ROOT / "Dockerfile").read_text().splitlines() if line.strip()]


def _instructions() -> list[tuple[str, str]]:
    """The Dockerfile's instructions (continuation lines joined, comments dropped) as (KEYWORD, the rest)."""
    joined, pending = [], ""
    for raw in (ROOT / "Dockerfile").read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        joined.append(pending + line)
        pending = ""
    return [(line.split(maxsplit=1)[0].upper(), line.split(maxsplit=1)[1]) for line in joined]


Stage = list[tuple[str, str]]


def _stages() -> tuple[Stage, Stage]:
    """The first (build) and last (runtime) stages' instructions."""
    stages: list[Stage] = []
    for kind, args in _instructions():
        if kind == "FROM":
            stages.append([])
        elif stages:
            stages[-1].append((kind, args))
    return stages[0], stages[-1]


def _words(rest: str) -> list[str]:
    """An instruction's arguments: JSON (exec form) or shell words."""
    return list(json.loads(rest)) if rest.startswith("[") else shlex.split(rest)


def _copy(rest: str) -> tuple[list[str], str, bool]:
    """COPY's sources, destination, and whether it copies from another stage."""
    words = _words(rest)
    plain = [w for w in words if not w.startswith("--")]
    return plain[:-1], plain[-1], any(w.startswith("--from") for w in words)


def _env(stage: Stage) -> dict[str, str]:
    return dict(w.split("=", 1) for kind, rest in stage if kind == "ENV" for w in _words(rest) if "=" in w)


def _healthcheck() -> list[str]:
    """The HEALTHCHECK's command (exec form), without its options."""
    line = next(raw.strip() for raw in (ROOT / "Dockerfile").read_text().splitlines() if raw.startswith("HEALTHCHECK"))
    return list(json.loads(line[line.index(" CMD ") + len(" CMD ") :]))


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel, built once from a copy of what the Dockerfile's build stage copies (setuptools writes
    build/ and *.egg-info into the tree it builds; and a file the image does not get must not be needed)."""
    base = tmp_path_factory.mktemp("wheel")
    source = base / "src"
    source.mkdir()
    build, _runtime = _stages()
    skip = shutil.ignore_patterns("__pycache__", "*.pyc")
    for kind, rest in build:
        sources, dest, other_stage = _copy(rest) if kind == "COPY" else ([], "", True)
        if other_stage:
            continue
        for name in sources:
            target = source / dest / name if dest.endswith("/") else source / dest
            if (ROOT / name).is_dir():
                shutil.copytree(ROOT / name, target, ignore=skip)
            else:
                shutil.copy(ROOT / name, target)
    out = base / "dist"
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out)]
    subprocess.run([*command, str(source)], check=True, capture_output=True, timeout=300)
    (built,) = out.glob("atb-*.whl")
    return built


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


def test_the_wheel_carries_the_bundled_data_and_the_shipped_models(wheel: Path) -> None:
    """What `pip install .` (the Docker image) gets: candles, Fear & Greed, and every file of each shipped
    model version with its `latest` pointer and registry log, so a backtest of ml_basic works offline."""
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


def test_the_wheel_carries_every_migration(wheel: Path) -> None:
    """Alembic's environment, its template and every revision of the repository's migrations/ ship as the
    package `migrations` (an installed atb migrates without the repository or alembic.ini)."""
    names = set(zipfile.ZipFile(wheel).namelist())
    revisions = sorted((ROOT / "migrations" / "versions").glob("*.py"))
    assert revisions
    expected = {"migrations/__init__.py", "migrations/env.py", "migrations/script.py.mako"}
    assert expected | {f"migrations/versions/{p.name}" for p in revisions} <= names


# -- the Dockerfile's layout ---------------------------------------------------------------------------


def test_the_build_stage_copies_every_package_the_wheel_includes() -> None:
    """`pip install .` in the image builds from what the build stage copies: each package that pyproject's
    package discovery includes must be there (a missing `COPY migrations` gave a wheel without migrations)."""
    build, _runtime = _stages()
    copied = {src for kind, rest in build if kind == "COPY" for src in _copy(rest)[0]}
    include = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    packages = {pattern.rstrip("*").rstrip(".") for pattern in include["include"]}
    assert "migrations" in packages
    assert packages | {"pyproject.toml", "README.md"} <= copied


def test_the_runtime_stage_takes_only_the_installed_venv_and_keeps_its_data_in_a_volume() -> None:
    _build, runtime = _stages()
    copies = [_copy(rest) for kind, rest in runtime if kind == "COPY"]
    assert copies and all(other_stage for _s, _d, other_stage in copies), "run time needs nothing but the venv"
    env = _env(runtime)
    volumes = [v for kind, rest in runtime if kind == "VOLUME" for v in _words(rest)]
    assert env["ATB_DATA_DIR"] in volumes
    user = [rest.split()[0] for kind, rest in runtime if kind == "USER"][-1]
    setup = " ".join(" ".join(shlex.split(rest)) for kind, rest in runtime if kind == "RUN")
    assert f"mkdir -p {env['ATB_DATA_DIR']}" in setup and f"chown {user}:{user} {env['ATB_DATA_DIR']}" in setup
    assert _healthcheck(), "the image has a HEALTHCHECK"


# -- atb installed from the wheel, outside the repository --------------------------------------------


@dataclass(frozen=True)
class Installed:
    venv: Path
    site_packages: Path
    home: Path  # a working directory outside the repository

    def env(self, data_dir: Path, database_url: str | None = None) -> dict[str, str]:
        """The machine's environment without atb settings or anything that could put the repository on the
        path, the new venv first on PATH, a data directory of the test's own."""
        drop = ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV", "PYTHONSAFEPATH")
        env = {k: v for k, v in os.environ.items() if not is_setting(k) and k not in drop}
        env["PATH"] = f"{self.venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        env["ATB_DATA_DIR"] = str(data_dir)
        if database_url is not None:
            env["ATB_DATABASE_URL"] = database_url
        return env

    def run(self, argv: list[str], env: dict[str, str], timeout: int = 180) -> subprocess.CompletedProcess[str]:
        program = self.venv / "bin" / argv[0]
        return subprocess.run(
            [str(program), *argv[1:]], cwd=self.home, env=env, capture_output=True, text=True, timeout=timeout,
            check=False,
        )  # fmt: skip


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """A fresh venv (no pip, no system site-packages) with the wheel installed offline and without its
    dependencies; those come from this interpreter's site-packages directories through a .pth file, which
    adds paths only (the .pth files there, such as the editable install's, are not run)."""
    base = tmp_path_factory.mktemp("installed")
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    pip = [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index", "-q"]
    subprocess.run([*pip, str(wheel)], check=True, capture_output=True, timeout=300)
    (site,) = (venv / "lib").glob("python3.*/site-packages")
    dependencies = [p for p in sys.path if p.endswith("site-packages") and Path(p).is_dir()]
    (site / "_atb_test_dependencies.pth").write_text("".join(f"{p}\n" for p in dependencies))
    home = base / "home"
    home.mkdir()
    return Installed(venv, site, home)


def test_the_installed_atb_comes_from_the_venv_not_the_repository(installed: Installed, tmp_path: Path) -> None:
    code = (
        "import json, sys, entrypoints, migrations; "
        "print(json.dumps([entrypoints.__file__, migrations.__file__, sys.path]))"
    )
    out = installed.run(["python", "-c", code], installed.env(tmp_path / "data"))
    assert out.returncode == 0, out.stderr
    entry, migrations, path = json.loads(out.stdout)
    assert Path(entry).is_relative_to(installed.site_packages), entry
    assert Path(migrations).is_relative_to(installed.site_packages), migrations
    assert str(ROOT) not in path
    for entry in path:  # no other directory on the path holds atb's packages (e.g. the repository's root)
        if entry and Path(entry).resolve() != installed.site_packages.resolve():
            assert not (Path(entry) / "entrypoints").exists() and not (Path(entry) / "migrations").exists(), entry


def _head() -> str:
    """The newest revision of the repository's migrations (the oracle for what the installed atb reaches)."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    head = ScriptDirectory.from_config(cfg).get_current_head()
    assert head is not None
    return head


BACKTEST = ["atb", "backtest", "--strategy", "ema_cross", "--start", "2021-01-01", "--end", "2021-03-01"]


def _migrate_save_and_list(installed: Installed, env: dict[str, str]) -> None:
    """Against an empty database: --save refuses before the run, `atb db upgrade` migrates to the head,
    then a saved backtest is listed and shown with the trades the run printed."""
    refused = installed.run([*BACKTEST, "--save"], env)
    assert refused.returncode == 1 and refused.stdout == "", refused.stdout  # nothing ran
    assert len(refused.stderr.strip().splitlines()) == 1 and "no atb tables" in refused.stderr
    assert "atb db upgrade" in refused.stderr
    upgraded = installed.run(["atb", "db", "upgrade"], env)
    assert upgraded.returncode == 0, upgraded.stderr
    assert f"at revision {_head()}" in upgraded.stdout
    saved = installed.run([*BACKTEST, "--save", "--json"], env)
    assert saved.returncode == 0, saved.stderr
    trades = json.loads(saved.stdout)["trades"]
    assert trades, "the run must trade"
    assert "saved as session 1" in saved.stderr
    listed = installed.run(["atb", "sessions", "list", "--json"], env)
    assert listed.returncode == 0, listed.stderr
    (session,) = json.loads(listed.stdout)
    assert session["strategy"] == "ema_cross" and session["id"] == 1
    shown = installed.run(["atb", "sessions", "show", "1", "--json"], env)
    assert shown.returncode == 0, shown.stderr
    assert len(json.loads(shown.stdout)["trades"]) == len(trades)
    current = installed.run(["atb", "db", "current"], env)
    assert current.returncode == 0 and "(up to date)" in current.stdout


@pytest.mark.slow
def test_the_installed_atb_migrates_saves_and_lists_on_sqlite(installed: Installed, tmp_path: Path) -> None:
    env = installed.env(tmp_path / "data")
    _migrate_save_and_list(installed, env)
    assert (tmp_path / "data" / "atb.db").is_file()


@pytest.mark.slow
def test_the_installed_atb_migrates_saves_and_lists_on_postgresql(installed: Installed, tmp_path: Path) -> None:
    admin = postgres_admin()  # skips without a server, fails under CI=true
    url = create_postgres_database(admin, "_installed")
    try:
        _migrate_save_and_list(installed, installed.env(tmp_path / "data", database_url=url))
        assert not (tmp_path / "data" / "atb.db").exists()  # the URL was used, not the SQLite default
    finally:
        drop_postgres_database(admin, url)
        admin.dispose()


@pytest.mark.slow
def test_the_installed_atb_lists_the_shipped_models(installed: Installed, tmp_path: Path) -> None:
    out = installed.run(["atb", "models", "list"], installed.env(tmp_path / "data"))
    assert out.returncode == 0, out.stderr
    bundled = resources.files("adapters.registry").joinpath("bundled")
    shipped = [(s.name, t.name) for s in bundled.iterdir() if s.is_dir() for t in s.iterdir() if t.is_dir()]
    assert shipped
    lines = out.stdout.splitlines()
    for symbol, kind in shipped:
        assert any(symbol in line and kind in line for line in lines), (symbol, kind, out.stdout)


@pytest.mark.slow
def test_the_images_command_and_healthcheck_work_when_installed(installed: Installed, tmp_path: Path) -> None:
    """ENTRYPOINT + CMD, and the HEALTHCHECK on a fresh data directory (a new volume) and a migrated one."""
    lines = _dockerfile()
    (entry,) = [json.loads(line.removeprefix("ENTRYPOINT")) for line in lines if line.startswith("ENTRYPOINT")]
    (cmd,) = [json.loads(line.removeprefix("CMD")) for line in lines if line.startswith("CMD")]
    env = installed.env(tmp_path / "data")
    out = installed.run([*entry, *cmd], env)
    assert out.returncode == 0 and "backtest" in out.stdout, out.stderr
    check = _healthcheck()
    fresh = installed.run(check, env)
    assert fresh.returncode == 0, fresh.stderr
    assert installed.run(["atb", "db", "upgrade"], env).returncode == 0
    migrated = installed.run(check, env)
    assert migrated.returncode == 0 and "(up to date)" in migrated.stdout, migrated.stderr
    unreachable = installed.run(check, installed.env(tmp_path / "data", "postgresql+psycopg2://atb@127.0.0.1:1/atb"))
    assert unreachable.returncode != 0  # a database that does not answer makes the container unhealthy
