"""Versioned layout of a run record: file names, manifest keys, table names, column names and schemas.

A run is a folder holding ``manifest.json`` and one Parquet file per table (``<table>.parquet``).
Every name used on disk is a constant here; no other module spells a column or key as a literal.

Tables (all optional per run; a backtest has no ``book`` table):

``steps``: one row per step per agent.
    ``step`` int64; ``time`` timestamp[ns] (naive, UTC when the source had a zone; null for markets
    with no clock); ``agent`` string; ``price`` float64 (the price, or mid, the agent was marked at);
    ``cash``, ``position``, ``equity`` float64; ``action`` list<float64> (the agent's action,
    always a list: a scalar action is stored as a one-element list, a maker's ``(bid_offset,
    ask_offset, size)`` as three elements); ``reward`` float64.
``trades``: one row per fill.
    ``step`` int64; ``time`` timestamp[ns] (nullable); ``price`` float64; ``qty`` int64;
    ``maker``, ``taker`` string; ``maker_order_id``, ``taker_order_id`` int64; ``taker_side``
    string, ``"buy"`` or ``"sell"``.
``book``: top-of-book snapshots, one row per level per side per step.
    ``step`` int64; ``side`` string, ``"bid"`` or ``"ask"``; ``level`` int32 (0 is the best price);
    ``price`` float64; ``qty`` int64.
``holdings``: a portfolio's weights and return contributions, one row per step per agent per asset.
    ``step`` int64; ``time`` timestamp[ns] (nullable); ``agent`` string; ``asset`` string (an asset
    of the panel, or ``"cash"``); ``weight`` float64 (held at the step's close); ``contribution``
    float64 (the asset's part of the step's return; cash's is minus the step's costs).
``flows``: who profits from whom (:mod:`market.analysis.flows`), one row per step per markout
    horizon per (gainer, payer) pair of accounts, amounts positive.
    ``step`` int64 (the fills' step); ``horizon`` string (``"1"``, ``"10"``, ``"100"``, ``"end"``);
    ``gainer``, ``payer`` string (agents, or the exchange and tax accounts); ``amount`` int64 in
    half-ticks x lots. Summed over a step range it gives the gained-from matrix; records written
    before this table existed simply lack it (all tables are optional).
``flow_parts``: where each account's P&L came from (:meth:`market.analysis.FlowResult.parts`), one
    row per markout horizon per account. ``horizon``, ``agent`` string (an agent, or the exchange and
    tax accounts); ``spread``, ``adverse_selection``, ``inventory``, ``fees``, ``total`` int64 in
    half-ticks x lots (spread + adverse selection + inventory + fees = total).
``populations``: a market's populations driven inside the env, in aggregate, one row per step per
    population, written instead of their agents' ``steps`` rows when a run records populations
    (large background populations); records written before this table existed simply lack it.
    ``step`` int64; ``population`` string; ``count`` int64 (agents still in the market);
    ``price`` float64 (the mid after the step); ``cash``, ``position``, ``equity`` float64 (sums over
    all the population's agents, bankrupt ones included with their last values); ``orders`` int64
    (orders its agents sent in the step); ``fills`` int64 (the step's fills one of its agents took
    part in).
``training``: training progress in long format, one row per metric per iteration, so a dashboard
    can plot any metric without knowing its name in advance.
    ``iteration`` int64; ``env_steps`` int64; ``time_s`` float64 (seconds since training began);
    ``key`` string (metric name); ``value`` float64.

Only ``time`` is nullable. Float columns may hold NaN (for example the mid of an empty book).
Bump :data:`SCHEMA_VERSION` whenever a table, column, type or manifest key changes meaning.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

import pyarrow as pa

SCHEMA_VERSION: int = 1
"""Version of this layout; readers reject any other value."""

# --- files -------------------------------------------------------------------------------------

MANIFEST_FILE = "manifest.json"
"""The manifest's file name inside a run folder. Written last: a folder without it is not a run."""

MANIFEST_TMP_FILE = "manifest.json.tmp"
"""Where the manifest is written before ``os.replace`` moves it into place."""

PARTIAL_SUFFIX = ".partial"
"""Suffix of the folder a writer fills before renaming it into place. Never read as a run."""

M_TICK_VALUE = "tick_value"
"""Manifest field of a market run: price units per tick (its MarketConfig's ``tick_value``). Market runs
record prices in ticks and money in ticks x lots; readers multiply by it to show price units."""

