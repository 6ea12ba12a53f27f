"""Fitting the background ecology to real prices by the method of simulated moments.

The loss of a candidate ecology is ``(m_sim - m_real)' W (m_sim - m_real)``: ``m_real`` the moment
vector of the real returns (:mod:`market.calibration.moments`), ``m_sim`` the mean moment vector of
the candidate's simulated mid returns over ``S`` seeds, and ``W`` diagonal, one over the variance of
that difference, ``var (1 + 1/S)`` (one real path, and the mean of ``S`` simulated ones). Each
moment's ``var`` is the larger of two estimates: a block bootstrap of the real returns, and the
spread of the default ecology's ``2S`` runs. The bootstrap alone misses what one path of a slowly
moving market cannot show (the excess kurtosis of a few hundred returns varies far more from path to
path than within one), and a moment that looked precise only by that would dominate the loss. Each
term is then a squared z-score, and a candidate that matches within the noise has a loss near the
number of moments (six).

Every candidate is simulated on the same seeds (common random numbers: two candidates differ by
their parameters, not by their luck), and as many steps as the data has returns, after a short
warm-up that lets the book fill: kurtosis and the Hill index depend on the sample's length, so the
simulated samples have the real one's. The best candidate is then measured again, beside the
default ecology, on seeds the search never saw, so the reported fit is not the luck of the fitting
seeds.

Two of the parameters are the simulated market's scales rather than its traders': the starting price
in ticks (the traders' offsets are in ticks, so at a lower price every tick is a larger relative
move) and the simulated steps per bar of the data (the mid sampled every ``k`` steps, so a bar
aggregates ``k`` steps). Steps per bar multiply every simulation's cost, so they are searched only up
to :data:`MAX_SIMULATED_STEPS` steps per simulation.

The search is optuna's TPE sampler, seeded and sequential, so a seed gives the same trials, the same
fit and the same report. The default ecology is the first trial, so the fit is never worse than the
default on the fitting seeds.
"""

from __future__ import annotations

import math
import os
import signal
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from multiprocessing import get_context
from typing import Any

import numpy as np

from market.calibration.ecology_file import FittedEcology
from market.calibration.moments import MIN_RETURNS, MOMENT_KEYS, bootstrap_moments, moments
from market.envs.market_v0 import MarketEnv
from market.errors import ConfigError, DataError
from market.limits import MAX_SEEDS, check_size
from market.simulation.ecology import ECOLOGY, FUNDAMENTAL_PARAMS, INITIAL_PRICE, Archetype, SimulationSpec, scripted_market
from market.simulation.episode import play_episode

__all__ = [
    "DEFAULT_BUDGET",
    "DEFAULT_SEEDS",
    "MAX_BARS",
    "PARAMETERS",
    "Calibration",
    "Parameter",
    "calibrate",
    "ecology_of",
    "simulated_moments",
]

DEFAULT_BUDGET = 20
"""Candidate ecologies evaluated by default (each on ``seeds`` simulations): on the bundled hourly
sample (5,000 bars, 66 simulations of 5,100 or 10,100 steps, at one or two steps per bar) 379 s on
this 2-core machine with other jobs running, 16 of the 20 candidates at two steps per bar (near the
most :data:`MAX_SIMULATED_STEPS` allows), measured by ``scripts/calibration_figures.py``; on its
first 2,000 bars 195 s. A budget of 30 took 739 s under heavier load before steps per bar were
searched, over the 10 minutes a default run may take."""
DEFAULT_SEEDS = 3
"""Simulations per candidate by default."""
WARMUP_STEPS = 100
"""Steps simulated before the returns that are measured, while the makers' quotes fill the book."""
MAX_BARS = 50_000
"""Most bars a calibration accepts: every candidate simulates as many steps as the data has returns
(about a second per 1,000 steps here), so longer files should be cut to the period of interest."""
PENALTY = 1e9
"""Loss of a candidate whose simulation has an undefined moment (a mid that never moves)."""
BOOTSTRAP_RESAMPLES = 200
"""Block-bootstrap resamples of the real returns that estimate the moments' variance."""
Z_95 = 1.959963984540054
MISFIT_FACTOR = 4.0
"""A held-out loss above this many times the number of moments (a mean squared z-score of 4) is a fit
outside the noise."""
MIN_TRIALS_TO_JUDGE = 20
"""Fewest trials for a verdict: with fewer the search has hardly left its random start (a quarter of
the budget, up to 10 trials), and which trials come near the best says little."""


