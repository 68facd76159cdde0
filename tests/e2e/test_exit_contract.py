"""The exit contract (docs/adr/0017-exit-contract.md), case by case, on the installed ``atb`` script as a
subprocess: a user error is exit 1 or 2 and exactly one stderr line starting with ``error:``; Ctrl-C is exit 130
and one line; a reader that goes away ends atb by SIGPIPE, silently; exit 70 only for a bug, and it says so."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from adapters.registry.file_registry import FileModelRegistry
from tests.e2e.test_cli import ATB, Result, clean_env, run_main
from tests.e2e.test_cli_flags import DROP_OVERRIDES, _permissions_apply

BUNDLED_MODELS = Path(__file__).resolve().parents[2] / "adapters" / "registry" / "bundled"
SHORT = ("backtest", "--strategy", "ema_cross", "--start", "2021-01-01", "--end", "2021-02-01")
BUG_WORDS = "this is a bug, please report it"


def atb(cwd: Path, *args: str, env: dict[str, str] | None = None, prefix: tuple[str, ...] = (),
        stdin: str | None = None, stdout: object = subprocess.PIPE) -> Result:  # fmt: skip
    """``atb ARGS`` as a subprocess in ``cwd``, with the machine's settings removed and ``env`` added."""
    proc = subprocess.run([*prefix, str(ATB), *args], cwd=cwd, env={**clean_env(), **(env or {})}, input=stdin,
                          stdout=stdout, stderr=subprocess.PIPE, text=True, timeout=120, check=False)  # fmt: skip
    return Result(proc.returncode, proc.stdout or "", proc.stderr)


def user_error(result: Result, code: int | None = None) -> str:
    """The contract for a user error: exit 1 or 2, exactly one stderr line, ``error: ...``, not a bug."""
    assert result.code in ({1, 2} if code is None else {code}), (result.code, result.err)
    lines = result.err.splitlines()
    assert len(lines) == 1, result.err
    assert lines[0].startswith("error: ") and BUG_WORDS not in lines[0], lines[0]
    return lines[0]


# -- the data directory -------------------------------------------------------------------------------------


@pytest.mark.parametrize("below", ["", "sub/dir"])
def test_a_data_directory_that_is_a_file_or_cannot_be_created_is_one_line(tmp_path: Path, below: str) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    data_dir = blocker / below if below else blocker
    for args in (("db", "upgrade"), ("sessions", "list"), (*SHORT, "--save")):
        line = user_error(atb(tmp_path, *args, env={"ATB_DATA_DIR": str(data_dir)}), 1)
        assert f"{blocker} is a file, not a directory" in line, line
    assert blocker.read_text() == "x"


@pytest.mark.parametrize("name", ["ATB_DATA_DIR", "ATB_MODELS_DIR"])
def test_an_empty_path_setting_is_refused_not_taken_as_the_working_directory(tmp_path: Path, name: str) -> None:
    for args in (("db", "upgrade"), ("models", "list")):
        line = user_error(atb(tmp_path, *args, env={name: ""}), 1)
        assert name in line and "empty" in line
    assert list(tmp_path.iterdir()) == []  # no ./atb.db, no ./models


# -- the .env file and setting names ---------------------------------------------------------------------------


def test_a_env_file_that_is_not_utf8_names_the_file_and_line_and_never_echoes_it(tmp_path: Path) -> None:
    secret = b"s3cr\xe9t-Hunter2"
    content = b"ATB_FEE_BPS=5\n# a comment\nATB_BINANCE_API_SECRET=" + secret + b"\n"
    (tmp_path / ".env").write_bytes(content)
    (tmp_path / "other.env").write_bytes(content)
    for args in (SHORT, ("--env-file", "other.env", *SHORT)):
        result = atb(tmp_path, *args)
        line = user_error(result, 1)
        name = "other.env" if "--env-file" in args else ".env"
        assert line.startswith(f"error: {name}, line 3:") and "UTF-8" in line, line
        assert "s3cr" not in result.err and "Hunter2" not in result.err and result.out == ""


def test_an_explicit_env_file_must_exist_the_default_may_be_absent(tmp_path: Path) -> None:
    assert atb(tmp_path, "strategies", "list").code == 0  # no ./.env: fine
    assert atb(tmp_path, "--env-file", os.devnull, *SHORT).code == 0  # explicitly none
    for given in ("missing.env", str(tmp_path)):
        line = user_error(atb(tmp_path, "--env-file", given, "strategies", "list"), 2)
        assert "--env-file" in line and given in line


