"""Training runs: connect to Ray, train, checkpoint, resume, evaluate, and record.

``train`` drives an RLlib algorithm built by :mod:`market.training.configs` until a stop criterion
holds, saving a checkpoint every N iterations and at the end (with the settings and the curves so
far, so that a resumed run continues its iteration count and curves), evaluating on held-out data
(TradingEnv: a later period; MarketEnv: held-out seeds) with deterministic actions, and writing one
run record: the training curves, the final evaluation episode and its metrics.
"""

from __future__ import annotations

import json
import logging
import math
import os
import signal
import shutil
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from market import limits
from market.agents.trained import TrainedPolicy
from market.errors import ConfigError, Interrupted, MarketError
from market.records import RunWriter
from market.records.files import to_jsonable
from market.records.schema import CHECKPOINTS_DIR, ENV_STEPS, ITERATION, KEY, KIND_TRAIN, TIME_S, TRAINING, VALUE
from market.training.configs import SINGLE_AGENT_MODULE, EnvKind, TrainingConfig, build_algorithm, learning_modules, seed_replay_buffer, stop_algorithm
from market.training.envs import make_market_env, register_envs
from market.training.tracking import Tracker

SETTINGS_FILE = "market_training.json"
"""Written into every checkpoint: the TrainingConfig and the curves so far."""

EVAL_PREFIX = "eval/"
RETURN_PREFIX = "return/"
LOSS_PREFIX = "loss/"
_LOSS_KEYS = ("total_loss", "policy_loss", "vf_loss", "entropy", "qf_loss", "actor_loss", "alpha_loss", "mean_kl_loss")


@dataclass(frozen=True, slots=True, kw_only=True)
class StopConfig:
    """When a run stops: whichever of these comes first (None: not a criterion)."""

    iterations: int | None = 10
    timesteps: int | None = None
    target_reward: float | None = None

    def __post_init__(self) -> None:
        for key, limit in (("iterations", limits.MAX_ITERATIONS), ("timesteps", limits.MAX_TIMESTEPS)):
            value = getattr(self, key)
            if value is not None:
                limits.check_size(key, value, limit)
        if self.target_reward is not None:
            limits.check_finite("target_reward", self.target_reward)
        if self.iterations is None and self.timesteps is None and self.target_reward is None:
            raise ConfigError("stop: give at least one of iterations, timesteps or target_reward")


@dataclass(frozen=True, slots=True)
class IterationReport:
    """What one training iteration did, for the progress display and the training table."""

    iteration: int
    env_steps: int
    time_s: float
    steps_per_s: float
    returns: dict[str, float]
    losses: dict[str, float]
    evaluation: dict[str, float] = field(default_factory=dict)

    def rows(self) -> list[tuple[int, int, float, str, float]]:
        """Long-format rows of the training table: (iteration, env_steps, time_s, key, value)."""
        values = {
            **{RETURN_PREFIX + k: v for k, v in self.returns.items()},
            **{LOSS_PREFIX + k: v for k, v in self.losses.items()},
            **{EVAL_PREFIX + k: v for k, v in self.evaluation.items()},
            "steps_per_s": self.steps_per_s,
        }
        return [(self.iteration, self.env_steps, self.time_s, k, float(v)) for k, v in values.items()]


@dataclass(frozen=True, slots=True)
class TrainResult:
    """Where a run ended: its record, its last checkpoint, and its final evaluation."""

    run_path: Path
    checkpoint: Path
    iterations: int
    env_steps: int
    evaluation: dict[str, float]


RAY_LOGGER = "ray"
"""The logger under which Ray, RLlib and Tune log (``ray.rllib``, ``ray.tune`` ... below it)."""


class RayLogRouter(logging.Handler):
    """Where Ray's log records go: the terminal at ``terminal_level``, and every record to a file if given."""

    def __init__(self, terminal_level: int, log_file: Path | None) -> None:
        super().__init__(logging.DEBUG)
        formatter = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
        self.terminal = logging.StreamHandler()
        self.terminal.setLevel(terminal_level)
        self.file: logging.FileHandler | None = None
        if log_file is not None:  # opened at the first record: a run refused before Ray starts writes nothing
            self.file = logging.FileHandler(log_file, delay=True)
        for handler in (self.terminal, self.file):
            if handler is not None:
                handler.setFormatter(formatter)

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= self.terminal.level:
            self.terminal.handle(record)
        if self.file is not None:
            Path(self.file.baseFilename).parent.mkdir(parents=True, exist_ok=True)
            self.file.handle(record)

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
        super().close()