@dataclass(frozen=True, slots=True)
class Parameter:
    """One fitted parameter of the ecology and the range searched.

    Attributes:
        name: the name in reports, ``population.key`` (``fundamental.sigma`` for the fundamental's).
        targets: the (population, policy parameter) pairs it sets; population ``fundamental`` sets
            the fundamental's Ornstein-Uhlenbeck parameter.
        low: the smallest value searched.
        high: the largest value searched.
        log: searched on a log scale (for scale parameters spanning decades).
        what: what it controls, for the report.
        integer: searched over the integers from ``low`` to ``high``.
    """

    name: str
    targets: tuple[tuple[str, str], ...]
    low: float
    high: float
    log: bool
    what: str
    integer: bool = False

    def position(self, value: float) -> float:
        """Where ``value`` lies in the range, 0 at ``low`` and 1 at ``high`` (on the log scale if ``log``)."""
        if self.log:
            return (math.log(value) - math.log(self.low)) / (math.log(self.high) - math.log(self.low))
        return (value - self.low) / (self.high - self.low)

    def format(self, value: float) -> str:
        """A value as the reports show it: integers in full with thousands separators, others to four digits."""
        return f"{int(value):,}" if self.integer else f"{value:.4g}"


FUNDAMENTAL = "fundamental"
MARKET = "market"
BARS = "bars"
STEPS_PER_BAR = "steps_per_bar"
MAX_SIMULATED_STEPS = 10_000
"""Most steps a candidate's simulation may take: ``steps_per_bar`` is searched only up to
``MAX_SIMULATED_STEPS // returns`` (2 for a file of 5,000 bars, 5 for 2,000), so that a default
calibration of a file of up to 5,000 bars stays within 10 minutes here (a simulation costs about a
second per 1,000 steps)."""

PARAMETERS: tuple[Parameter, ...] = (
    Parameter("maker.half_spread", (("maker", "half_spread"),), 0.002, 0.2, True, "maker spread"),
    Parameter("maker.size", (("maker", "size"),), 0.05, 1.0, True, "maker depth (quote size)"),
    Parameter("taker.activity", (("taker", "activity"),), 0.1, 1.0, False, "takers' activity rate"),
    Parameter("size_tail", (("taker", "size_tail"), ("noise", "size_tail")), 1.1, 5.0, False, "order-size tail exponent (takers and noise)"),
    Parameter("noise.vol_activity", (("noise", "vol_activity"),), 0.0, 300.0, False, "noise traders' activity in volatile periods"),
    Parameter("momentum.size_scale", (("momentum", "size_scale"),), 0.5, 50.0, True, "momentum weight"),
    Parameter("value.size_scale", (("value", "size_scale"),), 0.03, 3.0, True, "value weight"),
    Parameter("fundamental.sigma", ((FUNDAMENTAL, "sigma"),), 0.01, 1.0, True, "fundamental volatility (annual, one step a minute)"),
    Parameter(
        "market.initial_price", ((MARKET, "initial_price"),), 10_000, 500_000, True,
        "starting price in ticks, the tick scale (a tick is a larger relative move at a lower price)", integer=True,
    ),
    Parameter(STEPS_PER_BAR, ((BARS, STEPS_PER_BAR),), 1, 8, False, "simulated steps per bar (the mid sampled every k steps)", integer=True),
)
"""The parameters fitted: activity, order-size tail, maker spread and depth, momentum and value
weights, fundamental volatility, and the time and price scales: the starting price in ticks and the
simulated steps per bar (searched up to ``MAX_SIMULATED_STEPS // returns``). Each range holds the
default ecology's value."""


