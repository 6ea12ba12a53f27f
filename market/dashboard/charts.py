"""Plotly figures of the dashboard, built from the frames :mod:`market.dashboard.run_data` returns.

Each function takes plain frames and returns a ``plotly.graph_objects.Figure``; none reads files or
touches Streamlit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from market.dashboard.run_data import DRAWDOWN, NAME
from market.records import schema as s

BUY_COLOR = "#1a9850"
SELL_COLOR = "#d73027"
BID_COLOR = "#1a9850"
ASK_COLOR = "#d73027"
PRICE_COLOR = "#2c3e50"
STEP_LINE_COLOR = "#7f7f7f"

MEASURE_TITLES: Mapping[str, str] = {s.EQUITY: "Equity", s.POSITION: "Position", DRAWDOWN: "Drawdown"}

_MARGIN = {"l": 10, "r": 10, "t": 60, "b": 10}
_LEGEND = {"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "right", "x": 1.0}
_LEGEND_BELOW = {"orientation": "h", "yanchor": "top", "y": -0.12, "xanchor": "left", "x": 0.0}


def _mark_step(figure: go.Figure, step: int | None) -> None:
    """Draw the chosen step as a dashed vertical line."""
    if step is not None:
        figure.add_vline(x=step, line_dash="dash", line_color=STEP_LINE_COLOR, line_width=1)


def price_figure(
    price: pd.DataFrame,
    trades: pd.DataFrame,
    step: int | None,
    *,
    agent: str | None = None,
    title: str = "Price",
) -> go.Figure:
    """The price (or mid) line with trades marked: triangles up for buys, down for sells.

    Args:
        price: ``step`` and ``price`` rows.
        trades: ``step``, ``price``, ``qty``, ``maker``, ``taker``, ``taker_side`` rows.
        step: The chosen step, drawn as a vertical line.
        agent: When given, trades are coloured by this agent's side (it bought or sold);
            otherwise by the taker's side.
        title: The chart's title.
    """
    figure = go.Figure()
    if len(trades):
        size = 9 if len(trades) <= 200 else 6 if len(trades) <= 1_000 else 4
        taker_buys = trades[s.TAKER_SIDE] == s.BUY
        if agent is None:
            bought, labels = taker_buys, ("taker buys", "taker sells")
        else:
            bought = (taker_buys & (trades[s.TAKER] == agent)) | (~taker_buys & (trades[s.MAKER] == agent))
            labels = (f"{agent} buys", f"{agent} sells")
        for mask, label, color, symbol in (
            (bought, labels[0], BUY_COLOR, "triangle-up"),
            (~bought, labels[1], SELL_COLOR, "triangle-down"),
        ):
            part = trades[mask]
            if not len(part):
                continue
            text = [
                f"{taker} {side}s {qty} from {maker}" if side == s.BUY else f"{taker} {side}s {qty} to {maker}"
                for taker, side, qty, maker in zip(part[s.TAKER], part[s.TAKER_SIDE], part[s.QTY], part[s.MAKER])
            ]
            figure.add_trace(
                go.Scatter(
                    x=part[s.STEP],
                    y=part[s.PRICE],
                    mode="markers",
                    name=label,
                    text=text,
                    hovertemplate="step %{x}<br>price %{y}<br>%{text}<extra></extra>",
                    marker={"color": color, "symbol": symbol, "size": size, "opacity": 0.7},
                )
            )
    line = {"color": PRICE_COLOR, "width": 1.5}
    # drawn last, so the line stays visible over the markers
    figure.add_trace(go.Scatter(x=price[s.STEP], y=price[s.PRICE], mode="lines", name="price", line=line))
    _mark_step(figure, step)
    figure.update_layout(title=title, margin=_MARGIN, height=360, xaxis_title="step", legend=_LEGEND)
    return figure


def book_figure(book: pd.DataFrame, step: int) -> go.Figure:
    """Order book depth at one step: one bar per price level, in price order, bids green and asks red.

    Levels sit side by side on a category axis, so a wide spread does not squeeze the bars.
    """
    figure = go.Figure()
    order = [_price_label(price) for price in sorted(book[s.PRICE].unique())]
    for side, color in ((s.BID, BID_COLOR), (s.ASK, ASK_COLOR)):
        part = book[book[s.SIDE] == side]
        figure.add_trace(
            go.Bar(
                x=[_price_label(price) for price in part[s.PRICE]],
                y=part[s.QTY],
                name=f"{side}s",
                marker_color=color,
                hovertemplate=f"{side} %{{x}}<br>qty %{{y}}<extra></extra>",
            )
        )
    figure.update_layout(
        title=f"Order book at step {step}",
        margin=_MARGIN,
        height=360,
        xaxis={"title": "price", "type": "category", "categoryorder": "array", "categoryarray": order},
        yaxis_title="qty",
        bargap=0.15,
        legend=_LEGEND,
    )
    return figure


def _price_label(price: float) -> str:
    """A price level's axis label: no decimals when whole (integer ticks), else up to four."""
    return f"{price:,.0f}" if float(price).is_integer() else f"{price:,.4f}".rstrip("0")