def connect(address: str | None, *, verbose: bool = False, log_file: Path | None = None) -> None:
    """Start a local Ray (all cores) or join the cluster at ``address``.

    Ray's and RLlib's own messages (token authentication, API stack, deprecations, GPU monitoring)
    are kept off the terminal unless ``verbose`` (errors always show); they all go to ``log_file`` if
    one is given. A Ctrl-C while Ray starts is held until it has started, then raised (Ray's core can
    crash when interrupted half-way).

    Raises:
        MarketError: when no cluster answers at ``address``, in one line.
    """
    import ray

    if ray.is_initialized():
        return
    router = RayLogRouter(logging.INFO if verbose else logging.ERROR, log_file)
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    # ray.init drops every handler of the "ray" logger and then logs with none: Python's last-resort
    # handler would print those records, so the router stands in for it until Ray is up
    last_resort, logging.lastResort = logging.lastResort, router
    try:
        with interrupts_deferred():
            if address:
                _probe(address)
                try:
                    ray.init(address=address, log_to_driver=verbose, configure_logging=False)
                except Exception as error:  # ConnectionError, or Ray's own errors for a dead or foreign address
                    raise MarketError(f"--address {address}: no Ray cluster answered ({type(error).__name__})") from None
            else:
                ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=verbose, configure_logging=False)
    finally:
        logging.lastResort = last_resort
    route_ray_logs(router)


def route_ray_logs(router: logging.Handler | None = None) -> None:
    """Send every Ray, RLlib and Tune log record through one router (the one :func:`connect` made).

    RLlib and Tune attach terminal handlers of their own to their loggers when imported; those are
    removed and the records passed up to the ``ray`` logger, whose only handler is the router. Called
    again after an algorithm is built, since building imports more of them.
    """
    root = logging.getLogger(RAY_LOGGER)
    if router is None:
        router = next((h for h in root.handlers if isinstance(h, RayLogRouter)), None)
        if router is None:
            return
    for handler in list(root.handlers):
        if handler is not router:
            root.removeHandler(handler)
    if router not in root.handlers:
        root.addHandler(router)
    root.setLevel(logging.INFO)
    root.propagate = False
    for name, logger in list(logging.Logger.manager.loggerDict.items()):
        if name.startswith(f"{RAY_LOGGER}.") and isinstance(logger, logging.Logger):
            for handler in list(logger.handlers):
                logger.removeHandler(handler)
            logger.propagate = True


@contextmanager
def interrupts_deferred() -> Iterator[None]:
    """Hold Ctrl-C (SIGINT) for the duration of the block, then raise it as KeyboardInterrupt.

    Starting Ray and building an algorithm set up native code and threads; a KeyboardInterrupt raised
    half-way through them has ended the process with a segmentation fault. While the block runs, a
    SIGINT is only noted; leaving the block raises it. Outside the main thread this does nothing
    (Python runs signal handlers in the main thread only).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if received:
        raise KeyboardInterrupt


def _probe(address: str) -> None:
    """Fail fast when nothing listens at a ``host:port`` address (ray.init retries for a long time)."""
    import socket

    host, _, port = address.rpartition(":")
    if "://" in address or not port.isdigit():
        return
    try:
        with socket.create_connection((host or "127.0.0.1", int(port)), timeout=3):
            pass
    except OSError:
        raise MarketError(f"--address {address}: no Ray cluster answered (nothing listens there)") from None


def _report(result: Mapping[str, Any], started: float, previous_steps: int, previous_time: float) -> IterationReport:
    """Pick the main figures out of RLlib's result dict."""
    runners = result.get("env_runners", {})
    env_steps = int(runners.get("num_env_steps_sampled_lifetime", 0))
    now = time.perf_counter()
    elapsed = now - previous_time
    returns: dict[str, float] = {}
    per_module = runners.get("module_episode_returns_mean", {})
    if isinstance(per_module, Mapping) and len(per_module) > 1:
        returns.update({str(k): float(v) for k, v in per_module.items()})
    if "episode_return_mean" in runners:
        returns["mean"] = float(runners["episode_return_mean"])
    losses: dict[str, float] = {}
    for module, values in result.get("learners", {}).items():
        if module.startswith("__") or not isinstance(values, Mapping):
            continue
        for key in _LOSS_KEYS:
            if key in values:
                losses[f"{module}/{key}"] = float(values[key])
    return IterationReport(
        iteration=int(result["training_iteration"]),
        env_steps=env_steps,
        time_s=now - started,
        steps_per_s=(env_steps - previous_steps) / elapsed if elapsed > 0 else 0.0,
        returns=returns,
        losses=losses,
    )