def test_setting_names_are_case_insensitive_a_lowercase_typo_is_an_error(tmp_path: Path) -> None:
    honoured = atb(tmp_path, *SHORT, "--json", env={"atb_fee_bps": "7"})
    assert honoured.code == 0, honoured.err
    assert json.loads(honoured.out)["config"]["fee_bps"] == 7
    line = user_error(atb(tmp_path, *SHORT, env={"atb_fee_bpz": "7"}), 1)
    assert "unknown setting atb_fee_bpz" in line
    line = user_error(atb(tmp_path, *SHORT, env={"atb_fee_bps": "7", "ATB_FEE_BPS": "8"}), 1)
    assert "ATB_FEE_BPS and atb_fee_bps are both set" in line
    (tmp_path / ".env").write_text("ATB_FEE_BPS=5\natb_slipage_bps=3\n")
    assert "unknown setting atb_slipage_bps" in user_error(atb(tmp_path, *SHORT), 1)


# -- arguments -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("args", [("--timeframe", ""), ("--timeframe=",), ("--symbol", ""), ("--sizer", "")])
def test_an_empty_option_value_is_refused_not_taken_as_the_default(tmp_path: Path, args: tuple[str, ...]) -> None:
    line = user_error(atb(tmp_path, *SHORT, *args), 2)
    assert "empty value" in line and args[0].rstrip("=") in line


# -- standard output -------------------------------------------------------------------------------------------


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
@pytest.mark.parametrize("args", [(*SHORT, "--json"), ("strategies", "list"), ()])
def test_a_full_stdout_is_one_line_exit_1(tmp_path: Path, args: tuple[str, ...]) -> None:
    with open("/dev/full", "w") as full:
        line = user_error(atb(tmp_path, *args, stdout=full), 1)
    assert line == "error: cannot write the output: No space left on device"


