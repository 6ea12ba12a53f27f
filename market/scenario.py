"""Scenario files: a declarative TOML description of an experiment, parsed into a typed tree.

A scenario names the kind of market (``trading``: one trader on price data; ``market``: many agents
through one exchange), the data or generator, the learning populations and the scripted background,
the training settings, the evaluation, and a ``[quick]`` table of overrides for a run of seconds.
Every key is checked: an unknown key or a bad value fails with its full path and value, with a
"did you mean" for near misses. Files over :data:`MAX_FILE_BYTES` are refused before parsing
(``tomllib`` has no size or nesting limit), and too-deep nesting is one line too.
"""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from market.agents.scripted import build_policy, population_limits
from market.config import from_mapping, suggest
from market.envs.market_config import MarketConfig, PopulationConfig, RulesConfig
from market.envs.trading import TradingEnvConfig
from market import limits
from market.errors import ConfigError

MAX_FILE_BYTES = 64 * 1024
SCENARIOS_DIR = Path(__file__).resolve().parent / "scenarios"
"""The bundled scenario files. In the repository they live in ``scenarios/`` at the root, and
``market/scenarios`` is a link to that folder, so the same files install with the package as package
data (a built wheel holds them under ``market/scenarios/``) and this one path finds them either way."""
SUFFIX = ".toml"


class ScenarioKind(StrEnum):
    """What the scenario trades in."""

    TRADING = "trading"  # one trader on historical or generated prices (TradingEnv)
    MARKET = "market"  # many agents through one exchange (MarketEnv)
    PORTFOLIO = "portfolio"  # one allocator over a panel of assets (PortfolioEnv)


