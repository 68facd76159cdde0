"""The composition root: the only module that imports adapters and dependency-injector.

Adapters are chosen by mode (``backtest`` now; ``paper`` and ``live`` arrive with [M10]/[M11], as the
assembler's venue). TensorFlow loads only inside a training (``KerasTrainer.train``): a backtest never imports it.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from dependency_injector import containers, providers

from adapters.files import BundledInstruments, BundledMarketData, CsvFilesMarketData, CsvMarketData, CsvSentiment
from adapters.files.check_cache import JsonFileCheckCache
from adapters.registry import FileModelRegistry, bundled_models_root
from adapters.simulation import SimulatedBroker, SimulatedClock
from adapters.training import KerasTrainer
from application.assembler import Assembler
from application.ports.clock import Clock
from application.ports.errors import ConfigurationError
from application.ports.market_data import MarketData
from application.ports.models import ModelInfo
from application.ports.predictor import Predictor
from application.ports.simulation import Broker, SimulationSettings
from application.use_cases.check_strategy import CheckStrategy
from application.use_cases.models import PromoteModel, parse_stress_windows
from application.use_cases.run_backtest import RunBacktest
from application.use_cases.save_backtest import SaveBacktest
from application.use_cases.sessions import ListSessions, ShowSession
from application.use_cases.train_model import TrainModel
from domain.model.market import MarketFrame
from domain.model.symbols import Instrument, Symbol
from domain.model.timeframe import Timeframe
from entrypoints.strategy_sources import strategy_catalog, user_strategy_source

if TYPE_CHECKING:
    from adapters.persistence import Database


@lru_cache(maxsize=1)
def bundled_instruments() -> BundledInstruments:
    """The bundled table of exchange rules (read once per process)."""
    return BundledInstruments()


def simulator(
    market: MarketFrame, cash: Decimal, settings: SimulationSettings, instruments: Sequence[Instrument] | None = None
) -> tuple[Broker, Clock]:
    """A simulated broker and its clock over ``market`` (the ``SimulatorFactory`` of backtests). Without
    ``instruments``, each symbol trades under the bundled table's rules, else those of its candles."""
    if instruments is None:
        table = bundled_instruments()
        instruments = [table.instrument(s, h).instrument for s, h in zip(market.symbols, market.series, strict=True)]
    clock = SimulatedClock(int(market.open_time[0]))
    broker = SimulatedBroker(
        market,
        instruments,
        cash,
        clock,
        taker_fee_bps=settings.fee_bps,
        maker_fee_bps=settings.maker_fee_bps,
        slippage_bps=settings.slippage_bps,
        allow_short=settings.allow_short,
        volatility_slippage_k=settings.volatility_slippage,
        leverage=settings.leverage,
        maintenance_margin=settings.maintenance_margin,
        intrabar=settings.intrabar,
        fill_on_zero_volume=settings.fill_on_zero_volume,
    )
    return broker, clock


def csv_market_data(
    path: str | None,
    symbol: str | None,
    timeframe: str | None,
    max_bytes: int | None = None,
    max_rows: int | None = None,
) -> CsvMarketData:
    """One user file; ``max_bytes`` / ``max_rows``: the caps on it (None: the adapter's defaults)."""
    if not path:
        raise ConfigurationError("no data file given")
    caps = {k: v for k, v in (("max_bytes", max_bytes), ("max_rows", max_rows)) if v is not None}
    return CsvMarketData(
        Path(path).expanduser(),
        Symbol.parse(symbol) if symbol else None,
        Timeframe.parse(timeframe) if timeframe else None,
        **caps,
    )


def csv_files_market_data(
    paths: list[str],
    symbols: list[str] | None,
    timeframe: str | None,
    max_bytes: int | None = None,
    max_rows: int | None = None,
) -> CsvFilesMarketData:
    """Several files, one symbol each: ``symbols`` pairs with ``paths`` in order (None: from the file names)."""
    names: list[str | None] = list(symbols) if symbols else [None] * len(paths)
    return CsvFilesMarketData(
        [csv_market_data(p, s, timeframe, max_bytes, max_rows) for p, s in zip(paths, names, strict=True)]
    )


def onnx_predictor(info: ModelInfo) -> Predictor:
    """A registered model loaded in ONNX Runtime (imported here, on first use: a backtest of a strategy
    without a model never pays for it)."""
    from adapters.onnx import onnx_predictor as load

    return load(info)


def model_registry(models_dir: str | None, data_dir: str | None) -> FileModelRegistry:
    """The user's registry (``models_dir``, else ``data_dir/models``) with the bundled models beside it."""
    if models_dir:
        root = Path(models_dir)
    else:
        if not data_dir:  # only outside the CLI, which always names the data directory
            from adapters.persistence.database import DEFAULT_DATA_DIR

            data_dir = str(DEFAULT_DATA_DIR)
        root = Path(data_dir) / "models"
    return FileModelRegistry(root.expanduser(), bundled_root=bundled_models_root())


def bundled_input_dirs() -> dict[str, Path]:
    """The folders of files shipped with atb that runs read (candles, exchange rules, Fear & Greed; the bundled
    models): no output is ever written there (entrypoints.cli.common.check_output_path, ADR 0015)."""
    from importlib import resources

    return {
        "bundled data": Path(str(resources.files("adapters.files").joinpath("bundled"))),
        "bundled models": bundled_models_root(),
    }