# ---------------------------------------------------------------------------- evaluation
def evaluate_trading(policy: TrainedPolicy, settings: TrainingConfig) -> tuple[dict[str, float], Any]:
    """Backtest ``policy`` on the held-out period; returns its metrics (with buy and hold's) and the result."""
    from market.backtest.engine import run_backtest
    from market.envs.trading import TradingEnvConfig

    config = TradingEnvConfig.from_mapping({**settings.env_config, **settings.eval_env_config})  # data None: the bundled sample
    result = run_backtest(policy, config, seed=settings.eval_seed)
    metrics = {k: v for k, v in result.metrics.items() if isinstance(v, float)}
    metrics.update({f"buy_and_hold_{k}": v for k, v in result.benchmark_metrics.items() if k in ("sharpe_ratio", "total_return")})
    return metrics, result


PORTFOLIO_COMPARED = ("sharpe_ratio", "total_return", "max_drawdown", "turnover_per_year", "mean_holdings")
"""The figures a portfolio evaluation sets beside equal weight's and each baseline's."""


def evaluate_portfolio(policy: TrainedPolicy, settings: TrainingConfig) -> tuple[dict[str, float], Any]:
    """Backtest ``policy`` on the held-out period of a panel; returns its metrics (with equal weight's) and the result."""
    from market.backtest.portfolio import BENCHMARK, run_portfolio_backtest
    from market.envs.portfolio_config import PortfolioEnvConfig

    config = PortfolioEnvConfig.from_mapping({**settings.env_config, **settings.eval_env_config})  # data None: the bundled panel
    result = run_portfolio_backtest(policy, config, seed=settings.eval_seed)
    metrics = {k: v for k, v in result.play.metrics.items() if isinstance(v, float)}
    metrics.update({f"{BENCHMARK}_{k}": v for k, v in result.benchmark.metrics.items() if k in PORTFOLIO_COMPARED})
    return metrics, result


def evaluate_market(policies: Mapping[str, Any], settings: TrainingConfig, episodes: int = 2) -> dict[str, float]:
    """Per learning population, over held-out seeds with deterministic actions: the mean episode return
    (final over starting equity, minus 1) and the mean spread capture (what its agents earned as makers
    against the mid, in ticks x lots; see ``MarketRunSummary``). ``policies`` are keyed by module:
    population or agent."""
    from market.simulation import run_market

    learners = [p.name for p in settings.market_config().populations if p.learner]
    totals: dict[str, list[float]] = {}
    for k in range(episodes):
        summary = run_market(make_market_env(settings.env_config), policies, seed=settings.eval_seed + k)
        for name in learners:
            totals.setdefault(f"{name}_mean_return", []).append(summary.mean_return[name])
            totals.setdefault(f"{name}_spread_capture", []).append(summary.spread_capture[name])
    return {key: float(np.mean(values)) for key, values in totals.items()}


def _live_policies(algo: Any, settings: TrainingConfig) -> dict[str, TrainedPolicy]:
    return {m: TrainedPolicy(algo.get_module(m)) for m in learning_modules(settings)}


def evaluate(algo: Any, settings: TrainingConfig) -> dict[str, float]:
    """Held-out evaluation of the algorithm's current modules."""
    policies = _live_policies(algo, settings)
    if settings.env is EnvKind.TRADING:
        return evaluate_trading(policies[SINGLE_AGENT_MODULE], settings)[0]
    if settings.env is EnvKind.PORTFOLIO:
        return evaluate_portfolio(policies[SINGLE_AGENT_MODULE], settings)[0]
    return evaluate_market(policies, settings)


# ---------------------------------------------------------------------------- checkpoints
def save_checkpoint(algo: Any, folder: Path, settings: TrainingConfig, rows: list[tuple]) -> Path:
    """Save the algorithm, the settings and the curves so far into ``folder``."""
    folder = Path(folder).resolve()  # RLlib reads a relative path as a URI and refuses it
    algo.save_to_path(str(folder))
    payload = {"settings": _settings_dict(settings), "training_rows": rows}
    (folder / SETTINGS_FILE).write_text(json.dumps(to_jsonable(payload, SETTINGS_FILE)))
    return folder


def _settings_dict(settings: TrainingConfig) -> dict[str, Any]:
    data = asdict(settings)
    for key in ("env_config", "eval_env_config"):
        data[key] = {k: (_data_name(v) if k == "data" and v is not None and not isinstance(v, str) else v) for k, v in data[key].items()}
    return data


