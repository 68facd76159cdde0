"""``atb train`` / ``atb models`` / ML backtests end to end: the bundled models, a tiny training into a
temporary registry, pinning, promotion, rollback, deletion, and one-line errors."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from domain.strategies.ml import model_type_of
from domain.strategies.registry import DEFAULT_STRATEGY, create_strategy, strategy_names
from tests.e2e.test_cli import BUNDLED_DIR, Result, assert_one_error_line, clean_env, day_ms, ms_of, run_main

TINY = ("--epochs", "1", "--window", "16", "--norm-window", "50", "--batch-size", "64",
        "--start", "2020-01-01", "--end", "2020-03-15", "--threads", "1")  # fmt: skip
BUNDLED_SYMBOLS = sorted({m[1] for p in BUNDLED_DIR.iterdir() if (m := re.match(r"([A-Z0-9]+)-\w+\.csv\.gz$", p.name))})


@pytest.fixture(autouse=True)
def empty_user_registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The user's registry is an empty folder (the bundled models stay visible beside it)."""
    monkeypatch.setenv("ATB_MODELS_DIR", str(tmp_path / "user-models"))


def _json(result: Result) -> Any:
    assert result.code == 0, result.err
    return json.loads(result.out)


# -- the bundled models -----------------------------------------------------------------------------------------


def test_models_list_shows_the_bundled_basic_and_sentiment_models(capsys: pytest.CaptureFixture[str]) -> None:
    rows = _json(run_main(capsys, "models", "list", "--json"))
    latest = {(r["symbol"], r["type"]) for r in rows if r["latest"]}
    assert {("BTCUSDT", "basic"), ("BTCUSDT", "sentiment")} <= latest
    for r in rows:
        assert r["test_rmse"] is not None and r["test_total_return"] is not None
    text = run_main(capsys, "models", "list").out
    assert "BTCUSDT" in text and "sentiment" in text


def test_models_show_prints_test_metrics_beside_the_baselines(capsys: pytest.CaptureFixture[str]) -> None:
    result = run_main(capsys, "models", "show", "BTCUSDT", "basic")
    assert result.code == 0, result.err
    for fragment in ("Persistence", "Zero / always up", "test (out of sample)", "RMSE", "directional accuracy",
                     "Buy & hold", "Registry log", "ml_basic on the test period"):  # fmt: skip
        assert fragment in result.out
    shown = _json(run_main(capsys, "models", "show", "BTCUSDT", "sentiment", "--json"))
    meta = shown["metadata"]
    assert meta["model_type"] == "sentiment" and "fear_greed" in shown["schema"]["names"]
    for key in ("train_range", "val_range", "test_range", "package_versions", "hyperparameters", "metrics"):
        assert key in meta
    assert meta["data"]["sha256"]


def test_ml_basic_backtest_on_the_bundled_model_covers_its_test_period(capsys: pytest.CaptureFixture[str]) -> None:
    report = _json(run_main(capsys, "backtest", "--strategy", "ml_basic", "--json"))
    model_ref = report["model"]["BTCUSDT"]
    assert model_ref.startswith("BTCUSDT/basic/")
    shown = _json(run_main(capsys, "models", "show", "BTCUSDT", "basic", "--json"))
    test_range = shown["metadata"]["test_range"]
    assert ms_of(report["data"]["start"]) == test_range[0]
    assert ms_of(report["data"]["end"]) == test_range[1]
    assert not any(n.startswith("IN-SAMPLE") for n in report["notes"])
    assert report["strategy"]["name"] == "ml_basic"


@pytest.mark.parametrize("symbol", BUNDLED_SYMBOLS)
def test_the_default_backtest_needs_no_model_and_runs_on_every_bundled_symbol(
    capsys: pytest.CaptureFixture[str], symbol: str
) -> None:
    assert model_type_of(create_strategy(DEFAULT_STRATEGY)) is None
    default = _json(run_main(capsys, "backtest", "--symbol", symbol, "--json"))
    assert default["strategy"]["name"] == DEFAULT_STRATEGY and not default.get("model")
    named = _json(run_main(capsys, "backtest", "--symbol", symbol, "--strategy", DEFAULT_STRATEGY, "--json"))
    assert default["metrics"] == named["metrics"] and default["data"] == named["data"]