def default_values() -> dict[str, float]:
    """The default ecology's value of every fitted parameter."""
    values: dict[str, float] = {}
    scales = {(MARKET, "initial_price"): INITIAL_PRICE, (BARS, STEPS_PER_BAR): 1}
    for parameter in PARAMETERS:
        population, key = parameter.targets[0]
        if (population, key) in scales:
            values[parameter.name] = scales[population, key]
        else:
            values[parameter.name] = float(FUNDAMENTAL_PARAMS[key] if population == FUNDAMENTAL else dict(ECOLOGY[population].params)[key])
    return values


def ecology_of(values: Mapping[str, float], counts: Mapping[str, int] | None = None) -> FittedEcology:
    """The default ecology with the fitted parameters set to ``values`` (by :data:`PARAMETERS` name)."""
    params = {name: dict(archetype.params) for name, archetype in ECOLOGY.items()}
    fundamental = dict(FUNDAMENTAL_PARAMS)
    scales = {MARKET: {}, BARS: {}}
    for parameter in PARAMETERS:
        for population, key in parameter.targets:
            if population in scales:
                scales[population][key] = int(round(values[parameter.name]))
            else:
                (fundamental if population == FUNDAMENTAL else params[population])[key] = float(values[parameter.name])
    archetypes = {name: replace(archetype, params=tuple(params[name].items())) for name, archetype in ECOLOGY.items()}
    return FittedEcology(
        archetypes=archetypes,
        counts=dict(counts or SimulationSpec().counts()),
        fundamental_params=fundamental,
        initial_price=scales[MARKET]["initial_price"],
        steps_per_bar=scales[BARS][STEPS_PER_BAR],
    )


# ---------------------------------------------------------------------------- simulating
class _Mids:
    """An episode observer that keeps only the mid after every step (the summary's other figures cost time)."""

    def __init__(self) -> None:
        self.mids: list[float] = []

    def start(self, env: MarketEnv) -> None:
        self.mids = [env.mid]

    def observe(self, step: int, env: MarketEnv) -> None:
        self.mids.append(env.mid)

    def finish(self, env: MarketEnv) -> None:
        pass


def simulated_returns(ecology: FittedEcology, steps: int, seed: int) -> np.ndarray:
    """The mid's per-bar log returns of one seeded run of ``ecology``, ``steps`` of them after the warm-up.

    A bar is ``ecology.steps_per_bar`` simulated steps: the run takes :data:`WARMUP_STEPS` steps,
    then ``steps * steps_per_bar`` more, and the mid is sampled every ``steps_per_bar`` steps from the
    end of the warm-up."""
    k = ecology.steps_per_bar
    spec = SimulationSpec(**ecology.count_options(), steps=WARMUP_STEPS + steps * k, seed=seed)
    config, policies = scripted_market(spec, ecology=ecology.archetypes, fundamental_params=ecology.fundamental_params)
    mids = _Mids()
    play_episode(MarketEnv(config), policies, seed=seed, observers=[mids])
    sampled = np.asarray(mids.mids, dtype=np.float64)[WARMUP_STEPS::k]
    return np.diff(np.log(sampled))


def _moments_of_run(task: tuple[FittedEcology, int, int]) -> np.ndarray:
    """The moment vector of one run: a top-level function, so that worker processes can run it."""
    ecology, steps, seed = task
    returns = simulated_returns(ecology, steps, seed)
    if len(returns) < MIN_RETURNS or not np.all(np.isfinite(returns)):
        return np.full(len(MOMENT_KEYS), np.nan)
    return moments(returns, source="simulated mid")


def _ignore_interrupts() -> None:
    """Workers leave Ctrl-C to the main process, which stops them: one ``interrupted`` line, no
    traceback from each worker."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class _Runner:
    """Runs simulations in order, in this process or spread over worker processes.

    Workers are started with ``spawn`` (a fresh interpreter: forking a process that has imported
    torch can hang) and each run is seeded on its own, so the results do not depend on ``workers``.
    """

    def __init__(self, workers: int) -> None:
        self._pool = ProcessPoolExecutor(workers, mp_context=get_context("spawn"), initializer=_ignore_interrupts) if workers > 1 else None

    def run(self, ecology: FittedEcology, steps: int, seeds: Sequence[int], done: Callable[[], None]) -> np.ndarray:
        tasks = [(ecology, steps, seed) for seed in seeds]
        results = self._pool.map(_moments_of_run, tasks) if self._pool is not None else map(_moments_of_run, tasks)
        rows = []
        for row in results:
            rows.append(row)
            done()
        return np.array(rows)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)


def simulated_moments(ecology: FittedEcology, steps: int, seeds: Sequence[int]) -> np.ndarray:
    """Moment vectors of ``ecology``'s runs, one row per seed (in this process)."""
    return _Runner(1).run(ecology, steps, seeds, lambda: None)


