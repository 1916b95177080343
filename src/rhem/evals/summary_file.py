"""``summary.json`` on disk: strict JSON, since DVC and browsers reject ``NaN``.

A rate without data (a run whose last steps have no coding episodes, a detector
reference at chance) is ``null`` in the file and NaN in memory, where plots and tables
skip it.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

_INTERVAL = {"rate", "ci_low", "ci_high"}


def _nan_to_null(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _nan_to_null(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_nan_to_null(v) for v in node]
    return None if isinstance(node, float) and math.isnan(node) else node


def write_summary(summary: dict[str, Any], path: Path) -> None:
    """Write ``summary`` with NaN as ``null``."""
    text = json.dumps(_nan_to_null(summary), indent=2, sort_keys=True, allow_nan=False)
    Path(path).write_text(text + "\n")


def read_summary(path: Path) -> dict[str, Any]:
    """Read a summary back with its ``null`` interval values as NaN."""
    def intervals(node: dict[str, Any]) -> dict[str, Any]:
        if set(node) == _INTERVAL:
            return {k: math.nan if v is None else v for k, v in node.items()}
        return node

    return json.loads(Path(path).read_text(), object_hook=intervals)
