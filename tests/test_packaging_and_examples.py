"""The bundled scenarios install with the package, and the example scripts run as a user runs them."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from market.scenario import SCENARIOS_DIR, bundled_scenarios

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "scenarios" / "examples"


def test_the_bundled_scenarios_live_in_the_top_level_scenarios_folder():
    assert SCENARIOS_DIR.resolve() == (REPO / "scenarios").resolve()
    assert set(bundled_scenarios()) == {path.stem for path in (REPO / "scenarios").glob("*.toml")} and len(bundled_scenarios()) >= 5


@pytest.mark.slow
def test_an_installed_wheel_outside_the_repo_lists_shows_and_loads_every_scenario(tmp_path):
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path / "dist"), str(REPO)],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert build.returncode == 0, build.stderr[-2000:]
    [wheel] = list((tmp_path / "dist").glob("market-*.whl"))
    target = tmp_path / "site"
    install = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(wheel)], capture_output=True, text=True, timeout=300, check=False)
    assert install.returncode == 0, install.stderr[-2000:]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(target)}

    # one interpreter runs every command (an interpreter's start and imports are most of a command's time)
    code = (
        "import contextlib, io, json, sys, market, market.cli\n"
        "assert market.__file__.startswith(sys.argv[1]), market.__file__\n"
        "results = []\n"
        "for args in json.loads(sys.argv[2]):\n"
        "    out, sys.argv = io.StringIO(), ['market', *args]\n"
        "    try:\n"
        "        with contextlib.redirect_stdout(out):\n"
        "            market.cli.main()\n"
        "        status = 0\n"
        "    except SystemExit as done:\n"
        "        status = done.code or 0\n"
        "    results.append((status, out.getvalue()))\n"
        "print(json.dumps(results))\n"
    )
    names = bundled_scenarios()
    commands = [["scenarios", "list"], *(["scenarios", "show", name] for name in names)]
    ran = subprocess.run(
        [sys.executable, "-c", code, str(target), json.dumps(commands)],
        cwd=elsewhere, env=env, capture_output=True, text=True, timeout=300, check=False,
    )
    assert ran.returncode == 0, ran.stderr[-2000:]
    (listed_status, listed), *shown = json.loads(ran.stdout.splitlines()[-1])
    assert listed_status == 0, ran.stderr[-2000:]
    for name, (status, text) in zip(names, shown, strict=True):
        assert name in listed
        assert status == 0 and name in text, ran.stderr[-2000:]

def run_example(name: str) -> str:
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / name)], cwd=REPO, env={**os.environ, "EXAMPLE_ITERATIONS": "1"},
        capture_output=True, text=True, timeout=600, check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


@pytest.mark.slow
def test_the_learning_maker_example_compares_the_learned_maker_with_both_baselines_on_paired_seeds():
    out = run_example("learning_maker.py")
    pnl = {name: float(value) for name, value in re.findall(r"^\s*(\w+): P&L\s+(-?[\d.]+)", out, re.MULTILINE)}
    assert set(pnl) == {"learned", "heuristic", "avellaneda_stoikov"}, out
    paired = dict(re.findall(r"^learned - (\w+): (-?[\d.]+) \+/-", out, re.MULTILINE))
    for baseline in ("heuristic", "avellaneda_stoikov"):  # the paired mean is the difference of the means
        assert float(paired[baseline]) == pytest.approx(pnl["learned"] - pnl[baseline], abs=0.2), out


@pytest.mark.slow
def test_the_trading_example_backtests_ppo_beside_buy_and_hold_on_held_out_bars():
    out = run_example("trading_ppo.py")
    assert re.search(r"PPO: Sharpe\s+-?[\d.]+", out) and re.search(r"buy and hold: Sharpe\s+-?[\d.]+", out), out
    held = re.search(r"held out: (\d{4})-\d\d-\d\d to .* \((\d+) bars\)", out)
    assert held and int(held.group(1)) >= 2020 and int(held.group(2)) > 500, out