def curve_figure(
    curves: pd.DataFrame,
    measure: str,
    step: int | None,
    points: Mapping[str, float] | None = None,
) -> go.Figure:
    """One measure (equity, position or drawdown) over steps, one line per name.

    Args:
        curves: The long frame from :func:`market.dashboard.run_data.load_curves`.
        measure: ``equity``, ``position`` or ``drawdown``.
        step: The chosen step, drawn as a vertical line.
        points: Exact values at the chosen step by name, drawn as dots (downsampling may skip the step).
    """
    figure = go.Figure()
    rows = curves[curves["measure"] == measure]
    for name, line in rows.groupby(NAME, sort=False):
        figure.add_trace(go.Scatter(x=line[s.STEP], y=line["value"], mode="lines", name=str(name)))
    if points and step is not None:
        figure.add_trace(
            go.Scatter(
                x=[step] * len(points),
                y=list(points.values()),
                text=list(points),
                mode="markers",
                name=f"step {step}",
                marker={"color": STEP_LINE_COLOR, "size": 7},
                hovertemplate="%{text}: %{y}<extra></extra>",
                showlegend=False,
            )
        )
    _mark_step(figure, step)
    figure.update_layout(
        title=MEASURE_TITLES.get(measure, measure),
        margin=_MARGIN,
        height=340,
        yaxis_tickformat=".2~%" if measure == DRAWDOWN else None,
        legend=_LEGEND_BELOW,
    )
    return figure


def training_figure(curves: pd.DataFrame, keys: Sequence[str], x: str) -> go.Figure:
    """Training curves: one panel and one line per metric key, against iteration, env steps or time."""
    figure = make_subplots(rows=max(1, len(keys)), cols=1, shared_xaxes=True, subplot_titles=list(keys) or None)
    for row, key in enumerate(keys, start=1):
        line = curves[curves[s.KEY] == key]
        figure.add_trace(go.Scatter(x=line[x], y=line[s.VALUE], mode="lines+markers", name=key), row=row, col=1)
    figure.update_layout(margin=_MARGIN, height=max(260, 220 * len(keys)), showlegend=False)
    figure.update_xaxes(title_text=x, row=max(1, len(keys)), col=1)
    return figure


def schedule_figure(schedules: pd.DataFrame) -> go.Figure:
    """The executors' schedules: the share of the parent order left after each step, a line per strategy."""
    figure = go.Figure()
    for (strategy, population), line in schedules.groupby(["strategy", "population"], sort=False):
        figure.add_trace(go.Scatter(x=line[s.STEP], y=line["remaining"], mode="lines", name=f"{strategy} ({population})"))
    figure.update_layout(margin=_MARGIN, height=320, yaxis_title="share of the order left", xaxis_title="step", legend_title_text="strategy")
    return figure


def weights_figure(weights: pd.DataFrame) -> go.Figure:
    """A portfolio's weights over time, stacked (one area per asset, cash last)."""
    figure = go.Figure()
    for asset in weights.columns.drop(s.STEP):
        figure.add_trace(go.Scatter(x=weights[s.STEP], y=weights[asset], mode="lines", stackgroup="weights", name=str(asset), line={"width": 0.5}))
    figure.update_layout(margin=_MARGIN, height=360, yaxis_title="weight", xaxis_title="step", legend_title_text="asset")
    return figure