# ---------------------------------------------------------------------------- the result
@dataclass(frozen=True, slots=True, kw_only=True)
class MomentSet:
    """Moments with a 95% interval each: the real ones (bootstrap), or a mean over simulation seeds."""

    values: np.ndarray
    low: np.ndarray
    high: np.ndarray

    @classmethod
    def of_runs(cls, rows: np.ndarray) -> MomentSet:
        """The mean over seeds, with a normal interval of the mean (the seeds' spread over sqrt(S))."""
        mean = rows.mean(axis=0)
        half = Z_95 * rows.std(axis=0, ddof=1) / math.sqrt(len(rows)) if len(rows) > 1 else np.full(len(mean), np.nan)
        return cls(values=mean, low=mean - half, high=mean + half)

    def as_dict(self) -> dict[str, dict[str, float]]:
        return {key: {"value": float(v), "low": float(lo), "high": float(hi)} for key, v, lo, hi in zip(MOMENT_KEYS, self.values, self.low, self.high)}


@dataclass(frozen=True, slots=True, kw_only=True)
class Calibration:
    """What a calibration found.

    Attributes:
        bars: bars of the real data (returns + 1).
        seed: the root seed.
        budget: candidate ecologies evaluated.
        seeds: simulations per candidate.
        fitting_seeds: the simulation seeds of every candidate.
        held_out_seeds: the seeds of the before/after comparison.
        real: the real moments, with bootstrap intervals.
        scale: the standard deviation of each moment's difference in the loss,
            ``sqrt(max(var_bootstrap, var_seeds) (1 + 1/S))``.
        bootstrap_std: each real moment's standard deviation over the block bootstrap.
        seeds_std: each moment's standard deviation over the default ecology's 2S runs.
        before: the default ecology's moments on the held-out seeds.
        after: the fitted ecology's moments on the held-out seeds.
        loss_before: the default ecology's loss on the held-out seeds.
        loss_after: the fitted ecology's loss on the held-out seeds.
        loss_best_trial: the best candidate's loss on the fitting seeds (what the search minimized).
        defaults: the default ecology's value of every fitted parameter.
        fitted: the best candidate's parameters.
        identifiability: per parameter, the range and spread of the trials the loss does not reject, and a verdict.
        trials: every candidate's parameters and loss, in the order tried.
        ranges: the range each parameter was searched over (a parameter's own, or for
            ``steps_per_bar`` up to :data:`MAX_SIMULATED_STEPS` over the returns).
        ecology: the fitted ecology.
        seconds: wall-clock time of the calibration.
    """

    bars: int
    seed: int
    budget: int
    seeds: int
    fitting_seeds: tuple[int, ...]
    held_out_seeds: tuple[int, ...]
    real: MomentSet
    scale: np.ndarray
    bootstrap_std: np.ndarray
    seeds_std: np.ndarray
    before: MomentSet
    after: MomentSet
    loss_before: float
    loss_after: float
    loss_best_trial: float
    defaults: dict[str, float]
    fitted: dict[str, float]
    identifiability: dict[str, dict[str, Any]]
    trials: list[dict[str, Any]] = field(default_factory=list)
    ranges: dict[str, tuple[float, float]] = field(default_factory=dict)
    ecology: FittedEcology = field(default_factory=FittedEcology)
    seconds: float = 0.0

    def z_scores(self, moments_: MomentSet) -> np.ndarray:
        """Each moment's distance from the real one in units of the loss's standard deviation."""
        return (moments_.values - self.real.values) / self.scale

    @property
    def fit_note(self) -> str:
        """One plain sentence on whether the fit is within the moments' noise.

        A loss near the number of moments is a fit within the noise; far above it, the ecology
        cannot reproduce the data, and the fitted values are the nearest it gets, not estimates.
        """
        k = len(MOMENT_KEYS)
        worst = MOMENT_KEYS[int(np.argmax(np.abs(self.z_scores(self.after))))]
        if self.loss_after <= MISFIT_FACTOR * k:
            return f"within the noise: loss {self.loss_after:.1f} on held-out seeds for {k} moments (about {k} expected for a model that fits)"
        return (
            f"outside the noise: loss {self.loss_after:.1f} on held-out seeds for {k} moments (about {k} expected for a model that fits; "
            f"worst: {worst}); the ecology cannot reproduce these data within the parameters' ranges, and the fitted values are the "
            "nearest it gets rather than estimates, whatever their spread"
        )

    def moment_table(self) -> tuple[list[str], list[list[str]]]:
        """Headers and rows of the before/after table: each moment real, default and fitted, with 95%
        intervals, and the default's and the fit's distance from the real one in loss units (z)."""
        headers = ["moment", "real [95%]", "default ecology [95%]", "fitted ecology [95%]", "z default", "z fitted"]
        z_before, z_after = self.z_scores(self.before), self.z_scores(self.after)
        rows = [
            [
                key,
                _interval(self.real, i),
                _interval(self.before, i),
                _interval(self.after, i),
                f"{z_before[i]:+.1f}",
                f"{z_after[i]:+.1f}",
            ]
            for i, key in enumerate(MOMENT_KEYS)
        ]
        rows.append(["loss (held-out seeds)", "", f"{self.loss_before:.1f}", f"{self.loss_after:.1f}", "", ""])
        return headers, rows

    def parameter_table(self) -> tuple[list[str], list[list[str]]]:
        """Headers and rows of the parameters: default, fitted, range searched, spread of the best trials, verdict."""
        headers = ["parameter", "default", "fitted", "range searched", "near the best", "spread", "identified"]
        rows = []
        for p in PARAMETERS:
            spread = self.identifiability[p.name]["spread"]
            searched = self.ranges.get(p.name, (p.low, p.high))
            rows.append(
                [
                    p.name,
                    p.format(self.defaults[p.name]),
                    p.format(self.fitted[p.name]),
                    f"{p.format(searched[0])}-{p.format(searched[1])}{' (log)' if p.log else ''}",
                    f"{p.format(near[0])}-{p.format(near[1])}" if (near := self.identifiability[p.name]["near"]) else "",
                    f"{spread:.2f}" if math.isfinite(spread) else "",
                    self.identifiability[p.name]["verdict"],
                ]
            )
        return headers, rows

    def report(self) -> dict[str, Any]:
        """The whole result as plain JSON-ready values (the report file; an undefined number is null)."""
        return _plain({
            "bars": self.bars,
            "seed": self.seed,
            "budget": self.budget,
            "budget_unit": "candidate ecologies, each simulated on every fitting seed",
            "seeds_per_candidate": self.seeds,
            "fitting_seeds": list(self.fitting_seeds),
            "held_out_seeds": list(self.held_out_seeds),
            "moments": {
                key: {
                    "real": self.real.as_dict()[key],
                    "before": self.before.as_dict()[key],
                    "after": self.after.as_dict()[key],
                    "scale": float(self.scale[i]),
                    "bootstrap_std": float(self.bootstrap_std[i]),
                    "seeds_std": float(self.seeds_std[i]),
                    "z_before": float(self.z_scores(self.before)[i]),
                    "z_after": float(self.z_scores(self.after)[i]),
                }
                for i, key in enumerate(MOMENT_KEYS)
            },
            "loss": {"before": self.loss_before, "after": self.loss_after, "best_trial_on_fitting_seeds": self.loss_best_trial, "moments": len(MOMENT_KEYS)},
            "parameters": {
                p.name: {
                    "what": p.what,
                    "default": self.defaults[p.name],
                    "fitted": self.fitted[p.name],
                    "range": list(self.ranges.get(p.name, (p.low, p.high))),
                    "log_scale": p.log,
                    **self.identifiability[p.name],
                }
                for p in PARAMETERS
            },
            "fit_note": self.fit_note,
            "identifiability_note": IDENTIFIABILITY_NOTE,
            "trials": self.trials,
            "seconds": self.seconds,
        })


