"""Calibrating the background ecology to real prices (``market calibrate``).

* :mod:`~market.calibration.moments`: the moment vector matched (from :mod:`market.data.facts`)
  and the block bootstrap of the real moments' uncertainty.
* :mod:`~market.calibration.fit`: the fitted parameters, the simulated-moments loss and the seeded
  optuna search, :func:`calibrate`.
* :mod:`~market.calibration.ecology_file`: the fitted ecology as a scenario fragment
  (``[[background]]`` and ``[fundamental]`` tables), written by ``market calibrate`` and read by
  ``market simulate --ecology``.
"""

from __future__ import annotations

from market.calibration.ecology_file import FittedEcology, format_ecology, read_ecology, write_atomically
from market.calibration.fit import DEFAULT_BUDGET, DEFAULT_SEEDS, MAX_BARS, PARAMETERS, Calibration, MomentSet, Parameter, calibrate, ecology_of, simulated_moments
from market.calibration.moments import MIN_RETURNS, MOMENT_KEYS, bootstrap_moments, moments

__all__ = [
    "DEFAULT_BUDGET",
    "DEFAULT_SEEDS",
    "MAX_BARS",
    "MIN_RETURNS",
    "MOMENT_KEYS",
    "PARAMETERS",
    "Calibration",
    "FittedEcology",
    "MomentSet",
    "Parameter",
    "bootstrap_moments",
    "calibrate",
    "ecology_of",
    "format_ecology",
    "moments",
    "read_ecology",
    "simulated_moments",
    "write_atomically",
]