CHECKPOINTS_DIR = "checkpoints"
"""The folder of a runs folder where training writes checkpoints, one sub-folder per run."""
LOGS_DIR = "logs"
"""The folder of a runs folder where Ray's and RLlib's messages go, one ``<run>.log`` per run."""
TENSORBOARD_DIR = "tensorboard"
"""The folder of a runs folder where training writes TensorBoard event files, one sub-folder per run."""
SERVICE_FOLDERS = (CHECKPOINTS_DIR, LOGS_DIR, TENSORBOARD_DIR)
"""Folders the product itself writes into a runs folder beside the runs (checkpoints, logs, TensorBoard
files): listings skip them."""

TABLE_FILE_SUFFIX = ".parquet"
"""A table ``t`` is stored as ``t.parquet``."""

# --- manifest keys -----------------------------------------------------------------------------

M_SCHEMA_VERSION = "schema_version"
M_KIND = "kind"
M_NAME = "name"
M_CREATED = "created"
M_SCENARIO = "scenario"
M_CONFIG = "config"
M_SEED = "seed"
M_VERSIONS = "versions"
M_METRICS = "metrics"
M_TABLES = "tables"

T_FILE = "file"
T_ROWS = "rows"
T_BYTES = "bytes"
T_SHA256 = "sha256"

RESERVED_MANIFEST_KEYS: frozenset[str] = frozenset(
    {
        M_SCHEMA_VERSION,
        M_KIND,
        M_NAME,
        M_CREATED,
        M_SCENARIO,
        M_CONFIG,
        M_SEED,
        M_VERSIONS,
        M_METRICS,
        M_TABLES,
    }
)
"""Manifest keys the writer owns; extra fields may not use them."""

# --- run kinds (open-ended: any non-empty string is accepted; these are the ones the product writes)

KIND_BACKTEST = "backtest"
KIND_SIMULATE = "simulate"
KIND_TRAIN = "train"
KIND_SCENARIO = "scenario"

# --- table names -------------------------------------------------------------------------------

STEPS = "steps"
TRADES = "trades"
BOOK = "book"
TRAINING = "training"
HOLDINGS = "holdings"
FLOWS = "flows"
FLOW_PARTS = "flow_parts"
POPULATIONS = "populations"

# --- column names ------------------------------------------------------------------------------

STEP = "step"
TIME = "time"
AGENT = "agent"
PRICE = "price"
CASH = "cash"
POSITION = "position"
EQUITY = "equity"
ACTION = "action"
REWARD = "reward"

QTY = "qty"
MAKER = "maker"
TAKER = "taker"
MAKER_ORDER_ID = "maker_order_id"
TAKER_ORDER_ID = "taker_order_id"
TAKER_SIDE = "taker_side"

SIDE = "side"
LEVEL = "level"

ASSET = "asset"
WEIGHT = "weight"
CONTRIBUTION = "contribution"

ITERATION = "iteration"
ENV_STEPS = "env_steps"
TIME_S = "time_s"
KEY = "key"
VALUE = "value"

HORIZON = "horizon"
GAINER = "gainer"
PAYER = "payer"
AMOUNT = "amount"
FLOW_PART_COLUMNS: tuple[str, ...] = ("spread", "adverse_selection", "inventory", "fees", "total")
"""The ``flow_parts`` table's money columns: the parts of :meth:`market.analysis.FlowResult.parts`."""

POPULATION = "population"
COUNT = "count"
ORDERS = "orders"
FILLS = "fills"

# --- enumerated values -------------------------------------------------------------------------

BUY = "buy"
SELL = "sell"
BID = "bid"
ASK = "ask"

# --- schemas -----------------------------------------------------------------------------------

_TIME_TYPE = pa.timestamp("ns")
_ACTION_TYPE = pa.list_(pa.float64())


def _schema(table: str, *fields: pa.Field) -> pa.Schema:
    """Build a table schema tagged with its name and the layout version."""
    metadata = {b"market.table": table.encode(), b"market.schema_version": str(SCHEMA_VERSION).encode()}
    return pa.schema(list(fields), metadata=metadata)


STEPS_SCHEMA = _schema(
    STEPS,
    pa.field(STEP, pa.int64(), nullable=False),
    pa.field(TIME, _TIME_TYPE, nullable=True),
    pa.field(AGENT, pa.string(), nullable=False),
    pa.field(PRICE, pa.float64(), nullable=False),
    pa.field(CASH, pa.float64(), nullable=False),
    pa.field(POSITION, pa.float64(), nullable=False),
    pa.field(EQUITY, pa.float64(), nullable=False),
    pa.field(ACTION, _ACTION_TYPE, nullable=False),
    pa.field(REWARD, pa.float64(), nullable=False),
)