def _interval(moments_: MomentSet, i: int) -> str:
    """``value [low, high]`` with three significant digits."""
    return f"{moments_.values[i]:.3g} [{moments_.low[i]:.3g}, {moments_.high[i]:.3g}]"


def _plain(value: Any) -> Any:
    """``value`` with every non-finite float replaced by None, so the report is strict JSON."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


IDENTIFIABILITY_NOTE = (
    "The trials near the best are those the loss does not reject: a loss within the 95% chi-square band of the best "
    "(12.6 for 6 moments), the band widened by best loss / 6 when the fit is outside the noise, as a quasi-likelihood would. "
    "near: the smallest and largest value of a parameter over those trials. spread: the standard deviation of their "
    "positions in the parameter's range (log scale where searched so) over that of a uniform draw (1 = spread as if at random). "
    "A parameter the moments pin down keeps its near trials close together (spread under 0.35); one they do not constrain "
    "has near trials all over its range (0.7 or more), and its fitted value means little. The sampler concentrates later "
    "trials where the loss was low, which narrows every spread: a small spread from a small budget is weak evidence, and "
    "with fewer than 3 near trials nothing is judged."
)
CHI2_95_6 = 12.59
"""The 95% quantile of a chi-square with 6 degrees of freedom (one per moment): the band of losses
around the best that the moments' noise does not tell apart."""