def test_an_ml_strategy_on_a_symbol_without_a_model_says_how_to_get_one(capsys: pytest.CaptureFixture[str]) -> None:
    model_free = [name for name in strategy_names() if model_type_of(create_strategy(name)) is None]
    for strategy, model_type in (("ml_basic", "basic"), ("ml_sentiment", "sentiment")):
        without = sorted(set(BUNDLED_SYMBOLS) - {r.split("/")[0] for r in _latest_refs(capsys, model_type)})
        assert without, f"every bundled symbol has a {model_type} model: nothing to check"
        symbols = [a for s in ["BTCUSDT", without[0]] for a in ("--symbol", s)]
        line = assert_one_error_line(run_main(capsys, "backtest", "--strategy", strategy, *symbols), 1)
        assert f"no {model_type} model for {without[0]}" in line
        assert f"atb train --symbol {without[0]} --type {model_type}" in line
        assert line.endswith(f"(strategies that need no model: {', '.join(model_free)})")


def _latest_refs(capsys: pytest.CaptureFixture[str], model_type: str) -> list[str]:
    rows = _json(run_main(capsys, "models", "list", "--type", model_type, "--json"))
    return [f"{r['symbol']}/{r['type']}" for r in rows if r["latest"]]


def test_a_backtest_inside_the_training_data_says_it_is_in_sample(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    args = ("backtest", "--strategy", "ml_sentiment", "--start", "2019-01-01", "--end", "2019-03-01")
    result = run_main(capsys, *args, "--report", str(tmp_path / "r.html"))
    assert result.code == 0, result.err
    assert "warning: IN-SAMPLE" in result.out
    html = (tmp_path / "r.html").read_text()
    assert 'id="warnings"' in html and "IN-SAMPLE" in html
    report = _json(run_main(capsys, *args, "--json"))
    assert report["notes"][0].startswith("IN-SAMPLE") and report["model"]["BTCUSDT"].startswith("BTCUSDT/sentiment/")


def test_a_backtest_never_imports_tensorflow(tmp_path: Path) -> None:
    code = (
        "import sys; from entrypoints.cli.main import main\n"
        "try:\n    main(['backtest', '--strategy', 'ml_basic', '--json'])\nexcept SystemExit as e:\n"
        "    assert not e.code, e.code\n"
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'TensorFlow was imported'\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=clean_env(), capture_output=True,
                          text=True, timeout=120, check=False)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_live_and_batch_predictions_agree_on_the_bundled_model() -> None:
    from application.ml import load_model, predict_latest, predict_series
    from domain.model.symbols import Symbol
    from domain.model.timeframe import Timeframe
    from entrypoints.container import build_container

    container = build_container({"models_dir": None})
    model = load_model(container.model_registry(), container.predictor_factory(), "BTCUSDT", "basic")
    candles = container.market_data().candles(Symbol.parse("BTCUSDT"), Timeframe.H1).slice(0, 3000)
    batch = predict_series(model.predictor, candles)
    first = int(np.flatnonzero(~np.isnan(batch))[0])
    for t in (first, first + 1, 2000, 2999):
        assert predict_latest(model.predictor, candles.slice(0, t + 1)) == batch[t]


# -- a tiny training into a temporary registry ------------------------------------------------------------------


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    """Two tiny versions in a fresh registry (trained once for the module): (root, first, second)."""
    root = tmp_path_factory.mktemp("models")
    cwd = tmp_path_factory.mktemp("cwd")
    versions = []
    for seed in ("1", "2"):
        result = run_atb_env(cwd, root, "train", *TINY, "--seed", seed, "--promote", "never", "--json")
        assert result.code == 0, result.err[-3000:]
        versions.append(json.loads(result.out)["ref"].split("/")[-1])
    return root, versions[0], versions[1]


def run_atb_env(cwd: Path, models: Path, *args: str) -> Result:
    env = {**clean_env(), "ATB_MODELS_DIR": str(models)}
    proc = subprocess.run([sys.executable, "-m", "entrypoints.cli.main", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300, check=False)  # fmt: skip
    return Result(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture
def registry(trained: tuple[Path, str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    """A copy of the trained registry for one test, as ATB_MODELS_DIR."""
    root = tmp_path / "models"
    shutil.copytree(trained[0], root)
    monkeypatch.setenv("ATB_MODELS_DIR", str(root))
    return trained[1], trained[2]


def test_tiny_training_registers_a_version_with_metadata(
    capsys: pytest.CaptureFixture[str], registry: tuple[str, str]
) -> None:
    first, second = registry
    rows = _json(run_main(capsys, "models", "list", "--type", "basic", "--json"))
    mine = [r for r in rows if r["version"] in (first, second)]
    assert len(mine) == 2 and not any(r["latest"] for r in mine)  # --promote never
    shown = _json(run_main(capsys, "models", "show", "BTCUSDT", "basic", first, "--json"))
    meta = shown["metadata"]
    assert meta["hyperparameters"]["epochs"] == 1 and meta["hyperparameters"]["window"] == 16
    assert meta["data"]["start_ms"] == day_ms("2020-01-01") and meta["training"]["onnx_max_abs_diff"] <= 1e-4
    assert set(meta["metrics"]["test"]) == {"model", "persistence", "zero"}


def test_backtest_pinned_to_a_version_records_it(capsys: pytest.CaptureFixture[str], registry: tuple[str, str]) -> None:
    first, _ = registry
    report = _json(run_main(capsys, "backtest", "--strategy", "ml_basic", "--model-version", first, "--json"))
    assert report["model"] == {"BTCUSDT": f"BTCUSDT/basic/{first}"}
    line = assert_one_error_line(run_main(capsys, "backtest", "--strategy", "ml_basic", "--model-version", "nope"))
    assert "nope" in line


def test_promote_rollback_delete_and_as_of(capsys: pytest.CaptureFixture[str], registry: tuple[str, str]) -> None:
    first, second = registry
    bundled = _json(run_main(capsys, "models", "show", "BTCUSDT", "basic", "--json"))["ref"]
    forced = run_main(capsys, "models", "promote", "BTCUSDT", "basic", first, "--force")
    assert forced.code == 0, forced.err
    assert f"BTCUSDT/basic/{first} is now latest" in forced.out
    report = _json(run_main(capsys, "backtest", "--strategy", "ml_basic", "--json"))
    assert report["model"]["BTCUSDT"] == f"BTCUSDT/basic/{first}"
    assert run_main(capsys, "models", "promote", "BTCUSDT", "basic", second, "--force").code == 0
    # as of a time: the version latest then (the bundled one before the first promotion in this registry)
    promoted = [e for e in _json(run_main(capsys, "models", "show", "BTCUSDT", "basic", "--json"))["history"]
                if e["action"] == "promote" and e["version"] in (first, second)]  # fmt: skip
    for at_ms, expected in ((promoted[0]["at_ms"] - 1, bundled), (promoted[0]["at_ms"], f"BTCUSDT/basic/{first}"),
                            (promoted[1]["at_ms"], f"BTCUSDT/basic/{second}")):  # fmt: skip
        when = datetime.fromtimestamp(at_ms / 1000, UTC).isoformat(timespec="milliseconds")
        pinned = _json(run_main(capsys, "backtest", "--strategy", "ml_basic", "--model-as-of", when, "--json"))
        assert pinned["model"]["BTCUSDT"] == expected
    rolled = run_main(capsys, "models", "rollback", "BTCUSDT", "basic")
    assert rolled.code == 0 and f"BTCUSDT/basic/{first} is latest again" in rolled.out
    history = _json(run_main(capsys, "models", "show", "BTCUSDT", "basic", "--json"))["history"]
    assert [e["action"] for e in history if e["action"] in ("promote", "rollback")][-3:] == [
        "promote", "promote", "rollback"
    ]  # fmt: skip
    assert any(e["reason"].startswith("forced") for e in history)
    assert assert_one_error_line(run_main(capsys, "models", "delete", "BTCUSDT", "basic", first))
    deleted = run_main(capsys, "models", "delete", "BTCUSDT", "basic", second)
    assert deleted.code == 0 and "deleted" in deleted.out
    listed = _json(run_main(capsys, "models", "list", "--json"))
    assert second not in {r["version"] for r in listed}


def test_promotion_runs_the_gate_and_fails_closed_without_a_tested_window(
    capsys: pytest.CaptureFixture[str], registry: tuple[str, str]
) -> None:
    first, _ = registry
    meta = _json(run_main(capsys, "models", "show", "BTCUSDT", "basic", first, "--json"))["metadata"]
    # trained on 2020-01-01 .. 2020-03-15: the 2018 window lies before its data, March 2020 overlaps it
    assert meta["val_range"][1] > day_ms("2020-02-15")
    line = assert_one_error_line(run_main(capsys, "models", "promote", "BTCUSDT", "basic", first), 1)
    assert "fails the promotion gate" in line and "no window could be tested" in line and "--force" in line
    listed = _json(run_main(capsys, "models", "list", "--json"))
    assert not any(r["latest"] for r in listed if r["version"] == first)


def test_models_show_lists_the_windows_tested_and_not_and_the_verdict(
    capsys: pytest.CaptureFixture[str], registry: tuple[str, str]
) -> None:
    first, _ = registry
    shown = _json(run_main(capsys, "models", "show", "BTCUSDT", "basic", first, "--json"))
    gate = shown["gate"]
    assert gate["verdict"] == "failed" and gate["source"].startswith("recorded")
    reasons = {w["name"]: (w["status"], w["reason"]) for w in gate["windows"]}
    assert reasons["2018 bear market"][0] == "not tested" and "LOOK-AHEAD" in reasons["2018 bear market"][1]
    assert reasons["March 2020 crash"][0] == "not tested" and "overlaps" in reasons["March 2020 crash"][1]
    text = run_main(capsys, "models", "show", "BTCUSDT", "basic", first)
    assert text.code == 0, text.err
    for fragment in ("promotion gate: failed", "Stress windows", "2018 bear market", "not tested", "test trades",
                     "stress windows", "no window could be tested"):  # fmt: skip
        assert fragment in text.out


def test_the_bundled_models_show_an_honest_verdict(capsys: pytest.CaptureFixture[str]) -> None:
    listed = {(r["type"], r["version"]): r["gate"] for r in _json(run_main(capsys, "models", "list", "--json"))}
    for model_type in ("basic", "sentiment"):
        shown = _json(run_main(capsys, "models", "show", "BTCUSDT", model_type, "--json"))
        meta, gate = shown["metadata"], shown["gate"]
        seen_until = max(meta["train_range"][1], meta["val_range"][1])
        for w in gate["windows"]:
            starts = day_ms(w["start"])
            assert (w["status"] == "not tested") == (starts < seen_until), w  # out of sample or not, from metadata
        test = meta["metrics"]["test"]
        figures = meta["backtest"]["metrics"]
        fails = (
            test["model"]["rmse"] >= test["zero"]["rmse"]
            or test["model"]["directional_accuracy"] <= test["zero"]["directional_accuracy"]
            or figures["trades"] < 1
            or figures["total_return"] < -0.05
            or all(w["status"] == "not tested" for w in gate["windows"])
        )
        assert gate["verdict"] == ("failed" if fails else "not evaluated")
        assert listed[(model_type, meta["version"])] == gate["verdict"]  # atb models list agrees


@pytest.mark.parametrize(
    "args",
    [
        ("models", "show", "BTCUSDT", "basic", "no-such-version"),
        ("models", "show", "DOGEUSDT", "basic"),
        ("models", "rollback", "DOGEUSDT", "basic"),
        ("models", "delete", "BTCUSDT", "basic", "no-such-version"),
        ("backtest", "--strategy", "ema_trend", "--model-version", "x"),
        ("backtest", "--strategy", "ml_basic", "--model-version", "x", "--model-as-of", "2021-01-01"),
        ("backtest", "--strategy", "ml_basic", "--timeframe", "4h"),
    ],
)
def test_model_errors_are_one_line(capsys: pytest.CaptureFixture[str], args: tuple[str, ...]) -> None:
    assert_one_error_line(run_main(capsys, *args))


def test_train_as_a_subprocess_shows_epochs_and_registers_without_promoting_a_failing_model(tmp_path: Path) -> None:
    models = tmp_path / "models"
    result = run_atb_env(tmp_path, models, "train", *TINY)
    assert result.code == 0, result.err[-3000:]
    assert "epoch 1/1" in result.err
    assert "registered BTCUSDT/basic/" in result.out and "Persistence" in result.out
    # an --epochs 1 model on 2.5 months: no stress window is out of sample for it, so the gate fails closed
    assert "not promoted: fails the promotion gate" in result.out and "--promote force" in result.out
    assert "promotion gate: failed" in result.out and "no window could be tested" in result.out
    assert not (models / "BTCUSDT" / "basic" / "latest").exists()
    forced = run_atb_env(tmp_path, models, "train", *TINY, "--promote", "force", "--json")
    assert forced.code == 0, forced.err[-3000:]
    payload = json.loads(forced.out)
    assert payload["promoted"] and payload["latest"] and payload["metadata"]["gate"]["verdict"] == "failed"
    version = payload["ref"].split("/")[-1]
    assert (models / "BTCUSDT" / "basic" / "latest").read_text().strip() == version
    history = [json.loads(line) for line in (models / "BTCUSDT" / "basic" / "history.jsonl").read_text().splitlines()]
    assert history[-1]["action"] == "promote" and history[-1]["reason"].startswith("forced (--promote force)")
    listed = run_atb_env(tmp_path, models, "models", "list", "--json")
    assert listed.code == 0 and len(json.loads(listed.out)) >= 4  # the two new ones beside the two bundled


def test_train_refuses_contradicting_promotion_flags(capsys: pytest.CaptureFixture[str]) -> None:
    line = assert_one_error_line(run_main(capsys, "train", "--promote", "force", "--no-promote"), 2)
    assert "--promote" in line


def test_strategies_list_and_show_include_the_ml_strategies(capsys: pytest.CaptureFixture[str]) -> None:
    listed = json.loads(run_main(capsys, "strategies", "list", "--json").out)
    assert {"ml_basic", "ml_adaptive", "ml_sentiment"} <= {e["name"] for e in listed}
    shown = run_main(capsys, "strategies", "show", "ml_adaptive")
    assert shown.code == 0 and "up_factor" in shown.out and "high_vol_size" in shown.out


def test_compare_runs_a_plain_strategy_on_the_ml_strategys_test_period(capsys: pytest.CaptureFixture[str]) -> None:
    sides = _json(run_main(capsys, "backtest", "compare", "ema_trend", "ml_basic", "ema_cross", "--json"))["sides"]
    reports = {s["label"]: s["report"] for s in sides}
    assert list(reports) == ["ema_trend", "ml_basic", "ema_cross"]
    ml = reports["ml_basic"]
    assert ml["model"]
    alone = _json(run_main(capsys, "backtest", "--strategy", "ml_basic", "--json"))
    assert ml["data"]["start"] == alone["data"]["start"]  # the model's own test period
    # the plain sides, before and after the ML one, run on that period too
    for plain in ("ema_trend", "ema_cross"):
        assert reports[plain]["model"] == {}
        assert reports[plain]["data"]["start"] == ml["data"]["start"]
        assert reports[plain]["data"]["end"] == ml["data"]["end"]


def test_an_ensemble_with_the_model_as_a_member(capsys: pytest.CaptureFixture[str]) -> None:
    report = _json(run_main(capsys, "backtest", "--strategy", "ensemble_weighted", "--param",
                            "members=ema_crossover:1,ml:1", "--param", "threshold=0.3", "--json"))  # fmt: skip
    assert report["model"]["BTCUSDT"].startswith("BTCUSDT/basic/")