TRADES_SCHEMA = _schema(
    TRADES,
    pa.field(STEP, pa.int64(), nullable=False),
    pa.field(TIME, _TIME_TYPE, nullable=True),
    pa.field(PRICE, pa.float64(), nullable=False),
    pa.field(QTY, pa.int64(), nullable=False),
    pa.field(MAKER, pa.string(), nullable=False),
    pa.field(TAKER, pa.string(), nullable=False),
    pa.field(MAKER_ORDER_ID, pa.int64(), nullable=False),
    pa.field(TAKER_ORDER_ID, pa.int64(), nullable=False),
    pa.field(TAKER_SIDE, pa.string(), nullable=False),
)

BOOK_SCHEMA = _schema(
    BOOK,
    pa.field(STEP, pa.int64(), nullable=False),
    pa.field(SIDE, pa.string(), nullable=False),
    pa.field(LEVEL, pa.int32(), nullable=False),
    pa.field(PRICE, pa.float64(), nullable=False),
    pa.field(QTY, pa.int64(), nullable=False),
)

TRAINING_SCHEMA = _schema(
    TRAINING,
    pa.field(ITERATION, pa.int64(), nullable=False),
    pa.field(ENV_STEPS, pa.int64(), nullable=False),
    pa.field(TIME_S, pa.float64(), nullable=False),
    pa.field(KEY, pa.string(), nullable=False),
    pa.field(VALUE, pa.float64(), nullable=False),
)

HOLDINGS_SCHEMA = _schema(
    HOLDINGS,
    pa.field(STEP, pa.int64(), nullable=False),
    pa.field(TIME, _TIME_TYPE, nullable=True),
    pa.field(AGENT, pa.string(), nullable=False),
    pa.field(ASSET, pa.string(), nullable=False),
    pa.field(WEIGHT, pa.float64(), nullable=False),
    pa.field(CONTRIBUTION, pa.float64(), nullable=False),
)

FLOWS_SCHEMA = _schema(
    FLOWS,
    pa.field(STEP, pa.int64(), nullable=False),
    pa.field(HORIZON, pa.string(), nullable=False),
    pa.field(GAINER, pa.string(), nullable=False),
    pa.field(PAYER, pa.string(), nullable=False),
    pa.field(AMOUNT, pa.int64(), nullable=False),
)

FLOW_PARTS_SCHEMA = _schema(
    FLOW_PARTS,
    pa.field(HORIZON, pa.string(), nullable=False),
    pa.field(AGENT, pa.string(), nullable=False),
    *(pa.field(part, pa.int64(), nullable=False) for part in FLOW_PART_COLUMNS),
)

POPULATIONS_SCHEMA = _schema(
    POPULATIONS,
    pa.field(STEP, pa.int64(), nullable=False),
    pa.field(POPULATION, pa.string(), nullable=False),
    pa.field(COUNT, pa.int64(), nullable=False),
    pa.field(PRICE, pa.float64(), nullable=False),
    pa.field(CASH, pa.float64(), nullable=False),
    pa.field(POSITION, pa.float64(), nullable=False),
    pa.field(EQUITY, pa.float64(), nullable=False),
    pa.field(ORDERS, pa.int64(), nullable=False),
    pa.field(FILLS, pa.int64(), nullable=False),
)

TABLE_SCHEMAS: Mapping[str, pa.Schema] = MappingProxyType(
    {STEPS: STEPS_SCHEMA, TRADES: TRADES_SCHEMA, BOOK: BOOK_SCHEMA, TRAINING: TRAINING_SCHEMA, HOLDINGS: HOLDINGS_SCHEMA,
     FLOWS: FLOWS_SCHEMA, FLOW_PARTS: FLOW_PARTS_SCHEMA, POPULATIONS: POPULATIONS_SCHEMA}
)
"""Every table of this layout version, by name."""

ALLOWED_VALUES: Mapping[tuple[str, str], frozenset[str]] = MappingProxyType(
    {
        (TRADES, TAKER_SIDE): frozenset({BUY, SELL}),
        (BOOK, SIDE): frozenset({BID, ASK}),
    }
)
"""String columns that hold one of a fixed set of values, by ``(table, column)``."""


def table_file(table: str) -> str:
    """Return the file name a table is stored under inside a run folder.

    Args:
        table: A table name from :data:`TABLE_SCHEMAS`.

    Returns:
        The bare file name, for example ``"steps.parquet"``.
    """
    return f"{table}{TABLE_FILE_SUFFIX}"