def _data_name(data: Any) -> str:
    """How a ``data`` setting that is not a path is named in the stored settings (a frame or a panel)."""
    assets = getattr(data, "assets", None)
    if assets is not None:
        return f"a panel of {len(assets)} assets ({', '.join(assets[:5])}{', ...' if len(assets) > 5 else ''}), {len(data.times)} bars"
    return str(data)


def read_checkpoint_settings(path: Path, flag: str = "--resume") -> tuple[TrainingConfig, list[tuple]]:
    """The TrainingConfig and curves stored with a checkpoint made by ``train``.

    Raises:
        ConfigError: when the folder is missing or was not written by ``market train``.
    """
    from market.training.configs import training_config_from

    file = Path(path) / SETTINGS_FILE
    if not Path(path).is_dir():
        raise ConfigError(f"{flag} {path}: checkpoint folder not found")
    if not file.is_file():
        raise ConfigError(f"{flag} {path}: not a checkpoint written by market train (no {SETTINGS_FILE})")
    payload = json.loads(file.read_text())
    return training_config_from(payload["settings"], "checkpoint settings"), [tuple(r) for r in payload["training_rows"]]


# ---------------------------------------------------------------------------- the run
def train(
    settings: TrainingConfig,
    stop: StopConfig,
    *,
    out: Path,
    name: str,
    checkpoint_every: int = 0,
    eval_every: int = 0,
    resume: Path | None = None,
    address: str | None = None,
    on_iteration: Callable[[IterationReport], None] | None = None,
    writer: RunWriter | None = None,
    tracker: Tracker | None = None,
    row_prefix: str = "",
) -> TrainResult:
    """Train until ``stop``, checkpointing, evaluating and recording as it goes.

    Args:
        settings: what to train and how.
        stop: when to stop.
        out: the runs folder; the record goes to ``out/name`` and checkpoints to ``out/checkpoints/name``.
        name: the run's name.
        checkpoint_every: save a checkpoint every N iterations (0: only at the end).
        eval_every: evaluate on held-out data every N iterations (0: only at the end).
        resume: a checkpoint of an earlier run to continue (its iteration count and curves go on).
        address: a Ray cluster to join instead of starting a local Ray.
        on_iteration: called after every iteration (the CLI's progress display).
        row_prefix: put before every key of the training rows written to ``writer`` (a scenario
            training several seeds into one record names the later ones ``seed_<k>/``).
        writer: an open run record to train into (a scenario's); the caller then records the
            evaluation. Without one, ``train`` writes its own record, final episode included.
        tracker: sends every iteration's rows (and, for a run of its own, the final evaluation) to
            TensorBoard and MLflow; the caller opens and closes it.

    Returns:
        The run record, the last checkpoint and the final evaluation.
    """
    from ray.rllib.algorithms.algorithm import Algorithm

    for key, value in (("checkpoint_every", checkpoint_every), ("eval_every", eval_every)):
        limits.check_size(key, value, limits.MAX_ITERATIONS, minimum=0)
    rows: list[tuple] = []
    if resume is not None:
        stored, rows = read_checkpoint_settings(resume)
        if stored.env is not settings.env or stored.algo is not settings.algo:
            raise ConfigError(
                f"--resume {resume}: the checkpoint trained {stored.algo} on the {stored.env} env, not {settings.algo} on the {settings.env} env"
            )
        settings = stored
    checkpoints = Path(out) / CHECKPOINTS_DIR / name
    if checkpoints.exists():
        raise ConfigError(f"{checkpoints}: already exists; choose another run name")
    algo = None
    report: IterationReport | None = None
    checkpoint = checkpoints
    try:
        connect(address)  # a Ctrl-C while Ray starts is raised here, once it has started
        register_envs()
        with interrupts_deferred():  # a Ctrl-C while the algorithm loads is raised once it has loaded
            if resume is not None:
                algo = Algorithm.from_checkpoint(str(Path(resume).resolve()))
                seed_replay_buffer(algo, settings.seed + algo.iteration)  # a resumed run draws on, not the first draws again
            else:
                algo = build_algorithm(settings)
        route_ray_logs()  # building imported more of RLlib, whose loggers print on their own
        started = previous_time = time.perf_counter()
        previous_steps = 0
        own = writer is None
        record = RunWriter(out, name, kind=KIND_TRAIN, config=_settings_dict(settings), seed=settings.seed) if own else nullcontext(writer)
        with record as writer:
            if rows:
                writer.append(TRAINING, _columns(rows))
            while True:
                result = algo.train()
                report = _report(result, started, previous_steps, previous_time)
                previous_steps, previous_time = report.env_steps, time.perf_counter()
                if eval_every and report.iteration % eval_every == 0:
                    report = _with_eval(report, evaluate(algo, settings))
                done = _stop_reached(stop, report)
                if done and not report.evaluation:
                    report = _with_eval(report, evaluate(algo, settings))
                new_rows = report.rows()
                rows.extend(new_rows)
                shown = [(i, n, t, row_prefix + k, v) for i, n, t, k, v in new_rows] if row_prefix else new_rows
                writer.append(TRAINING, _columns(shown))
                if tracker is not None:
                    tracker.log_rows(shown)
                if on_iteration is not None:
                    on_iteration(report)
                if checkpoint_every and report.iteration % checkpoint_every == 0 and not done:
                    save_checkpoint(algo, checkpoints / f"iter_{report.iteration:06d}", settings, rows)
                if done:
                    break
            checkpoint = save_checkpoint(algo, checkpoints / f"iter_{report.iteration:06d}", settings, rows)
            if own:
                _record_final_episode(writer, algo, settings)
                writer.set_metrics({**report.evaluation, "iterations": report.iteration, "env_steps": report.env_steps})
                if tracker is not None:
                    tracker.log_evaluation(report.evaluation, {}, step=report.iteration)
            writer.set_field("checkpoint", str(checkpoint))
    except KeyboardInterrupt:
        raise Interrupted(_interrupted_message(checkpoints)) from None
    finally:
        if algo is not None:
            with interrupts_deferred():
                stop_algorithm(algo)
    return TrainResult(Path(out) / name, checkpoint, report.iteration, report.env_steps, report.evaluation)