def _identifiability(trials: list[dict[str, Any]], fitted: Mapping[str, float], parameters: Sequence[Parameter]) -> dict[str, dict[str, Any]]:
    """Per searched parameter: how the trials the loss does not reject spread over its range, and a
    plain verdict; a parameter not searched is marked so."""
    out: dict[str, dict[str, Any]] = {p.name: {"near": None, "spread": float("nan"), "verdict": "not searched (default kept)"} for p in PARAMETERS}
    best_loss = min(t["loss"] for t in trials)
    band = CHI2_95_6 * max(1.0, best_loss / len(MOMENT_KEYS))
    near = [t for t in trials if t["loss"] <= best_loss + band]
    uniform_std = 1.0 / math.sqrt(12.0)
    for p in parameters:
        values = [t["params"][p.name] for t in near]
        if len(trials) < MIN_TRIALS_TO_JUDGE or len(near) < 3:
            why = f"fewer than {MIN_TRIALS_TO_JUDGE} trials" if len(trials) < MIN_TRIALS_TO_JUDGE else f"only {len(near)} trial(s) near the best"
            out[p.name] = {"near": [min(values), max(values)], "spread": float("nan"), "verdict": f"too few to tell ({why})"}
            continue
        spread = float(np.std([p.position(v) for v in values]) / uniform_std)
        if spread >= 0.7:
            verdict = "not pinned down"
        elif spread < 0.35:
            verdict = "pinned down"
        else:
            verdict = "loosely pinned"
        edge = p.position(fitted[p.name])
        if verdict != "not pinned down" and (edge < 0.02 or edge > 0.98):
            verdict += ", at the edge of its range"
        out[p.name] = {"near": [min(values), max(values)], "spread": spread, "verdict": verdict}
    return out


