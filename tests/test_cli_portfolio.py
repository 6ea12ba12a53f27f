"""`market backtest --panel`: portfolio baselines over a panel beside equal weight, from the command line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

MARKET = str(Path(sys.executable).with_name("market"))


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([MARKET, *args], capture_output=True, text=True, timeout=120, check=False)


def test_a_baseline_over_the_bundled_panel_prints_its_figures_beside_equal_weight(tmp_path):
    result = run("backtest", "--panel", "--policy", "inverse_volatility", "--json", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["settings"]["assets"][:2] == ["S0_0", "S0_1"] and len(payload["settings"]["assets"]) == 12
    assert payload["metrics"]["mean_holdings"] == 12 and payload["equal_weight"]["turnover_per_year"] > 0
    assert Path(payload["run"]).is_dir()


def test_a_folder_of_files_is_a_panel_and_bad_input_is_one_line(tmp_path):
    folder = tmp_path / "assets"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for name in ("AAA", "BBB"):
        closes = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, 80)))
        lines = ["Date,Close"] + [f"2024-{1 + d // 28:02d}-{1 + d % 28:02d},{c:.4f}" for d, c in enumerate(closes)]
        (folder / f"{name}.csv").write_text("\n".join(lines) + "\n")
    missing = run("backtest", "--data", str(folder), "--policy", "momentum", "--out", str(tmp_path / "runs"))
    assert missing.returncode == 1 and missing.stderr.count("\n") == 1 and "AAA.csv: missing column(s) open, high, low" in missing.stderr
    wide = tmp_path / "closes.csv"
    wide.write_text("Date,AAA,BBB\n" + "".join(f"2024-{1 + d // 28:02d}-{1 + d % 28:02d},{100 + d},{50 + d % 7}\n" for d in range(80)))
    good = run("backtest", "--data", str(wide), "--wide", "--policy", "momentum", "--window", "10", "--json", "--out", str(tmp_path / "runs"))
    assert good.returncode == 0, good.stderr
    assert json.loads(good.stdout)["metrics"]["mean_holdings"] == 1
    typo = run("backtest", "--data", str(wide), "--wide", "--policy", "min_varaince", "--out", str(tmp_path / "runs"))
    assert typo.returncode == 1 and typo.stderr.count("\n") == 1 and "did you mean 'min_variance'" in typo.stderr
    (folder / "BBB.csv").unlink()
    one = run("backtest", "--data", str(folder), "--out", str(tmp_path / "runs2"))
    assert one.returncode == 1 and "a panel needs at least 2 assets, got 1" in one.stderr and not (tmp_path / "runs2").exists()