def _interrupted_message(checkpoints: Path) -> str:
    """What an interrupted run leaves: no run record; its checkpoints, if any were saved, to resume from.

    A checkpoint folder that a save was writing when the interrupt came is incomplete and is removed,
    as is the run's checkpoints folder when no checkpoint was saved.
    """
    saved = sorted(p for p in checkpoints.glob("iter_*") if (p / SETTINGS_FILE).is_file()) if checkpoints.is_dir() else []
    for partial in (p for p in checkpoints.glob("iter_*") if p not in saved) if checkpoints.is_dir() else ():
        shutil.rmtree(partial, ignore_errors=True)
    if not saved:
        shutil.rmtree(checkpoints, ignore_errors=True)
        return "the unfinished run was not recorded"
    return f"the unfinished run was not recorded; its last checkpoint is kept: continue with --resume {saved[-1]}"


def _with_eval(report: IterationReport, evaluation: dict[str, float]) -> IterationReport:
    return IterationReport(report.iteration, report.env_steps, report.time_s, report.steps_per_s, report.returns, report.losses, evaluation)


def _stop_reached(stop: StopConfig, report: IterationReport) -> bool:
    if stop.iterations is not None and report.iteration >= stop.iterations:
        return True
    if stop.timesteps is not None and report.env_steps >= stop.timesteps:
        return True
    mean = report.returns.get("mean", math.nan)
    return stop.target_reward is not None and math.isfinite(mean) and mean >= stop.target_reward


def _columns(rows: list[tuple]) -> dict[str, list]:
    columns = (ITERATION, ENV_STEPS, TIME_S, KEY, VALUE)
    return {column: [row[i] for row in rows] for i, column in enumerate(columns)}


def _record_final_episode(writer: RunWriter, algo: Any, settings: TrainingConfig) -> None:
    """The final evaluation episode, recorded: TradingEnv, the policy beside buy and hold on the
    held-out period; MarketEnv, one held-out seed with every agent's steps, the trades and the book."""
    policies = _live_policies(algo, settings)
    if settings.env is EnvKind.TRADING:
        from market.backtest.engine import record_steps

        _, result = evaluate_trading(policies[SINGLE_AGENT_MODULE], settings)
        record_steps(writer, result, policy="trained")
        return
    if settings.env is EnvKind.PORTFOLIO:
        from market.backtest.portfolio import record_portfolio

        _, played = evaluate_portfolio(policies[SINGLE_AGENT_MODULE], settings)
        record_portfolio(writer, played, policy="trained")
        return
    from market.simulation import run_market

    run_market(make_market_env(settings.env_config), policies, seed=settings.eval_seed, writer=writer)