def database(url: str | None, data_dir: str | None) -> Database:
    """The database (``url``, else a SQLite file in ``data_dir``). SQLAlchemy and Alembic are imported here, on
    first use: a backtest that saves nothing never loads them."""
    from adapters.persistence import Database

    return Database.from_settings(url, data_dir)


def check_cache(data_dir: str | None) -> JsonFileCheckCache:
    """The strategy checks' cache: ``data_dir/checks`` (docs/strategy-checks.md)."""
    if not data_dir:
        from adapters.persistence.database import DEFAULT_DATA_DIR

        data_dir = str(DEFAULT_DATA_DIR)
    return JsonFileCheckCache(Path(data_dir).expanduser() / "checks")


def atb_version() -> str:
    from importlib import metadata

    try:
        return metadata.version("atb")
    except metadata.PackageNotFoundError:
        return "unknown"


class Container(containers.DeclarativeContainer):
    """Wires ports to adapters. ``config`` takes the loaded settings (``config.from_dict``)."""

    config = providers.Configuration()

    bundled_market_data = providers.Singleton(BundledMarketData)
    file_market_data = providers.Factory(
        csv_market_data,
        config.data_file,
        config.data_symbol,
        config.data_timeframe,
        config.max_data_bytes,
        config.max_data_rows,
    )
    market_data: providers.Provider[MarketData] = providers.Selector(
        config.data_source,
        bundled=bundled_market_data,
        file=file_market_data,
        files=providers.Factory(
            csv_files_market_data,
            config.data_files,
            config.data_symbols,
            config.data_timeframe,
            config.max_data_bytes,
            config.max_data_rows,
        ),
    )

    simulator_factory = providers.Object(simulator)
    instruments = providers.Callable(bundled_instruments)  # [M10]: the exchange's own table in live modes

    # Models: the registry (user root + bundled), ONNX Runtime for inference, Fear & Greed for sentiment models,
    # and the Keras trainer (TensorFlow is imported inside its train method only).
    model_registry = providers.Singleton(model_registry, config.models_dir, config.data_dir)
    predictor_factory = providers.Object(onnx_predictor)
    sentiment = providers.Singleton(CsvSentiment)
    trainer_factory = providers.Object(KerasTrainer)

    # Strategy checks (look-ahead, prefix, history_bars) on the bundled candles, cached for user strategy files.
    check_strategy = providers.Factory(
        CheckStrategy,
        market_data=bundled_market_data,
        cache=providers.Singleton(check_cache, config.data_dir),
        version=providers.Callable(atb_version),
    )
    # Strategies: the built-ins and the user's (ATB_STRATEGIES_DIR); the CLI hands over the catalog it loaded
    # (config.strategy_catalog, with any path.py:Class in it), other callers get one loaded here.
    user_strategies = providers.Singleton(user_strategy_source, config.strategies_dir, config.strategies_dir_required)
    strategies = providers.Singleton(strategy_catalog, config.strategy_catalog, user_strategies)

    # What a run needs (strategy, model inputs, sizer, risk, venue, engine) for the mode: the simulated venue in
    # backtests; paper and live say they are not available until their drivers and venues exist ([M10]/[M11]).
    assembler = providers.Factory(
        Assembler,
        simulator_factory,
        strategies=strategies,
        models=model_registry,
        predictors=predictor_factory,
        sentiment=sentiment,
        mode=config.mode,
    )

    run_backtest = providers.Factory(
        RunBacktest,
        market_data=market_data,
        simulator=simulator_factory,
        models=model_registry,
        predictors=predictor_factory,
        sentiment=sentiment,
        instruments=instruments,
        checks=check_strategy,
        strategies=strategies,
    )
    train_model = providers.Factory(
        TrainModel,
        market_data=market_data,
        trainer=trainer_factory,
        registry=model_registry,
        predictors=predictor_factory,
        simulator=simulator_factory,
        sentiment=sentiment,
        windows=providers.Callable(parse_stress_windows, config.stress_windows),
        margin=config.promotion_margin,
    )
    promote_model = providers.Factory(
        PromoteModel,
        registry=model_registry,
        backtest=run_backtest,
        windows=providers.Callable(parse_stress_windows, config.stress_windows),
        margin=config.promotion_margin,
    )

    # Persistence: DATABASE_URL, else a SQLite file in data_dir. Tables come from `atb db upgrade` only.
    database = providers.Singleton(database, config.database_url, config.data_dir)
    save_backtest = providers.Factory(SaveBacktest, uow=database.provided.unit_of_work)
    list_sessions = providers.Factory(ListSessions, uow=database.provided.unit_of_work)
    show_session = providers.Factory(ShowSession, uow=database.provided.unit_of_work)


def build_container(settings: dict[str, object]) -> Container:
    """A container configured from a settings dict (plus ``data_source`` / ``data_file`` for files)."""
    container = Container()
    container.config.from_dict(
        {
            "mode": "backtest",
            "data_source": "bundled",
            "data_file": None,
            "data_files": [],
            "data_symbols": None,
            "database_url": None,
            "data_dir": None,
            "models_dir": None,
            "stress_windows": "",
            "promotion_margin": 0.05,
            "max_data_bytes": None,
            "max_data_rows": None,
            "strategies_dir": None,
            "strategies_dir_required": False,
            "strategy_catalog": None,
            **settings,
        }
    )
    return container


def use_market_data(container: Container, source: MarketData) -> None:
    """Make ``source`` the container's candles (the research API's DataFrames: ``entrypoints.research``)."""
    container.market_data.override(providers.Object(source))