def startup_trials(budget: int) -> int:
    """Random trials before TPE models the loss: optuna's 10, but a quarter of a small budget (at
    least 3), so that a small budget is still a search and not ten random draws."""
    return min(10, max(3, budget // 4))


def _loss(mean: np.ndarray, real: np.ndarray, scale: np.ndarray) -> float:
    """The simulated-moments loss of a mean moment vector; :data:`PENALTY` if a moment is undefined."""
    z = (mean - real) / scale
    return float(np.sum(z**2)) if np.all(np.isfinite(z)) else PENALTY


# ---------------------------------------------------------------------------- calibrating
def check_returns(returns: np.ndarray, source: str) -> np.ndarray:
    """The real returns, checked: enough of them, not too many, and prices that move.

    Raises:
        DataError: naming ``source`` and what is wrong (with the bars needed when there are too few).
    """
    x = np.asarray(returns, dtype=np.float64)
    if len(x) < MIN_RETURNS:
        raise DataError(f"{source}: {len(x) + 1:,} bars; a calibration needs at least {MIN_RETURNS + 1:,} (the moments need {MIN_RETURNS} returns)")
    if len(x) + 1 > MAX_BARS:
        raise DataError(f"{source}: {len(x) + 1:,} bars; a calibration takes at most {MAX_BARS:,} (every candidate simulates one step per bar): cut the file to the period of interest")
    if not np.all(np.isfinite(x)):
        raise DataError(f"{source}: the close-to-close log returns are not all finite")
    if np.std(x) == 0:
        raise DataError(f"{source}: the closes are constant; there are no price moves to calibrate to")
    real = moments(x, source=source)
    undefined = [key for key, value in zip(MOMENT_KEYS, real) if not np.isfinite(value)]
    if undefined:
        raise DataError(f"{source}: the prices move too rarely to measure {', '.join(undefined)}")
    return x


def calibrate(
    returns: np.ndarray,
    *,
    budget: int = DEFAULT_BUDGET,
    seed: int = 0,
    seeds: int = DEFAULT_SEEDS,
    workers: int | None = None,
    parameters: Sequence[Parameter] = PARAMETERS,
    source: str = "returns",
    progress: Callable[[int, int], None] | None = None,
) -> Calibration:
    """Fit the background ecology's :data:`PARAMETERS` to a real return series.

    Args:
        returns: the real close-to-close log returns, one per bar.
        budget: candidate ecologies to evaluate (the default ecology first, then TPE's proposals).
        seed: the root seed: the bootstrap, the sampler and the simulation seeds come from it.
        seeds: simulations per candidate (at least 2, for the intervals).
        workers: processes running simulations at once; by default ``min(seeds, CPUs)``. The result
            does not depend on it.
        parameters: the parameters searched (some of :data:`PARAMETERS`); the others keep the
            default ecology's values.
        source: what the returns are (a file name), for error messages.
        progress: called as ``progress(simulations_done, simulations_total)`` after every simulation.

    Returns:
        The calibration, with before/after moments on held-out seeds and the fitted ecology.

    Raises:
        ConfigError: a budget, seed count or seed out of range.
        DataError: too few or too many returns, constant prices, moments that cannot be measured.
    """
    import optuna

    if type(budget) is not int or budget < 1:
        raise ConfigError(f"budget: expected a positive number of candidate ecologies, got {budget!r}")
    check_size("budget", budget, MAX_SEEDS)
    if type(seeds) is not int or seeds < 2:
        raise ConfigError(f"seeds: expected at least 2 simulations per candidate (for the intervals), got {seeds!r}")
    check_size("seeds", seeds, MAX_SEEDS)
    unknown = [p for p in parameters if p not in PARAMETERS]
    if unknown or not parameters:
        raise ConfigError(f"parameters: expected some of {[p.name for p in PARAMETERS]}, got {[getattr(p, 'name', p) for p in parameters]}")
    if type(seed) is not int or seed < 0 or seed > 2**32 - 1:
        raise ConfigError(f"seed: expected an integer in [0, 2^32 - 1], got {seed!r}")
    x = check_returns(returns, source)
    started = time.perf_counter()
    steps = len(x)
    # the time scale is searched only as far as the simulations stay affordable; a range of one value is not searched
    searched: list[Parameter] = []
    for p in parameters:
        high = min(p.high, max(1, MAX_SIMULATED_STEPS // steps)) if p.name == STEPS_PER_BAR else p.high
        if high > p.low:
            searched.append(replace(p, high=high))
    if not searched:
        raise ConfigError(f"parameters: nothing to search: {STEPS_PER_BAR} stays 1 for {steps:,} returns (at most {MAX_SIMULATED_STEPS:,} simulated steps)")

    # 1. the real moments and their bootstrap variance (a stream of the root seed of its own)
    real_values = moments(x, source=source)
    boot = bootstrap_moments(x, np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(1,))), BOOTSTRAP_RESAMPLES)
    boot_std = np.nanstd(boot, axis=0, ddof=1)
    boot_std = np.where(boot_std > 0, boot_std, np.abs(real_values) * 0.01 + 1e-12)  # a moment that never varies still has a scale
    real = MomentSet(values=real_values, low=real_values - Z_95 * boot_std, high=real_values + Z_95 * boot_std)

    # 2. simulation seeds: one block per root seed, the fitting seeds first, then the held-out ones
    base = seed * 2 * seeds
    fitting_seeds = tuple(range(base, base + seeds))
    held_out_seeds = tuple(range(base + seeds, base + 2 * seeds))
    total = (budget + 2) * seeds
    done = 0

    def tick() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, total)

    runner = _Runner(workers if workers is not None else max(1, min(seeds, os.cpu_count() or 1)))
    try:
        # 3. the default ecology on every seed; the spread of its 2S runs is the second estimate of
        # each moment's variance, and the larger estimate is the loss's scale
        defaults = default_values()
        before_rows = runner.run(ecology_of(defaults), steps, held_out_seeds, tick)
        default_rows = runner.run(ecology_of(defaults), steps, fitting_seeds, tick)
        runs = np.vstack([before_rows, default_rows])
        sim_std = np.nanstd(runs, axis=0, ddof=1) if np.all(np.isfinite(runs)) else np.zeros(len(MOMENT_KEYS))
        scale = np.maximum(boot_std, sim_std) * math.sqrt(1.0 + 1.0 / seeds)

        # 4. the search: the default ecology first (its runs are done), then TPE, seeded and one trial at a time
        trials: list[dict[str, Any]] = []

        def suggest(trial: optuna.Trial, p: Parameter) -> float:
            if p.integer:
                return trial.suggest_int(p.name, int(p.low), int(p.high), log=p.log)
            return trial.suggest_float(p.name, p.low, p.high, log=p.log)

        def objective(trial: optuna.Trial) -> float:
            values = {**defaults, **{p.name: suggest(trial, p) for p in searched}}
            rows = default_rows if not trials else runner.run(ecology_of(values), steps, fitting_seeds, tick)
            loss = _loss(rows.mean(axis=0), real_values, scale)
            trials.append({"params": values, "loss": loss, "moments": dict(zip(MOMENT_KEYS, map(float, rows.mean(axis=0))))})
            return loss

        optuna.logging.set_verbosity(optuna.logging.ERROR)  # a trial stopped by Ctrl-C is not a warning with a traceback
        study = optuna.create_study(direction="minimize", sampler=optuna.samplers.TPESampler(seed=seed, n_startup_trials=startup_trials(budget)))
        study.enqueue_trial({p.name: defaults[p.name] for p in searched})
        study.optimize(objective, n_trials=budget, n_jobs=1, gc_after_trial=False, show_progress_bar=False)
        best = min(trials, key=lambda t: t["loss"])
        fitted = dict(best["params"])

        # 5. the fit, measured again on the held-out seeds beside the default ecology
        ecology = ecology_of(fitted)
        after_rows = runner.run(ecology, steps, held_out_seeds, tick)
    finally:
        runner.close()
    before, after = MomentSet.of_runs(before_rows), MomentSet.of_runs(after_rows)
    return Calibration(
        bars=len(x) + 1,
        seed=seed,
        budget=budget,
        seeds=seeds,
        fitting_seeds=fitting_seeds,
        held_out_seeds=held_out_seeds,
        real=real,
        scale=scale,
        bootstrap_std=boot_std,
        seeds_std=sim_std,
        before=before,
        after=after,
        loss_before=_loss(before.values, real_values, scale),
        loss_after=_loss(after.values, real_values, scale),
        loss_best_trial=float(best["loss"]),
        defaults=defaults,
        fitted=fitted,
        identifiability=_identifiability(trials, fitted, searched),
        trials=trials,
        ranges={p.name: (p.low, p.high) for p in searched},
        ecology=ecology,
        seconds=time.perf_counter() - started,
    )
