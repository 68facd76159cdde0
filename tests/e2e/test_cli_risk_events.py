"""Risk that users can read: the drawdown breaker's trips and resets, and denials by rule, in the CLI summary,
the JSON and the HTML report (issue #12, point 4). Relations only, no figures copied from a run."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from domain.risk import RiskLimits
from domain.risk.breaker import DAY_MS
from tests.builders import HOUR_MS, random_walk
from tests.e2e.test_cli import run_main


def _ms(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


def _spans(report: dict[str, Any]) -> list[tuple[int, int | None]]:
    """(trip, reset or None) of each trip; checks that trips and resets alternate, starting with a trip."""
    events = report["risk_events"]
    kinds = [e["kind"] for e in events]
    assert kinds == ["trip", "reset"] * (len(kinds) // 2) + ["trip"] * (len(kinds) % 2)
    assert {e["rule"] for e in events} <= {"max_drawdown"}
    times = [_ms(e["time"]) for e in events]
    return [(times[k], times[k + 1] if k + 1 < len(times) else None) for k in range(0, len(times), 2)]


def _check_breaker(report: dict[str, Any], limit: float) -> list[tuple[int, int | None]]:
    spans = _spans(report)
    for e in report["risk_events"]:
        if e["kind"] == "trip":
            assert e["drawdown"] >= limit and e["equity"] == pytest.approx(e["peak"] * (1 - e["drawdown"]))
    entries = [_ms(t["entry_time"]) for t in report["trades"]]
    for trip, reset in spans:
        # An entry decided at a close fills at that instant: strictly inside a tripped span, nothing opens.
        assert not any(trip < t < (reset if reset is not None else float("inf")) for t in entries)
    for d in report["denials"]:  # every breaker denial lies inside a tripped span
        if d["rule"] == "max_drawdown":
            t = _ms(d["time"])
            assert any(a <= t and (b is None or t < b) for a, b in spans)
    counts = {(c["rule"], c["action"]): c["count"] for c in report["denial_counts"]}
    assert sum(counts.values()) == len(report["denials"])
    for (rule, action), n in counts.items():
        assert n == sum(1 for d in report["denials"] if d["rule"] == rule and d["action"] == action)
    return spans


def test_default_risk_on_ethusdt_trips_resets_and_trades_again(capsys: pytest.CaptureFixture[str]) -> None:
    result = run_main(capsys, "backtest", "--strategy", "ema_trend", "--symbol", "ETHUSDT", "--json")
    assert result.code == 0, result.err
    report = result.json()
    limits = RiskLimits()
    assert report["risk"]["limits"]["max_drawdown_cooldown"] == limits.max_drawdown_cooldown > 0
    spans = _check_breaker(report, limits.max_drawdown)
    resets = [reset for _, reset in spans if reset is not None]
    assert spans and resets, "the default breaker trips on this run and resets after its cool-down"
    cooldown_ms = limits.max_drawdown_cooldown * DAY_MS
    for trip, reset in spans:
        if reset is not None:  # hourly bars: the cool-down, rounded up to a whole bar
            assert cooldown_ms <= reset - trip < cooldown_ms + HOUR_MS
    entries = [_ms(t["entry_time"]) for t in report["trades"]]
    assert any(t >= resets[0] for t in entries), "trading resumes after the reset"
    # A denial is labelled by its rule; a reduction is never counted as a denial.
    for d in report["denials"]:
        assert d["reason"].startswith(d["rule"] + ":") or d["rule"] in ("engine", "venue")
        assert d["action"] == "reduced" or "->" not in d["reason"]  # a cut (size a -> b) is a reduction

    # Latched, the same run stops at the first trip and never trades again.
    result = run_main(capsys, "backtest", "--strategy", "ema_trend", "--symbol", "ETHUSDT", "--json",
                      "--risk", "max_drawdown_cooldown=0")  # fmt: skip
    assert result.code == 0, result.err
    latched = result.json()
    ((trip, reset),) = _check_breaker(latched, limits.max_drawdown)
    assert reset is None and trip == spans[0][0]  # the same first trip
    assert all(_ms(t["entry_time"]) < trip for t in latched["trades"])
    assert len(latched["trades"]) < len(report["trades"])


def test_the_cli_summary_lists_trips_resets_and_denials_by_rule(capsys: pytest.CaptureFixture[str]) -> None:
    result = run_main(capsys, "backtest", "--strategy", "ema_trend", "--symbol", "ETHUSDT")
    assert result.code == 0, result.err
    out = " ".join(result.out.split())  # rich wraps long lines
    assert "risk events: circuit breaker tripped" in out
    assert "max_drawdown tripped" in out and "max_drawdown reset" in out
    assert re.search(r"\b\d+ decisions? denied \(max_drawdown x\d+", out)
    assert re.search(r"\b\d+ size reductions? \(", out)


def test_the_html_report_has_the_timeline_the_events_and_the_limits_applied(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "eth.html"
    result = run_main(capsys, "backtest", "--strategy", "ema_trend", "--symbol", "ETHUSDT", "--report", str(path),
                      "--json")  # fmt: skip
    assert result.code == 0, result.err
    report = result.json()
    html = path.read_text()
    equity = html[html.index('<section id="equity">') : html.index('<section id="prices">')]
    trips = sum(1 for e in report["risk_events"] if e["kind"] == "trip")
    resets = len(report["risk_events"]) - trips
    assert equity.count('class="breaker-span"') == trips > 0  # shaded while tripped
    assert equity.count('class="breaker-trip"') == trips and equity.count('class="breaker-reset"') == resets
    risk = html[html.index('<section id="risk">') : html.index('<section id="denials">')]
    assert risk.count("<tr") == 1 + len(report["risk_events"])  # header + one row per event
    assert "resets 30 days after it trips" in risk
    denials = html[html.index('<section id="denials">') : html.index('<section id="data">')]
    rules = {(c["rule"], c["action"]) for c in report["denial_counts"]}
    by_rule = denials[denials.index("By rule") : denials.index("<h3>List")]
    assert by_rule.count("<tr>") == 1 + len(rules)
    config = html[html.index('<section id="config">') :]
    applied = config[config.index("Sizer and risk limits applied") :]
    for name, value in report["risk"]["limits"].items():
        assert f"<td>{name}</td>" in applied, name
        if isinstance(value, float):
            assert f"<td>{name}</td><td><code>{value:g}</code>" in applied
    assert f"<td>sizer</td><td><code>{report['risk']['sizer']['name']}</code>" in applied


def test_no_risk_says_so_in_the_configuration(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "raw.html"
    result = run_main(capsys, "backtest", "--strategy", "ema_trend", "--no-risk", "--report", str(path), "--json")
    assert result.code == 0, result.err
    assert result.json()["risk_events"] == []
    html = path.read_text()
    assert "off (--no-risk)" in html[html.index('<section id="config">') :]
    assert "Risk management was off" in html[html.index('<section id="risk">') :]


def test_a_synthetic_series_from_a_file_trips_and_resets_after_the_cooldown(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    candles = random_walk(6000, seed=21, start=50.0)
    path = tmp_path / "BTCUSDT-1h.csv"
    rows = zip(candles.open_time.tolist(), candles.open.tolist(), candles.high.tolist(), candles.low.tolist(),
               candles.close.tolist(), candles.volume.tolist(),
               strict=True)  # fmt: skip
    path.write_text("open_time_ms,open,high,low,close,volume\n" + "".join(
        f"{t},{o!r},{h!r},{lo!r},{c!r},{v!r}\n" for t, o, h, lo, c, v in rows))  # fmt: skip
    cooldown = 5
    result = run_main(capsys, "backtest", "--strategy", "ema_cross", "--data", str(path), "--json",
                      "--risk", "max_drawdown=0.08", "--risk", f"max_drawdown_cooldown={cooldown}")  # fmt: skip
    assert result.code == 0, result.err
    report = result.json()
    spans = _check_breaker(report, 0.08)
    closed = [(a, b) for a, b in spans if b is not None]
    assert len(closed) >= 2, "a tight breaker on a random walk trips and resets more than once"
    for trip, reset in closed:
        assert reset - trip == cooldown * DAY_MS  # no gaps in the file: exactly the cool-down
    entries = np.array([_ms(t["entry_time"]) for t in report["trades"]])
    for _, reset in closed:
        later = entries[entries >= reset]
        next_trip = next((a for a, _ in spans if a > reset), None)
        # trading resumes after each reset (before the next trip, if any)
        assert later.size and (next_trip is None or later[0] <= next_trip)