def contributions_figure(contributions: pd.DataFrame) -> go.Figure:
    """Each asset's cumulative contribution to the portfolio's return, a line per asset."""
    figure = go.Figure()
    for asset in contributions.columns.drop(s.STEP):
        figure.add_trace(go.Scatter(x=contributions[s.STEP], y=contributions[asset], mode="lines", name=str(asset)))
    figure.update_layout(margin=_MARGIN, height=320, yaxis_title="cumulative contribution", xaxis_title="step", legend_title_text="asset")
    return figure


def turnover_figure(traded: pd.DataFrame) -> go.Figure:
    """The weights traded at each step."""
    figure = go.Figure(go.Bar(x=traded[s.STEP], y=traded["traded"], name="traded"))
    figure.update_layout(margin=_MARGIN, height=240, yaxis_title="weights traded", xaxis_title="step")
    return figure


def flow_figure(matrix: pd.DataFrame, title: str) -> go.Figure:
    """A population x population heatmap: what each row gained from each column (red: lost)."""
    bound = float(np.abs(matrix.to_numpy()).max()) if matrix.size else 0.0
    figure = go.Figure(
        go.Heatmap(
            z=matrix.to_numpy(),
            x=list(matrix.columns),
            y=list(matrix.index),
            colorscale="RdBu",
            zmid=0.0,
            zmin=-bound or None,
            zmax=bound or None,
            text=matrix.round(2).to_numpy(),
            texttemplate="%{text}",
            hovertemplate="%{y} gained %{z:,.2f} from %{x}<extra></extra>",
        )
    )
    figure.update_layout(title=title, xaxis_title="from (payer)", yaxis_title="gainer", yaxis_autorange="reversed", height=420)
    return figure


def payoff_figure(mean: pd.DataFrame, half: pd.DataFrame, title: str) -> go.Figure:
    """A payoff matrix as a heatmap, each cell its mean and 95% half-width."""
    text = [[f"{m:,.3g} ± {h:,.2g}" if np.isfinite(h) else f"{m:,.3g}" for m, h in zip(row_m, row_h, strict=True)] for row_m, row_h in zip(mean.to_numpy(), half.to_numpy(), strict=True)]
    figure = go.Figure(
        go.Heatmap(
            z=mean.to_numpy(),
            x=[str(c) for c in mean.columns],
            y=[str(i) for i in mean.index],
            colorscale="Viridis",
            text=text,
            texttemplate="%{text}",
            hovertemplate="row %{y}, column %{x}: %{text}<extra></extra>",
        )
    )
    figure.update_layout(title=title, yaxis_autorange="reversed", height=420, margin={**_MARGIN, "t": 40})
    return figure


def mixture_figure(mixtures: pd.DataFrame) -> go.Figure:
    """Each population's equilibrium mixture per generation, stacked bars (one bar per population and generation)."""
    figure = go.Figure()
    many = mixtures["population"].nunique() > 1
    for (population, strategy), rows in mixtures.groupby(["population", "strategy"], sort=False):
        x = [rows["generation"], rows["population"]] if many else rows["generation"]
        figure.add_trace(go.Bar(x=x, y=rows["weight"], name=f"{population}/{strategy}" if many else str(strategy)))
    figure.update_layout(barmode="stack", margin=_MARGIN, height=360, yaxis_title="weight in the mixture", xaxis_title="generation", legend_title_text="strategy")
    return figure


def exploitability_figure(curve: pd.DataFrame) -> go.Figure:
    """Exploitability per generation: as measured then, and against the final pool when recorded."""
    figure = go.Figure()
    labels = {"exploitability": "then (pool and that generation's best responses)", "final_pool_exploitability": "against the final pool"}
    for column, label in labels.items():
        if column in curve:
            figure.add_trace(go.Scatter(x=curve["generation"], y=curve[column], mode="lines+markers", name=label))
    figure.update_layout(margin=_MARGIN, height=320, xaxis_title="generation", yaxis_title="P&L per agent per episode", xaxis_dtick=1)
    return figure
