"""The self-contained HTML backtest report (``atb backtest --report FILE``).

Reports come from the real use case, on the bundled candles and on seeded random walks; the HTML is read
back with the standard library's parsers. Expected figures (month-end returns, metric texts, trade counts)
are computed here from the report's own arrays, not by the renderer's helpers.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import time
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from application.engine import Denial
from application.use_cases.run_backtest import BacktestReport, BacktestRequest, RunBacktest
from domain.metrics import METRICS
from domain.model.symbols import Symbol
from domain.model.timeframe import Timeframe
from domain.model.trades import Direction, Trade
from domain.risk import RiskEvent
from entrypoints.cli.main import main
from entrypoints.container import build_container, simulator
from entrypoints.reports import html as report_html
from entrypoints.reports import write_html_report
from entrypoints.reports.fmt import format_metric
from entrypoints.reports.html import render_html
from tests.builders import random_walk
from tests.fakes.market_data import InMemoryMarketData

SECTION_IDS = ("equity", "prices", "monthly", "metrics", "trades", "risk", "denials", "data", "config")
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
SVG_NS = "http://www.w3.org/2000/svg"
MAX_BYTES = 3_000_000


# ---------------------------------------------------------------------------------------------------------------
# A small DOM from html.parser


@dataclass
class Node:
    tag: str
    attrs: dict[str, str]
    children: list[Node] = field(default_factory=list)
    parts: list[str | Node] = field(default_factory=list)

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    def text(self) -> str:
        return "".join(p if isinstance(p, str) else p.text() for p in self.parts)

    def iter(self) -> Iterator[Node]:
        yield self
        for child in self.children:
            yield from child.iter()

    def find_all(self, tag: str | None = None, cls: str | None = None, **attrs: str) -> list[Node]:
        return [
            n
            for n in self.iter()
            if (tag is None or n.tag == tag)
            and (cls is None or cls in n.classes)
            and all(n.attrs.get(k.replace("_", "-")) == v for k, v in attrs.items())
        ]

    def one(self, tag: str | None = None, cls: str | None = None, **attrs: str) -> Node:
        found = self.find_all(tag, cls, **attrs)
        assert len(found) == 1, f"{len(found)} <{tag} class={cls} {attrs}>"
        return found[0]


class _Builder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(node)
        self.stack[-1].parts.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(node)
        self.stack[-1].parts.append(node)

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        assert self.stack[-1].tag == tag, f"</{tag}> closes <{self.stack[-1].tag}>"
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.stack[-1].parts.append(data)


def parse(text: str) -> Node:
    builder = _Builder()
    builder.feed(text)
    builder.close()
    assert [n.tag for n in builder.stack] == ["#document"], "unclosed elements"
    return builder.root


def section(doc: Node, key: str) -> Node:
    return doc.one("section", id=key)


# ---------------------------------------------------------------------------------------------------------------
# Reports from the real use case


def bundled_request(**changes: object) -> BacktestRequest:
    base = BacktestRequest("ema_trend", (Symbol.parse("BTCUSDT"), Symbol.parse("ETHUSDT")), Timeframe.H1,
                           Decimal(10_000))  # fmt: skip
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def bundled() -> BacktestReport:
    report: BacktestReport = build_container({"mode": "backtest"}).run_backtest()(bundled_request())
    return report


@pytest.fixture(scope="module")
def bundled_html(bundled: BacktestReport) -> str:
    return render_html(bundled)


@pytest.fixture(scope="module")
def walk() -> BacktestReport:
    """Two random walks, ETHUSDT starting 700 bars later (NaN closes before), in the middle of a month."""
    btc = random_walk(6000, seed=3, start=100.0, symbol="BTCUSDT")
    eth = random_walk(6000, seed=11, start=20.0, symbol="ETHUSDT")
    eth = eth.slice(700, len(eth))
    use_case = RunBacktest(InMemoryMarketData(btc, eth), simulator)
    request = BacktestRequest(
        "ema_cross", (Symbol.parse("BTCUSDT"), Symbol.parse("ETHUSDT")), Timeframe.H1, Decimal(5_000),
        params={"fast": "8", "slow": "30"},
    )  # fmt: skip
    return use_case(request)


@pytest.fixture(scope="module")
def walk_html(walk: BacktestReport) -> str:
    return render_html(walk)


def month_end_returns(report: BacktestReport) -> tuple[dict[tuple[int, int], float], dict[int, float]]:
    """Monthly and yearly returns from the equity at each month end (UTC), computed bar by bar: a bar's
    equity is marked at its close, and a close at midnight on the 1st ends the month before."""
    bar = report.request.timeframe.milliseconds
    last: dict[tuple[int, int], int] = {}
    for i, t in enumerate(report.open_time.tolist()):
        d = datetime.fromtimestamp((t + bar - 1) / 1000, UTC)
        last[(d.year, d.month)] = i
    months: dict[tuple[int, int], float] = {}
    year_end: dict[int, float] = {}
    prev = float(report.request.initial_cash)
    for key in sorted(last):
        end = float(report.equity[last[key]])
        months[key] = end / prev - 1
        year_end[key[0]] = end
        prev = end
    years: dict[int, float] = {}
    base = float(report.request.initial_cash)
    for year in sorted(year_end):
        years[year] = year_end[year] / base - 1
        base = year_end[year]
    return months, years


def calendar_months(start_ms: int, end_ms: int) -> set[tuple[int, int]]:
    """Every (year, month) that ``[start_ms, end_ms)`` touches."""
    a = datetime.fromtimestamp(start_ms / 1000, UTC)
    b = datetime.fromtimestamp((end_ms - 1) / 1000, UTC)
    out = set()
    key = a.year * 12 + a.month - 1
    while key <= b.year * 12 + b.month - 1:
        out.add((key // 12, key % 12 + 1))
        key += 1
    return out


# ---------------------------------------------------------------------------------------------------------------
# One self-contained file


def test_writes_one_file(bundled: BacktestReport, tmp_path: Path) -> None:
    out = tmp_path / "out.html"
    write_html_report(bundled, out)
    assert os.listdir(tmp_path) == ["out.html"]
    text = out.read_text(encoding="utf-8")
    assert text.startswith("<!doctype html>")
    assert out.stat().st_size < MAX_BYTES


@pytest.mark.parametrize("which", ["bundled_html", "walk_html"])
def test_nothing_is_fetched_from_the_network(which: str, request: pytest.FixtureRequest) -> None:
    text: str = request.getfixturevalue(which)
    doc = parse(text)
    for node in doc.iter():
        for name in ("src", "href", "xlink:href", "action", "data", "poster"):
            value = node.attrs.get(name)
            if value is not None:
                assert value.startswith("#"), f"<{node.tag} {name}={value!r}>"
        assert node.tag not in ("link", "iframe", "img", "object", "embed")
    # the SVG namespace is a name, not a fetch; nothing else may name a URL, in CSS or anywhere
    assert re.findall(r"(?:https?:)?//[\w.-]+\.\w+", text.replace(SVG_NS, "")) == []
    assert "@import" not in text and "url(" not in text


def test_every_section_is_there(bundled_html: str, bundled: BacktestReport) -> None:
    doc = parse(bundled_html)
    for key in SECTION_IDS:
        section(doc, key)
        assert doc.find_all("a", href=f"#{key}"), f"no link to #{key}"
    header = doc.one("header")
    assert "ema_trend" in doc.one("h1").text() and "1.0.0" in doc.one("h1").text()
    head_text = header.text()
    for expected in ("BTCUSDT, ETHUSDT", "1h", "33,412", "2017-08-17 04:00", "UTC", "generated"):
        assert expected in head_text, expected
    cards = [c.one(cls="k").text() for c in doc.find_all("div", cls="card")]
    assert cards == ["Total return", "CAGR", "Sharpe", "Max drawdown", "Trades", "Win rate", "vs buy & hold"]
    total = doc.find_all("div", cls="card")[0].one(cls="v").text()
    assert total == f"{bundled.metrics['total_return'] * 100:+,.2f}%"


def test_size_and_speed_on_the_bundled_data(bundled: BacktestReport, bundled_html: str) -> None:
    assert bundled.bars > 30_000
    assert len(bundled_html.encode()) < MAX_BYTES
    started = time.perf_counter()
    render_html(bundled)
    assert time.perf_counter() - started < 1.0


def test_charts_are_valid_svg_downsampled(bundled_html: str, bundled: BacktestReport) -> None:
    svgs = re.findall(r"<svg\b.*?</svg>", bundled_html, flags=re.S)
    assert len(svgs) >= 1 + len(bundled.symbols)
    element_count = 0
    for text in svgs:
        root = ET.fromstring(text)  # well-formed XML, escapes included
        assert root.tag == f"{{{SVG_NS}}}svg"
        for el in root.iter():
            element_count += 1
            points = len(re.findall(r"-?\d+(?:\.\d+)?,-?\d+(?:\.\d+)?", el.attrib.get("d", "")))
            assert points <= 4 * 1200, "a path has more points than pixel columns allow"
    # never a node per bar: the charts' size follows the trades, not the 33k bars
    assert element_count < 1500 + 2 * len(bundled.trades)


def test_hover_data_is_json(walk_html: str, bundled_html: str) -> None:
    for text in (walk_html, bundled_html):
        doc = parse(text)
        for chart in doc.find_all("div", cls="chart"):
            key = chart.attrs.get("data-hover")
            if key is None:
                continue
            data = json.loads(doc.one("script", id=key).text())
            assert data["t"] == sorted(data["t"])
            assert len(data["t"]) <= 1200
            assert all(len(s["v"]) == len(data["t"]) for s in data["s"])


# ---------------------------------------------------------------------------------------------------------------
# What the sections show


@pytest.mark.parametrize("which", ["bundled", "walk"])
def test_a_marker_for_every_entry_and_exit(which: str, request: pytest.FixtureRequest) -> None:
    report: BacktestReport = request.getfixturevalue(which)
    doc = parse(request.getfixturevalue(f"{which}_html"))
    assert report.trades
    start, end = int(report.open_time[0]), int(report.open_time[-1]) + report.request.timeframe.milliseconds
    numbers = {id(t): i for i, t in enumerate(report.trades, start=1)}
    prices = section(doc, "prices")
    for sym in report.symbols:
        mine = [t for t in report.trades if str(t.symbol) == sym and start <= t.entry_time <= t.exit_time <= end]
        group = prices.one("g", cls="markers", data_symbol=sym)
        entries = group.find_all("path", cls="entry")
        exits = group.find_all("path", cls="exit")
        assert len(entries) == len(exits) == len(mine) > 0
        assert sorted(int(p.attrs["data-trade"]) for p in entries) == sorted(numbers[id(t)] for t in mine)
        assert Counter(p.attrs["data-reason"] for p in exits) == Counter(t.exit_reason for t in mine)
        for path in entries + exits:
            x = float(re.match(r"M(-?[\d.]+),", path.attrs["d"]).group(1))  # type: ignore[union-attr]
            assert 64 - 0.1 <= x <= 1160 - 16 + 0.1
            assert path.one("title").text()  # hover text


def test_markers_merge_above_the_cap(walk: BacktestReport, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(report_html, "MAX_MARKED_TRADES", 3)
    doc = parse(render_html(walk))
    prices = section(doc, "prices")
    assert not prices.find_all("path", cls="mk")
    for sym in walk.symbols:
        mine = [t for t in walk.trades if str(t.symbol) == sym]
        group = prices.one("g", cls="markers", data_symbol=sym)
        merged = group.find_all("path", cls="mk-merged")
        assert sum(int(p.attrs["data-count"]) for p in merged if p.attrs["data-kind"] == "entry") == len(mine)
        assert sum(int(p.attrs["data-count"]) for p in merged if p.attrs["data-kind"] != "entry") == len(mine)
        for p in merged:  # one triangle per trade inside the merged path
            assert p.attrs["d"].count("M") == int(p.attrs["data-count"])
    assert "without hover details" in prices.text()


@pytest.mark.parametrize("which", ["bundled", "walk"])
def test_monthly_heatmap_matches_month_end_equity(which: str, request: pytest.FixtureRequest) -> None:
    report: BacktestReport = request.getfixturevalue(which)
    doc = parse(request.getfixturevalue(f"{which}_html"))
    months, years = month_end_returns(report)
    bar = report.request.timeframe.milliseconds
    start, end = int(report.open_time[0]), int(report.open_time[-1]) + bar
    heat = section(doc, "monthly")
    cells = {c.attrs["data-month"]: c for c in heat.find_all("td") if "data-month" in c.attrs}
    assert set(cells) == {f"{y}-{m:02d}" for y, m in calendar_months(start, end)}
    assert set(cells) == {f"{y}-{m:02d}" for y, m in months}
    for (y, m), value in months.items():
        cell = cells[f"{y}-{m:02d}"]
        assert float(cell.attrs["data-value"]) == pytest.approx(value, rel=1e-12, abs=1e-15)
        assert cell.text() == f"{value * 100:,.1f}%"
    year_cells = {int(c.attrs["data-year"]): float(c.attrs["data-value"]) for c in heat.find_all("td", cls="yr")}
    assert year_cells == pytest.approx(years, rel=1e-12)
    # compounding the months of a year gives the year
    for y, value in years.items():
        assert math.prod(1 + r for (yy, _), r in months.items() if yy == y) - 1 == pytest.approx(value, rel=1e-9)
    # a range starting mid-month marks its first month as partial
    starts_on_the_first = datetime.fromtimestamp(start / 1000, UTC).day == 1 and start % 86_400_000 == 0
    assert ("partial" in cells[min(cells)].classes) == (not starts_on_the_first)


@pytest.mark.parametrize("which", ["bundled", "walk"])
def test_metrics_table_has_a_row_per_metric(which: str, request: pytest.FixtureRequest) -> None:
    report: BacktestReport = request.getfixturevalue(which)
    doc = parse(request.getfixturevalue(f"{which}_html"))
    rows = section(doc, "metrics").find_all("tr", cls=None)
    keyed = [r for r in rows if "data-key" in r.attrs]
    assert [r.attrs["data-key"] for r in keyed][: len(METRICS)] == [m.key for m in METRICS]
    assert {r.attrs["data-key"] for r in keyed} == {m.key for m in METRICS} | set(report.metrics)
    for spec, row in zip(METRICS, keyed, strict=False):
        label, value = row.find_all("td")
        assert label.text() == spec.label
        assert value.text() == format_metric(spec.kind, report.metrics.get(spec.key, math.nan))


def test_nan_and_infinite_metrics(walk: BacktestReport) -> None:
    metrics = dict(walk.metrics, sharpe=math.nan, profit_factor=math.inf, total_return=math.nan)
    doc = parse(render_html(dataclasses.replace(walk, metrics=metrics)))
    table = section(doc, "metrics")
    assert table.one("tr", data_key="sharpe").find_all("td")[1].text() == "n/a"
    assert table.one("tr", data_key="profit_factor").find_all("td")[1].text() == "∞"
    assert doc.find_all("div", cls="card")[0].one(cls="v").text() == "n/a"


def test_trades_table(walk: BacktestReport, walk_html: str) -> None:
    table = section(parse(walk_html), "trades").one("table", cls="trades")
    rows = table.one("tbody").find_all("tr")
    assert len(rows) == len(walk.trades)
    heads = [th.text() for th in table.one("thead").find_all("th")]
    for expected in ("Entry (UTC)", "Exit (UTC)", "Entry price", "Exit price", "Quantity", "Return", "Exit reason",
                     "MFE", "MAE"):  # fmt: skip
        assert expected in heads, expected
    first, cells = walk.trades[0], [td.text() for td in rows[0].find_all("td")]
    assert cells[heads.index("Entry (UTC)")] == datetime.fromtimestamp(first.entry_time / 1000, UTC).strftime(
        "%Y-%m-%d %H:%M"
    )
    assert cells[heads.index("Return")] == f"{first.return_pct * 100:+,.2f}%"
    assert cells[heads.index("PnL (USDT)")] == f"{first.pnl:+,.2f}"


def test_trades_table_is_capped(walk: BacktestReport) -> None:
    trades = (walk.trades * (600 // len(walk.trades) + 1))[:600]
    doc = parse(render_html(dataclasses.replace(walk, trades=trades)))
    trades_section = section(doc, "trades")
    assert len(trades_section.one("table", cls="trades").one("tbody").find_all("tr")) == report_html.MAX_TRADE_ROWS
    assert "first 500 of 600 trades" in trades_section.text()


def test_no_trades_no_denials(walk: BacktestReport) -> None:
    doc = parse(render_html(dataclasses.replace(walk, trades=[], denials=[])))
    assert "No trade was closed" in section(doc, "trades").text()
    assert "every decision" in section(doc, "denials").text()
    assert not section(doc, "prices").find_all("path", cls="mk")


def test_shorts_denials_open_positions_and_notes(walk: BacktestReport) -> None:
    t0 = int(walk.open_time[100])
    short = Trade(Symbol.parse("ETHUSDT"), Direction.SHORT, t0, t0 + 7_200_000, 20.0, 19.0, 3.0, 0.1, 2.9,
                  "take_profit", 0.01, 0.06, -0.01)  # fmt: skip
    denials = [Denial(t0 + 3_600_000 * i, "BTCUSDT", "not enough cash <for> this & that") for i in range(250)]
    report = dataclasses.replace(walk, trades=[*walk.trades, short], denials=denials, notes=["a <note> & more"])
    doc = parse(render_html(report))
    exits = section(doc, "prices").one("g", cls="markers", data_symbol="ETHUSDT").find_all("path", cls="exit")
    assert "take_profit" in {p.attrs["data-reason"] for p in exits}
    denial_section = section(doc, "denials")
    assert len(denial_section.one("table", cls="denials").one("tbody").find_all("tr")) == report_html.MAX_DENIAL_ROWS
    assert "not enough cash <for> this & that" in denial_section.text()
    assert "250" in denial_section.text()
    assert "a <note> & more" in section(doc, "data").text()


def test_data_notes(bundled: BacktestReport, bundled_html: str) -> None:
    data = section(parse(bundled_html), "data")
    rows = {r.find_all("td")[0].text(): r for r in data.one("tbody").find_all("tr")}
    assert set(rows) == set(bundled.symbols)
    for sym, row in rows.items():
        gaps = bundled.gaps[sym]
        text = row.text()
        assert f"{gaps.gaps} ({gaps.missing_bars} bars missing" in text
        assert row.find_all("td")[-1].text() == f"{bundled.zero_volume_bars[sym]:,}"


def test_configuration_lists_the_request(walk: BacktestReport, walk_html: str) -> None:
    config = section(parse(walk_html), "config")
    keys = [r.find_all("td")[0].text() for r in config.one("table", cls="config").find_all("tr")]
    req = walk.request
    for f in dataclasses.fields(req):
        value = getattr(req, f.name)
        if dataclasses.is_dataclass(value):
            for g in dataclasses.fields(value):
                assert f"{f.name}.{g.name}" in keys
        else:
            assert any(k.startswith(f.name.removesuffix("_ms")) for k in keys), f.name
    params = {r.find_all("td")[0].text(): r.find_all("td")[1].text() for r in config.one("table", cls="params")
              .find_all("tr")}  # fmt: skip
    assert params["fast"] == "8" and params["slow"] == "30"
    assert "fast=8, slow=30" in config.text()


def test_text_is_escaped(walk: BacktestReport) -> None:
    evil = "<script>alert('x')</script> & \"quoted\" <b>bold</b>"
    report = dataclasses.replace(
        walk,
        strategy_name="<i>name</i>",
        strategy_params={**walk.strategy_params, "label": evil},
        request=dataclasses.replace(walk.request, params={"label": evil}),
    )
    text = render_html(report)
    doc = parse(text)
    # the only elements are ours: no <script> beyond the page's own, no <b> or <i> from the text
    scripts = doc.find_all("script")
    assert all(s.attrs.get("type") == "application/json" for s in scripts[:-1]) and "type" not in scripts[-1].attrs
    assert not [b for b in doc.find_all("b") if b.text() == "bold"]
    assert not [i for i in doc.find_all("i") if i.text() == "name"]
    assert "alert" not in "".join(s.text() for s in scripts)
    config = section(doc, "config")
    assert evil in config.one("table", cls="params").text()
    assert f"label={evil}" in config.one("table", cls="config").text()
    assert doc.one("h1").text().startswith("<i>name</i>")
    assert "&lt;script&gt;" in text


# ---------------------------------------------------------------------------------------------------------------
# Building blocks


def test_time_ticks_fall_on_utc_boundaries() -> None:
    from entrypoints.reports.svg import time_ticks

    start = int(datetime(2019, 3, 17, 5, tzinfo=UTC).timestamp() * 1000)
    for days in (1, 5, 40, 400, 4000):
        ticks = time_ticks(start, start + days * 86_400_000)
        assert 2 <= len(ticks) <= 12
        for t, _ in ticks:
            d = datetime.fromtimestamp(t / 1000, UTC)
            assert d.minute == 0 and d.second == 0
            if days == 40:
                assert d.weekday() == 0 and d.hour == 0  # weeks start on Monday
            if days >= 400:
                assert d.day == 1 and d.hour == 0


def test_downsampling_keeps_the_extremes() -> None:
    from entrypoints.reports.svg import minmax_indices

    rng = np.random.default_rng(1)
    values = np.cumsum(rng.normal(size=50_000))
    values[123] = values.max() + 50
    values[40_001] = values.min() - 50
    values[7000:7100] = np.nan
    idx = minmax_indices(values, 1000)
    assert len(idx) <= 2 * 1000 + 2
    assert {0, 123, 40_001, len(values) - 1} <= set(idx.tolist())
    assert np.isnan(values[idx]).any()  # the hole still breaks the line
    assert np.all(np.diff(idx) > 0)


# ---------------------------------------------------------------------------------------------------------------
# The command line


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    try:
        main(list(args))
        code = 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


ARGS = ("backtest", "--strategy", "ema_trend", "--symbol", "BTCUSDT", "--start", "2020-01-01", "--end", "2021-01-01")


def test_cli_writes_the_report(isolated: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = isolated / "out.html"
    code, stdout, stderr = run_cli(capsys, *ARGS, "--report", str(out))
    assert code == 0, stderr
    assert "Total return" in stdout and f"report written to {out}" in stdout
    doc = parse(out.read_text(encoding="utf-8"))
    for key in SECTION_IDS:
        section(doc, key)
    assert set(os.listdir(isolated)) == {"out.html"}
    cells = [c for c in section(doc, "monthly").find_all("td") if "data-month" in c.attrs]
    assert [c.attrs["data-month"] for c in cells] == [f"2020-{m:02d}" for m in range(1, 13)]


def test_cli_json_and_report(isolated: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = isolated / "r.html"
    code, stdout, stderr = run_cli(capsys, *ARGS, "--json", "--report", str(out))
    assert code == 0, stderr
    data = json.loads(stdout)  # stdout stays pure JSON
    assert data["config"]["symbols"] == ["BTCUSDT"]
    doc = parse(out.read_text(encoding="utf-8"))
    group = section(doc, "prices").one("g", cls="markers", data_symbol="BTCUSDT")
    assert len(group.find_all("path", cls="entry")) == len(data["trades"])


# ---------------------------------------------------------------------------------------------------------------
# Risk events and denials by rule (issue #12, point 4)


def test_breaker_trips_and_resets_are_a_timeline_on_the_equity_chart_and_a_table(walk: BacktestReport) -> None:
    t = walk.open_time
    events = [
        RiskEvent(int(t[1000]), "max_drawdown", "trip", 4_000.0, 0.26, 5_400.0),
        RiskEvent(int(t[1720]), "max_drawdown", "reset", 3_900.0, 0.28, 5_400.0),
        RiskEvent(int(t[4000]), "max_drawdown", "trip", 3_000.0, 0.25, 4_000.0),  # still tripped at the end
    ]
    doc = parse(render_html(dataclasses.replace(walk, risk_events=events)))
    chart = section(doc, "equity").one("g", cls="breaker")
    spans = chart.find_all("rect", cls="breaker-span")
    assert len(spans) == 2
    first, last = (float(r.attrs["x"]) for r in spans)
    assert first < last
    widths = [float(r.attrs["width"]) for r in spans]
    # the first span is 720 bars wide, the second runs from bar 4000 to the end of the run
    assert widths[1] / widths[0] == pytest.approx((len(t) - 4000) / 720, rel=0.02)
    assert len(chart.find_all("polygon", cls="breaker-trip")) == 2
    assert len(chart.find_all("polygon", cls="breaker-reset")) == 1
    table = section(doc, "risk").one("table", cls="risk-events")
    assert len(table.one("tbody").find_all("tr")) == 3
    assert "still tripped at the end" in section(doc, "risk").text()
    # without events: a sentence, no timeline
    plain = parse(render_html(dataclasses.replace(walk, risk_events=[])))
    assert not section(plain, "equity").find_all("g", cls="breaker")
    assert "never stopped an entry" in section(plain, "risk").text()


def test_denials_are_grouped_by_rule_and_action_not_by_their_text(walk: BacktestReport) -> None:
    t0 = int(walk.open_time[100])
    denials = [
        *(Denial(t0 + i, "BTCUSDT", f"max_risk_per_trade: risk {i + 3}% > 2%: size 100% -> {60 - i}%", "reduced",
                 "max_risk_per_trade") for i in range(5)),
        *(Denial(t0 + i, "ETHUSDT", f"correlation: no room ({i})", "denied", "correlation") for i in range(3)),
        Denial(t0, "BTCUSDT", "entry rejected: below the minimum", "denied", "venue"),
    ]  # fmt: skip
    doc = parse(render_html(dataclasses.replace(walk, denials=denials)))
    rows = section(doc, "denials").one("table", cls="by-rule").one("tbody").find_all("tr")
    cells = [[td.text() for td in row.find_all("td")][:3] for row in rows]
    assert cells == [["5", "max_risk_per_trade", "reduced"], ["3", "correlation", "denied"], ["1", "venue", "denied"]]


def test_the_configuration_shows_the_limits_and_sizer_applied(walk: BacktestReport) -> None:
    config = section(parse(render_html(walk)), "config")
    applied = config.one("table", cls="risk-applied").text()
    assert walk.risk_limits and walk.sizer  # the walk runs with the default risk
    for name in walk.risk_limits:
        assert name in applied
    assert str(walk.sizer["name"]) in applied
