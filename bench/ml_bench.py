"""ML speed: single-window prediction latency on ONNX Runtime and on Keras (the same model), batch prediction
over the bundled BTCUSDT 1h history, and the default training's wall time.

1. **Single prediction** (the live path, batch of 1): ``OnnxPredictor.predict`` (one intra-op thread) against
   the same model's ``model.keras`` called directly (``model(x, training=False)``), through a ``tf.function``,
   and through ``model.predict``; each after warm-up calls, ``--repeat`` times (Keras ``predict`` fewer: it
   is slow), p50 / p99 / mean in milliseconds. The ONNX and Keras outputs are compared on 256 windows.
2. **Batch** (the backtest path): ``predict_series`` over the whole bundled BTCUSDT 1h history (features,
   windows and one batched prediction, about 33k windows), and the prediction alone on prebuilt windows;
   best of 3.
3. **Training** (skip with ``--skip-training``): ``atb train``'s use case with the default settings on the
   bundled BTCUSDT 1h candles (basic model) into a temporary registry: the trainer's own time and the whole
   use case's (dataset, training, export and parity check, metrics, the test-period backtest).

Model: the bundled ``BTCUSDT/basic`` latest (``--models-dir`` for another registry root). Prints a table and
writes bench/results/ml_bench.json. Not a test: figures depend on the machine (and on what else runs on it).

    .venv/bin/python bench/ml_bench.py [--repeat 2000] [--skip-training]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from machine import cpu_model  # noqa: E402  (bench/machine.py, beside this script)

from application.ml import features_for, load_model, predict_series  # noqa: E402
from application.ports.models import TrainingParams  # noqa: E402
from application.use_cases.train_model import TrainRequest  # noqa: E402
from domain.features.builder import sliding_windows, window_end_rows  # noqa: E402
from domain.model.symbols import Symbol  # noqa: E402
from domain.model.timeframe import Timeframe  # noqa: E402
from entrypoints.container import build_container  # noqa: E402

TARGETS = {"onnx_single_p99_ms": 0.2, "batch_s": 2.0, "training_s": 600.0}


def latencies(call: Callable[[], Any], repeat: int, warmup: int = 20) -> dict[str, float]:
    for _ in range(warmup):
        call()
    times = np.empty(repeat)
    for i in range(repeat):
        started = time.perf_counter_ns()
        call()
        times[i] = (time.perf_counter_ns() - started) / 1e6
    return {
        "p50_ms": float(np.percentile(times, 50)),
        "p99_ms": float(np.percentile(times, 99)),
        "mean_ms": float(times.mean()),
        "calls": repeat,
    }


def best_of(call: Callable[[], Any], repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2000, help="single-prediction calls per engine")
    parser.add_argument("--skip-training", action="store_true", help="leave out the training wall time")
    parser.add_argument("--skip-keras", action="store_true", help="leave out Keras (no TensorFlow import)")
    parser.add_argument("--models-dir", type=Path, help="registry root (default: an empty one + the bundled models)")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "ml_bench.json")
    args = parser.parse_args()

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with tempfile.TemporaryDirectory(prefix="atb-ml-bench-") as tmp:
        container = build_container({"models_dir": str(args.models_dir or Path(tmp) / "models")})
        registry = container.model_registry()
        model = load_model(registry, container.predictor_factory(), "BTCUSDT", "basic", Timeframe.H1)
        predictor: Any = model.predictor
        schema = predictor.schema
        candles = container.market_data().candles(Symbol.parse("BTCUSDT"), Timeframe.H1)
        features = features_for(schema, candles, None)
        ends = window_end_rows(features, schema.window)
        windows = sliding_windows(features, schema.window, ends)
        one = np.ascontiguousarray(windows[-1:])
        print(f"model {model.info.ref}: window {schema.window} x {schema.n_features} features; "
              f"machine: {cpu_model()}, {os.cpu_count()} CPUs, Python {platform.python_version()}\n")  # fmt: skip

        results: dict[str, Any] = {"model": str(model.info.ref), "window": schema.window,
                                   "features": schema.n_features}  # fmt: skip
        single: dict[str, dict[str, float]] = {"onnx": latencies(lambda: predictor.predict(one), args.repeat)}
        parity = None
        if not args.skip_keras:
            import keras
            import tensorflow as tf

            net = keras.models.load_model(model.info.path / "model.keras", compile=False)
            x = tf.constant(one)
            serve = tf.function(lambda w: net(w, training=False), reduce_retracing=True)
            single["keras_call"] = latencies(lambda: net(x, training=False), max(50, args.repeat // 10))
            single["keras_tf_function"] = latencies(lambda: serve(x), max(50, args.repeat // 4))
            single["keras_predict"] = latencies(lambda: net.predict(one, verbose=0), 50, warmup=5)
            sample = windows[-256:]
            keras_out = np.asarray(net(sample, training=False), dtype=np.float64).reshape(-1)
            parity = float(np.max(np.abs(keras_out - predictor.predict(sample))))
        results["single"] = single
        results["onnx_vs_keras_max_abs_diff"] = parity

        print(f"{'single prediction (batch 1)':<32}{'p50 ms':>10}{'p99 ms':>10}{'mean ms':>10}{'calls':>8}")
        for name, figures in single.items():
            print(f"  {name:<30}{figures['p50_ms']:>10.4f}{figures['p99_ms']:>10.4f}{figures['mean_ms']:>10.4f}"
                  f"{figures['calls']:>8}")  # fmt: skip
        if parity is not None:
            print(f"  ONNX vs Keras max abs difference on 256 windows: {parity:.2e}")

        series_s = best_of(lambda: predict_series(predictor, candles))
        predict_s = best_of(lambda: predictor.predict(windows))
        results["batch"] = {"bars": len(candles), "windows": int(windows.shape[0]), "predict_series_s": series_s,
                            "predict_only_s": predict_s}  # fmt: skip
        print(f"\nbatch over the bundled BTCUSDT 1h history: {windows.shape[0]:,} windows of {len(candles):,} bars")
        print(f"  features + windows + prediction (predict_series): {series_s:.3f} s")
        print(f"  prediction alone on prebuilt windows:             {predict_s:.3f} s")

        if not args.skip_training:
            params = TrainingParams()
            request = TrainRequest(Symbol.parse("BTCUSDT"), "basic", Timeframe.H1, params)
            started = time.perf_counter()
            result = container.train_model()(request)
            wall = time.perf_counter() - started
            training = result.info.metadata.get("training", {})
            trainer_s = float(training.get("seconds", float("nan")))
            results["training"] = {"wall_s": wall, "trainer_s": trainer_s, "epochs_run": training.get("epochs_run"),
                                   "params": dataclasses.asdict(params)}  # fmt: skip
            print(f"\ndefault training (BTCUSDT 1h, basic): {wall:.1f} s in all, {trainer_s:.1f} s in the trainer, "
                  f"{training.get('epochs_run')} epochs (early stopping)")

    checks = {
        "onnx_single_p99_ms": single["onnx"]["p99_ms"],
        "batch_s": series_s,
        **({"training_s": results["training"]["wall_s"]} if "training" in results else {}),
    }
    print("\ntargets:")
    results["targets"] = {}
    for name, value in checks.items():
        met = value <= TARGETS[name]
        results["targets"][name] = {"value": value, "target": TARGETS[name], "met": met}
        print(f"  {'met ' if met else 'MISS'}  {name}: {value:.4g} (target <= {TARGETS[name]:g})")
    results["machine"] = {"cpu": cpu_model(), "cpus": os.cpu_count(), "python": platform.python_version()}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