def test_a_reader_that_goes_away_ends_atb_quietly_by_sigpipe(tmp_path: Path) -> None:
    # the whole-data JSON (hundreds of KB) cannot fit in a pipe: atb is still writing when the reader leaves
    proc = subprocess.Popen([str(ATB), "backtest", "--strategy", "ema_cross", "--json"], cwd=tmp_path,
                            env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.read(10) == b'{\n  "strat'
    proc.stdout.close()
    err = proc.stderr.read()
    assert proc.wait(timeout=120) == -signal.SIGPIPE  # the shell reports 141, as for `yes | head -1`
    assert err == b""


# -- models ----------------------------------------------------------------------------------------------------


def _copied_models(tmp_path: Path) -> tuple[Path, Path]:
    root = tmp_path / "models"
    shutil.copytree(BUNDLED_MODELS / "BTCUSDT" / "basic", root / "BTCUSDT" / "basic")
    (version,) = FileModelRegistry(root).list()
    return root, version.path


@pytest.mark.parametrize(("field", "value", "said"), [
    ("training", {"seconds": "fast"}, "training.seconds should be a number, not a string"),
    ("train_range", [1, "x"], "train_range should be [start_ms, end_ms] (two integers), not a list"),
    ("metrics", [], "metrics should be an object, not a list"),
    ("timeframe", 60, "timeframe should be a string, not an integer"),
])  # fmt: skip
def test_model_metadata_of_the_wrong_type_is_one_line_naming_the_model(
    tmp_path: Path, field: str, value: object, said: str
) -> None:
    root, version = _copied_models(tmp_path)
    meta_path = version / "metadata.json"
    metadata = json.loads(meta_path.read_text())
    metadata[field] = {**metadata[field], **value} if isinstance(value, dict) else value
    meta_path.write_text(json.dumps(metadata))
    env = {"ATB_MODELS_DIR": str(root)}
    for args in (("models", "list"), ("models", "show", "BTCUSDT", "basic", version.name),
                 ("backtest", "--strategy", "ml_basic")):  # fmt: skip
        line = user_error(atb(tmp_path, *args, env=env), 1)
        assert str(meta_path) in line and said in line, line


def test_an_unreadable_model_directory_is_one_line_naming_it(tmp_path: Path) -> None:
    root, version = _copied_models(tmp_path)
    locked = version.parent
    prefix = () if _permissions_apply() else DROP_OVERRIDES
    assert prefix == () or shutil.which("setpriv"), "setpriv (util-linux) drops root's permission override"
    locked.chmod(0)
    try:
        for args in (("models", "list"), ("backtest", "--strategy", "ml_basic")):
            line = user_error(atb(tmp_path, *args, env={"ATB_MODELS_DIR": str(root)}, prefix=prefix), 1)
            assert str(locked) in line and "Permission denied" in line, line
    finally:
        locked.chmod(0o755)


# -- the database ----------------------------------------------------------------------------------------------


def test_unknown_revisions_huge_session_ids_and_a_declined_prompt_are_one_line(tmp_path: Path) -> None:
    assert atb(tmp_path, "db", "upgrade").code == 0
    for args in (("db", "upgrade", "nosuchrev"), ("db", "downgrade", "nosuchrev", "--yes")):
        assert "nosuchrev" in user_error(atb(tmp_path, *args), 1)
    for args in (("sessions", "show", str(2**64)), ("sessions", "delete", str(2**63), "--yes"),
                 ("sessions", "show", "0")):  # fmt: skip
        assert "SESSION_ID" in user_error(atb(tmp_path, *args), 2)
    declined = atb(tmp_path, "db", "downgrade", "base", stdin="n\n")
    assert user_error(declined, 1) == "error: aborted"
    assert "(up to date)" in atb(tmp_path, "db", "current").out  # nothing was dropped


# -- Ctrl-C ----------------------------------------------------------------------------------------------------


def _interrupt(cwd: Path, args: tuple[str, ...], delay: float) -> tuple[int, list[str]]:
    """Start ``atb ARGS``, wait until it runs atb's own code (its import of click is done: Python reports it
    with PYTHONPROFILEIMPORTTIME), then ``delay`` seconds more, and send SIGINT. Before that point the
    interpreter itself is starting, which no program can handle (docs/adr/0017-exit-contract.md)."""
    env = {**clean_env(), "PYTHONPROFILEIMPORTTIME": "1"}
    proc = subprocess.Popen([str(ATB), *args], cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)  # fmt: skip
    assert proc.stderr is not None
    for line in proc.stderr:
        if line.split("|")[-1].strip() == "click":
            break
    else:
        raise AssertionError("atb never imported click")
    time.sleep(delay)
    assert proc.poll() is None, "atb finished before the signal: the workload is too short for this delay"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    lines = [line for line in err.splitlines() if not line.startswith("import time:")]
    return proc.returncode, lines


LONG = ("backtest", "compare", "ema_cross", "ema_trend", "ema_cross", "--side-param", "3:fast=5",
        "--symbol", "BTCUSDT", "--symbol", "ETHUSDT")  # fmt: skip


@pytest.mark.parametrize("delay", [0.0, 0.05, 0.3, 1.0])
def test_ctrl_c_at_any_point_is_one_line_and_exit_130(tmp_path: Path, delay: float) -> None:
    code, lines = _interrupt(tmp_path, LONG, delay)
    assert (code, lines) == (130, ["error: interrupted"])


def test_ctrl_c_while_writing_the_output_is_one_line_and_exit_130(tmp_path: Path) -> None:
    proc = subprocess.Popen([str(ATB), "backtest", "--strategy", "ema_cross", "--json"], cwd=tmp_path,
                            env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    assert proc.stdout is not None
    assert proc.stdout.read(1) == b"{"  # writing has begun, and blocks: the output is larger than the pipe
    time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert (proc.returncode, err.decode().splitlines()) == (130, ["error: interrupted"])


def test_a_prompt_interrupted_is_exit_130(tmp_path: Path) -> None:
    assert atb(tmp_path, "db", "upgrade").code == 0
    proc = subprocess.Popen([str(ATB), "db", "downgrade", "base"], cwd=tmp_path, env=clean_env(), text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    assert proc.stdout is not None
    assert proc.stdout.read(len("downgrade")) == "downgrade"  # the prompt is up
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert (proc.returncode, err.splitlines()) == (130, ["error: interrupted"])


# -- a bug -----------------------------------------------------------------------------------------------------


def test_only_a_bug_exits_70_and_says_to_report_it(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import entrypoints.cli.main as cli_main

    def broken(*args: object, **kwargs: object) -> None:
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(cli_main, "run_with_progress", broken)
    result = run_main(capsys, *SHORT)
    assert result.code == 70
    assert result.err.splitlines() == [
        f"error: {BUG_WORDS}: ZeroDivisionError: division by zero (run with --debug for the traceback)"
    ]
    debug = run_main(capsys, "--debug", *SHORT)
    assert debug.code == 70 and "Traceback" in debug.err and "in broken" in debug.err
    assert debug.err.splitlines()[-1].startswith(f"error: {BUG_WORDS}: ZeroDivisionError")


def test_the_console_script_is_the_entry_that_handles_ctrl_c_first() -> None:
    # the script imports entrypoints.cli.entry (standard library only) and calls run() before anything heavy
    text = ATB.read_text()
    assert "from entrypoints.cli.entry import run" in text, text
    probe = "import sys, entrypoints.cli.entry; print(sorted(m for m in sys.modules if m.startswith('click')))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, env=os.environ)
    assert out.stdout.strip() == "[]"