@dataclass(frozen=True, slots=True, kw_only=True)
class ScenarioInfo:
    """What the scenario is: its name, one line of description, the story it tells, and the metrics
    that tell it (``headline``: metric names of the run, shown first by ``scripts/scenario_figures.py``)."""

    name: str
    kind: ScenarioKind
    description: str
    story: str = ""
    headline: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.isidentifier():
            raise ConfigError(f"scenario.name: expected an identifier, got {self.name!r}")
        if not isinstance(self.description, str) or not self.description.strip():
            raise ConfigError(f"scenario.description: expected one line of text, got {self.description!r}")
        if not all(isinstance(key, str) and key for key in self.headline):
            raise ConfigError(f"scenario.headline: expected a list of metric names, got {list(self.headline)!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class DataConfig:
    """Prices for a trading scenario: the bundled sample, a file, or a seeded generator.

    Attributes:
        source: ``"sample"``, a CSV/Parquet path, or a generator name (gbm, ou, jump_diffusion,
            regime_switching).
        bars: bars to generate (generators only).
        seed: the generator's seed.
        params: the generator's parameters.
        split: share of the bars used for training; the rest is held out for evaluation.
    """

    source: str = "sample"
    bars: int = 2520
    seed: int = 0
    params: tuple[tuple[str, Any], ...] = ()
    split: float = 0.7

    def __post_init__(self) -> None:
        if type(self.bars) is not int or self.bars < 100 or self.bars > limits.MAX_BARS:
            raise ConfigError(f"data.bars: expected an integer in [100, {limits.MAX_BARS:,}], got {self.bars!r}")
        if isinstance(self.split, bool) or not isinstance(self.split, int | float) or not 0.1 <= self.split <= 0.95:
            raise ConfigError(f"data.split: expected a fraction in [0.1, 0.95], got {self.split!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class FundamentalConfig:
    """The fundamental value traders follow in a market scenario, one value per step, in ticks.

    Attributes:
        source: ``"constant"`` (the initial price), a generator name (``ou``, ``gbm``, ...) started
            at the initial price, or a price file whose closes are scaled to start there.
        seed: the generator's seed.
        params: the generator's parameters.
        jump_at: a step at which news moves the fundamental, or None.
        jump: the news' relative size (0.05: five percent up).
    """

    source: str = "constant"
    seed: int = 0
    params: tuple[tuple[str, Any], ...] = ()
    jump_at: int | None = None
    jump: float = 0.0

    def __post_init__(self) -> None:
        if self.jump_at is not None and (type(self.jump_at) is not int or self.jump_at < 0):
            raise ConfigError(f"fundamental.jump_at: expected a step >= 0, got {self.jump_at!r}")
        if isinstance(self.jump, bool) or not isinstance(self.jump, int | float) or not -0.9 < self.jump < 10:
            raise ConfigError(f"fundamental.jump: expected a relative size in (-0.9, 10), got {self.jump!r}")

    def path(self, steps: int, initial_price: int) -> tuple[float, ...]:
        """``steps + 1`` fundamental values in ticks."""
        import numpy as np

        from market.data import load_prices, synthetic

        if self.jump_at is not None and self.jump_at >= steps:
            raise ConfigError(f"fundamental.jump_at: step {self.jump_at:,} is not within the episode's {steps:,} steps (market.max_steps): the news would never come")
        if self.source == "constant":
            values = np.full(steps + 1, float(initial_price))
        elif self.source in synthetic.GENERATORS:
            params = {"mean": float(initial_price), **dict(self.params)} if self.source == "ou" else dict(self.params)
            try:
                frame = synthetic.generate(self.source, np.random.default_rng(self.seed), steps + 1, s0=float(initial_price), **params)
            except ConfigError as error:
                raise ConfigError(f"fundamental.params: {error}") from None
            values = frame["close"].to_numpy(dtype=np.float64)
        else:
            if not Path(self.source).is_file():
                choices = ["constant", *synthetic.GENERATORS]
                raise ConfigError(
                    f"fundamental.source: {self.source!r} is neither one of {choices} nor a price file that exists{suggest(self.source, choices)}"
                )
            closes = load_prices(self.source)["close"].to_numpy(dtype=np.float64)
            values = closes[: steps + 1] / closes[0] * float(initial_price)
        if self.jump_at is not None:
            values[self.jump_at :] *= 1.0 + self.jump
        return tuple(float(v) for v in values)


def _check_named_policy(entry: Any, section: str) -> None:
    """A strategy entry (a baseline, a league strategy) has an identifier for a name and names a
    population and a policy."""
    if not isinstance(entry.name, str) or not entry.name.isidentifier():
        raise ConfigError(f"{section}.name: expected an identifier, got {entry.name!r}")
    for key in ("population", "policy"):
        if not isinstance(getattr(entry, key), str):
            raise ConfigError(f"{section}.{entry.name}.{key}: expected a name, got {getattr(entry, key)!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class BaselineConfig:
    """A scripted strategy played in place of a learning population on the same held-out seeds.

    Attributes:
        name: the strategy's label in the metrics (``strategy/<name>/...``, ``vs/<name>/...``).
        population: the learning population whose agents it drives instead of the trained policy.
        policy: a scripted policy's name (``market_maker``, ``avellaneda_stoikov``, ...), of that
            population's role.
        params: the policy's parameters.
    """

    name: str
    population: str
    policy: str
    params: tuple[tuple[str, Any], ...] = ()

    def __post_init__(self) -> None:
        _check_named_policy(self, "evaluation.baselines")


@dataclass(frozen=True, slots=True, kw_only=True)
class ReferenceConfig:
    """Published figures to set beside a run's own, for example a paper's table that the scenario replays.

    Attributes:
        source: where the figures come from (a paper and its table).
        columns: the metrics they are, per-population metric names of the run (``maker_pnl``,
            ``maker_pnl_std``, ``maker_quoted_spread``, ``maker_final_inventory``, ...).
        rows: per strategy label (the scenario's ``evaluation.label`` or a baseline's name), one
            value per column, in price units (the run converts its ticks with the market's tick_value).
    """

    source: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, Any], ...]

    def __post_init__(self) -> None:
        if not isinstance(self.source, str) or not self.source.strip():
            raise ConfigError(f"evaluation.reference.source: expected where the figures come from, got {self.source!r}")
        if not self.columns or not all(isinstance(c, str) and c for c in self.columns):
            raise ConfigError(f"evaluation.reference.columns: expected metric names, got {list(self.columns)!r}")
        for label, values in self.rows:
            ok = isinstance(values, list | tuple) and len(values) == len(self.columns)
            if not ok or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
                raise ConfigError(f"evaluation.reference.rows.{label}: expected {len(self.columns)} numbers (one per column), got {values!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class EvaluationConfig:
    """How the trained populations are evaluated: episodes per seed (held-out seeds) and seeds.

    ``vary`` names a population whose size changes across evaluations (``counts``): the trained
    policy of that population plays with each count in turn, so that a story can show, say, how
    the spread and the makers' profit change with the number of makers.

    ``explore`` makes the learning populations sample their actions from the trained policy's
    distribution (seeded per agent) instead of taking its mode: agents sharing one policy then act as
    individuals, as they did in training, rather than as copies quoting one price.

    ``without_rules`` names market rules (``circuit_breaker``, ``short_sale_ban``,
    ``transaction_tax_bps``, ``tick_size``) to switch off in a second evaluation on the same seeds, one
    rule at a time, so that a story shows its figures with and without each rule (metrics prefixed
    ``without_<rule>/``).

    ``baselines`` are scripted strategies played in place of a population on the same seeds,
    everything else equal (metrics prefixed ``strategy/<name>/``), with the paired difference
    learned minus baseline of each figure per seed (``vs/<name>/``, mean and 95% interval).

    ``label`` names the market as written in comparisons ("learned" by default when the scenario
    trains, "scenario" when it does not); ``reference`` holds published figures to compare with.

    ``training_seeds`` trains the learning populations that many times, with seeds 0, 1, ..., and
    evaluates each: every figure is then the mean over the training seeds with a 95% interval over
    them (never the best seed), and each seed's own under ``seed_<k>/``.

    ``rules`` (trading scenarios) backtests hand-written rules (``sma_crossover``, ``mean_reversion``,
    ``buy_and_hold``, ``random``) on the same held-out period: ``strategy/<rule>/<metric>``, and the
    learned policy's difference from each, ``vs/<rule>/<metric>``, with its interval over the seeds.
    Portfolio scenarios name portfolio baselines there (``equal_weight``, ``buy_and_hold``,
    ``inverse_volatility``, ``min_variance``, ``momentum``).
    """

    episodes: int = 1
    seeds: int = 1
    vary: str | None = None
    counts: tuple[int, ...] = ()
    explore: bool = False
    without_rules: tuple[str, ...] = ()
    baselines: tuple[BaselineConfig, ...] = ()
    label: str = ""
    reference: ReferenceConfig | None = None
    training_seeds: int = 1
    rules: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        limits.check_size("evaluation.training_seeds", self.training_seeds, limits.MAX_TRAINING_SEEDS)
        if not isinstance(self.label, str) or (self.label and not self.label.isidentifier()):
            raise ConfigError(f"evaluation.label: expected an identifier, got {self.label!r}")
        if (self.vary is None) != (not self.counts) or any(type(c) is not int or c < 1 for c in self.counts):
            raise ConfigError(f"evaluation.counts: expected positive counts together with evaluation.vary, got vary={self.vary!r} counts={list(self.counts)!r}")
        rules = [f.name for f in dataclasses.fields(RulesConfig)]
        for rule in self.without_rules:
            if rule not in rules:
                raise ConfigError(f"evaluation.without_rules: unknown rule {rule!r}{suggest(str(rule), rules)}; expected some of {rules}")
        if type(self.explore) is not bool:
            raise ConfigError(f"evaluation.explore: expected true or false, got {self.explore!r}")
        for key in ("episodes", "seeds"):
            limits.check_size(f"evaluation.{key}", getattr(self, key), limits.MAX_SEEDS)
        limits.check_size("evaluation.episodes x evaluation.seeds", self.episodes * self.seeds, limits.MAX_SEEDS)
        limits.check_size("evaluation.counts (how many)", len(self.counts), limits.MAX_EVALUATION_COUNTS, minimum=0)
        for count in self.counts:
            limits.check_size("evaluation.counts", count, limits.MAX_AGENTS_PER_POPULATION)


@dataclass(frozen=True, slots=True, kw_only=True)
class LeagueStrategyConfig:
    """A scripted strategy (or a frozen checkpoint) in a learning population's league pool.

    Attributes:
        name: the strategy's label in the league's tables.
        population: the learning population whose agents may play it.
        policy: a scripted policy's name of that population's role, or ``checkpoint:PATH#MODULE``.
        params: the scripted policy's parameters.
    """

    name: str
    population: str
    policy: str
    params: tuple[tuple[str, Any], ...] = ()

    def __post_init__(self) -> None:
        _check_named_policy(self, "league.strategies")


@dataclass(frozen=True, slots=True, kw_only=True)
class LeagueConfig:
    """What ``market league`` plays: the strategies of each learning population's pool beside its
    ``evaluation.baselines``, the generations of the loop and the held-out seeds each adds.

    Attributes:
        strategies: more strategies per learning population (``[[league.strategies]]``).
        generations: rounds of the loop (estimate payoffs, solve, train best responses, report).
        seeds: held-out seeds each generation adds to every profile's estimate.
        best_response_iterations: PPO iterations of each generation's best response (0: none, the
            league then only plays its pools).
    """

    strategies: tuple[LeagueStrategyConfig, ...] = ()
    generations: int = 3
    seeds: int = 4
    best_response_iterations: int = 10

    def __post_init__(self) -> None:
        limits.check_size("league.best_response_iterations", self.best_response_iterations, limits.MAX_ITERATIONS, minimum=0)
        limits.check_size("league.generations", self.generations, limits.MAX_ITERATIONS)
        limits.check_size("league.seeds", self.seeds, limits.MAX_SEEDS)


@dataclass(frozen=True, slots=True, kw_only=True)
class ScenarioConfig:
    """A whole scenario file. ``market``, ``trading``, ``portfolio`` and ``training`` are checked against
    MarketConfig, TradingEnvConfig, PortfolioEnvConfig and TrainingConfig when the file is loaded."""

    scenario: ScenarioInfo
    market: dict[str, Any] = field(default_factory=dict)
    populations: tuple[PopulationConfig, ...] = ()
    background: tuple[PopulationConfig, ...] = ()
    trading: dict[str, Any] = field(default_factory=dict)
    portfolio: dict[str, Any] = field(default_factory=dict)
    data: DataConfig = field(default_factory=DataConfig)
    fundamental: FundamentalConfig | None = None
    training: dict[str, Any] = field(default_factory=dict)
    evaluation: EvaluationConfig = field(default_factory=EvaluationConfig)
    league: LeagueConfig = field(default_factory=LeagueConfig)
    quick: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.scenario.name

    @property
    def kind(self) -> ScenarioKind:
        return self.scenario.kind

    def market_config(self) -> MarketConfig:
        """The MarketConfig of a market scenario: the [market] table plus every population."""
        for population in self.populations:
            if not population.learner:
                raise ConfigError(f"populations.{population.name}.policy: learning populations take no policy; put scripted ones under [[background]]")
        for population in self.background:
            if population.learner:
                raise ConfigError(f"background.{population.name}.policy: a background population needs a policy (noise, market_maker, momentum, value, shock)")
        data = {**self.market, "populations": [*self.populations, *self.background]}
        if self.fundamental is not None:
            probe = from_mapping(MarketConfig, data, "market")
            data["fundamental"] = self.fundamental.path(probe.max_steps, probe.initial_price)
        return from_mapping(MarketConfig, data, "market")

    @property
    def learns(self) -> bool:
        """True when the scenario trains: a trading scenario, or a market scenario with a learning population."""
        return self.kind is not ScenarioKind.MARKET or bool(self.populations)

    @property
    def label(self) -> str:
        """The name of the market as written in comparisons with baselines."""
        return self.evaluation.label or ("learned" if self.learns else "scenario")

    def iterations(self) -> int:
        """Training iterations (``training.iterations``, default 10)."""
        return limits.check_size("training.iterations", self.training.get("iterations", 10), limits.MAX_ITERATIONS)


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """``over`` laid onto ``base``: tables merge key by key, anything else replaces."""
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merge(dict(merged[key]), value)
        else:
            merged[key] = value
    return merged


def bundled_scenarios() -> dict[str, Path]:
    """The bundled scenario files (:data:`SCENARIOS_DIR`), by name."""
    return {p.stem: p for p in sorted(SCENARIOS_DIR.glob(f"*{SUFFIX}"))}


def resolve(name_or_path: str) -> Path:
    """A scenario name (bundled) or a path to a ``.toml`` file.

    Raises:
        ConfigError: for an unknown name (with a near match) or a missing file.
    """
    if name_or_path.endswith(SUFFIX) or "/" in name_or_path:
        path = Path(name_or_path)
        if not path.is_file():
            raise ConfigError(f"{path}: scenario file not found")
        return path
    bundled = bundled_scenarios()
    if name_or_path not in bundled:
        raise ConfigError(f"scenario {name_or_path!r} not found{suggest(name_or_path, list(bundled))}; bundled: {', '.join(bundled)}")
    return bundled[name_or_path]


def read_toml(path: Path) -> dict[str, Any]:
    """Parse a TOML file, refusing oversized files and turning parse errors into one line."""
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise ConfigError(f"{path}: {size:,} bytes is larger than a scenario file may be ({MAX_FILE_BYTES:,})")
    try:
        return tomllib.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as error:
        raise ConfigError(f"{path}: not UTF-8 text (byte {error.start})") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: {error}") from None
    except RecursionError:
        raise ConfigError(f"{path}: nested too deeply to be a scenario file") from None


def load_scenario(name_or_path: str, *, quick: bool = False) -> ScenarioConfig:
    """Load and check a scenario file as written; with ``quick``, then apply its quick overrides and check again.

    The file is checked whole first, so a bad value fails in every mode (a quick run must not pass a
    file that a full run refuses), and an override is named ``quick.<key>`` when it is the problem.

    Raises:
        ConfigError: naming the file and the key path of the first problem.
    """
    path = resolve(name_or_path)
    raw = read_toml(path)
    try:
        scenario = _checked(raw, "")
        if not quick:
            return scenario
        overrides = raw.get("quick", {})
        return _checked(_merge(raw, overrides), "quick.")
    except ConfigError as error:
        raise ConfigError(f"{path}: {error}") from None
    except RecursionError:
        raise ConfigError(f"{path}: nested too deeply to be a scenario file") from None


def _checked(raw: Mapping[str, Any], prefix: str) -> ScenarioConfig:
    """The scenario of a parsed file, checked; ``prefix`` names where the values came from in messages."""
    try:
        scenario = from_mapping(ScenarioConfig, raw)
        _check(scenario)
    except ConfigError as error:
        raise ConfigError(f"{prefix}{error}") from None
    return scenario


_SET_BY_SCENARIO = ("env", "env_config", "eval_env_config")


def training_settings(scenario: ScenarioConfig) -> dict[str, Any]:
    """The [training] table without ``iterations`` (a stop criterion, not a TrainingConfig field)."""
    for key in _SET_BY_SCENARIO:
        if key in scenario.training:
            raise ConfigError(f"training.{key}: set by the scenario itself ([scenario] kind, [market], [trading] or [portfolio], [data])")
    return {k: v for k, v in scenario.training.items() if k != "iterations"}


def _check(scenario: ScenarioConfig) -> None:
    """Validate the free-form tables against the configs they feed, so errors surface at load time."""
    from market.agents.trained import module_dir
    from market.training.configs import TrainingConfig
    from market.training.envs import checkpoint_reference

    scenario.iterations()
    if scenario.kind is ScenarioKind.MARKET:
        if scenario.trading:
            raise ConfigError("trading: a market scenario takes a [market] table, not [trading]")
        config = scenario.market_config()
        for population in scenario.background:  # policies check their params and checkpoints now, not mid-run
            reference = checkpoint_reference(population.policy, population.name)  # type: ignore[arg-type]
            if reference is None:
                build_policy(population.policy, population.param_dict, window=config.window, population=population.name, **population_limits(population))  # type: ignore[arg-type]
                continue
            try:
                module_dir(*reference)
            except ConfigError as error:
                raise ConfigError(f"background.{population.name}.policy: {error}") from None
        _check_evaluation(scenario, config)
    else:
        kind = scenario.kind.value
        own, other = (scenario.trading, scenario.portfolio) if scenario.kind is ScenarioKind.TRADING else (scenario.portfolio, scenario.trading)
        if scenario.market or scenario.populations or scenario.background or other:
            raise ConfigError(f"market: a {kind} scenario takes [{kind}] and [data] tables, not [market], populations or [{'portfolio' if kind == 'trading' else 'trading'}]")
        if "data" in own:
            raise ConfigError(f"{kind}.data: prices come from the [data] table")
        if scenario.kind is ScenarioKind.TRADING:
            from market.agents.baselines.trading import BASELINES as rules

            from_mapping(TradingEnvConfig, own, kind)
            _check_data(scenario.data)
        else:
            from market.agents.baselines.portfolio import PORTFOLIO_BASELINES as rules
            from market.envs.portfolio_config import PortfolioEnvConfig

            from_mapping(PortfolioEnvConfig, own, kind)
            _check_panel_data(scenario.data)
        for rule in scenario.evaluation.rules:
            if rule not in rules:
                raise ConfigError(f"evaluation.rules: unknown rule {rule!r}{suggest(str(rule), list(rules))}; known: {list(rules)}")
    from_mapping(TrainingConfig, training_settings(scenario), "training")


def _check_evaluation(scenario: ScenarioConfig, config: MarketConfig) -> None:
    """The evaluation of a market scenario names real populations, and every market it plays is valid;
    its baselines and scripted league strategies are policies of their population's role with valid
    parameters."""
    from market.agents.scripted import strategy_policy_of
    from market.training.envs import CHECKPOINT_PREFIX

    evaluation = scenario.evaluation
    names = [p.name for p in config.populations]
    populations = {p.name: p for p in config.populations}
    labels = [scenario.label, *(b.name for b in evaluation.baselines)]
    if len(set(labels)) != len(labels):
        raise ConfigError(f"evaluation.baselines: expected unique names, not the same as evaluation.label, got {labels}")
    learners = {p.name: p for p in config.populations if p.learner}
    strategies = [(f"evaluation.baselines.{b.name}", b, populations, "population") for b in evaluation.baselines]
    # a league's strategies are played by learning populations; its checkpoints load when a league starts
    strategies += [(f"league.strategies.{s.name}", s, learners, "learning population") for s in scenario.league.strategies if not s.policy.startswith(CHECKPOINT_PREFIX)]
    for key, strategy, allowed, kind in strategies:
        if strategy.population not in allowed:
            raise ConfigError(f"{key}.population: {strategy.population!r} is not a {kind} of this market{suggest(strategy.population, list(allowed))}; {kind}s: {list(allowed)}")
        strategy_policy_of(key, strategy.policy, strategy.params, allowed[strategy.population], window=config.window)
    if evaluation.reference is not None:
        for label, _ in evaluation.reference.rows:
            if label not in labels:
                raise ConfigError(f"evaluation.reference.rows.{label}: not a strategy of this evaluation{suggest(label, labels)}; strategies: {labels}")
    if evaluation.vary is not None:
        if evaluation.vary not in names:
            raise ConfigError(f"evaluation.vary: {evaluation.vary!r} is not a population of this market{suggest(evaluation.vary, names)}; populations: {names}")
        for count in evaluation.counts:  # the market at each count must be valid too (agents in all)
            populations = tuple(dataclasses.replace(p, count=count) if p.name == evaluation.vary else p for p in config.populations)
            try:
                dataclasses.replace(config, populations=populations)
            except ConfigError as error:
                raise ConfigError(f"evaluation.counts: with {count:,} {evaluation.vary} agents: {error}") from None


def _check_panel_data(data: DataConfig) -> None:
    """The [data] table of a portfolio scenario names the bundled panel, or a folder or wide CSV that exists."""
    if data.source != "sample" and not Path(data.source).exists():
        raise ConfigError(f"data.source: {data.source!r} is neither 'sample' (the bundled panel) nor a folder of price files or a wide CSV of closes that exists")


def _check_data(data: DataConfig) -> None:
    """The [data] table names the sample, a generator with valid parameters, or a price file that exists."""
    import numpy as np

    from market.data import synthetic

    if data.source == "sample":
        return
    if data.source in synthetic.GENERATORS:
        try:  # the parameters are checked by generating the bars (milliseconds), as the run will
            synthetic.generate(data.source, np.random.default_rng(data.seed), data.bars, **dict(data.params))
        except ConfigError as error:
            raise ConfigError(f"data.params: {error}") from None
        return
    if not Path(data.source).is_file():
        choices = ["sample", *synthetic.GENERATORS]
        raise ConfigError(f"data.source: {data.source!r} is neither one of {choices} nor a price file that exists{suggest(data.source, choices)}")
