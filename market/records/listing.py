"""Listing the runs under a runs folder: :func:`list_runs`, with broken and unfinished folders named."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


from market.errors import RecordError, one_line
from market.records import schema as s
from market.records.reader import RunReader


# --- listing ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class RunSummary:
    """One folder in a runs folder: a good run's headline facts, or why the folder is not one.

    Attributes:
        path: The folder.
        name: The run's name (for an incomplete run, the folder name without ``.partial``).
        kind: What produced the run; ``None`` when broken.
        created: When the run started (UTC); ``None`` when broken.
        scenario: The scenario's name, if any.
        metrics: The manifest's top-level numeric metrics (nested ones, such as per agent, are left out).
        tables: The tables the run holds.
        incomplete: A ``.partial`` folder: a writer is running, or one was killed.
        error: Why the folder is not a readable run; ``None`` for a good one.
    """

    path: Path
    name: str
    kind: str | None = None
    created: datetime | None = None
    scenario: str | None = None
    metrics: Mapping[str, float] = field(default_factory=dict)
    tables: tuple[str, ...] = ()
    incomplete: bool = False
    error: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the folder is a complete run that opened cleanly."""
        return self.error is None


def _headline(metrics: Mapping[str, Any]) -> dict[str, float]:
    """Keep the top-level numeric metrics."""
    return {
        key: float(value)
        for key, value in metrics.items()
        if isinstance(value, int | float) and not isinstance(value, bool)
    }


def list_runs(root: Path | str, *, verify: bool = False) -> list[RunSummary]:
    """List the runs in a runs folder, newest first; a broken folder never hides the good ones.

    Every non-hidden sub-folder appears once: a complete run with its headline facts; a ``.partial``
    folder as ``incomplete`` with an ``error``; any other folder that does not open with the reader's
    one-line ``error``. Good runs sort by ``created``, broken folders by modification time, together,
    newest first. Files in the runs folder, names starting with ``.`` and the folders the product
    writes beside the runs (:data:`market.records.schema.SERVICE_FOLDERS`: checkpoints, logs) are ignored.

    Args:
        root: The runs folder. One that does not exist yet holds no runs.
        verify: Also hash every table file (slow for large runs); without it sizes, Parquet footers
            and row counts are checked. :class:`RunReader` verifies checksums when a run is opened.

    Returns:
        One summary per sub-folder.

    Raises:
        RecordError: ``root`` exists but is not a directory, or cannot be listed.
    """
    root = Path(root)
    if not root.exists():
        return []
    if not root.is_dir():
        raise RecordError(f"{root}: runs folder is not a directory")
    try:
        entries = sorted(os.scandir(root), key=lambda entry: entry.name)
    except OSError as exc:
        raise RecordError(f"{root}: cannot list runs: {one_line(exc)}") from exc
    ranked: list[tuple[datetime, RunSummary]] = []
    for entry in entries:
        if entry.name.startswith(".") or entry.name in s.SERVICE_FOLDERS or not entry.is_dir():
            continue
        path = Path(entry.path)
        try:
            modified = datetime.fromtimestamp(entry.stat().st_mtime, tz=UTC)
        except FileNotFoundError:  # renamed or removed while listing (a writer finishing)
            continue
        if entry.name.endswith(s.PARTIAL_SUFFIX):
            summary = RunSummary(
                path=path,
                name=entry.name.removesuffix(s.PARTIAL_SUFFIX),
                incomplete=True,
                error=f"{path}: incomplete run (the writer is still running, or was killed)",
            )
            ranked.append((modified, summary))
            continue
        try:
            reader = RunReader(path, verify=verify)
        except RecordError as exc:
            ranked.append((modified, RunSummary(path=path, name=entry.name, error=str(exc))))
            continue
        created = reader.created
        if created.tzinfo is None:
            created = created.replace(tzinfo=UTC)
        summary = RunSummary(
            path=path,
            name=reader.name,
            kind=reader.kind,
            created=created,
            scenario=reader.scenario,
            metrics=_headline(reader.metrics),
            tables=reader.tables,
        )
        ranked.append((created, summary))
    ranked.sort(key=lambda pair: pair[0], reverse=True)
    return [summary for _, summary in ranked]
