"""Shared test setup: the tests folder is importable (for the reference book) and torch stays on one thread."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
