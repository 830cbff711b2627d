"""Numbers the user sets, as arguments or environment variables, checked once.

Each check gives a one-line SourceError naming the argument or variable, the value, what is
required and an example: ``COINCAST_HTTP_DEADLINE is 'abc'; it must be a number > 0 and at
most 86400, e.g. COINCAST_HTTP_DEADLINE=60``.
"""

from __future__ import annotations

import math
from typing import Any

from ...errors import SourceError


def positive_number(value: Any, name: str, example: str, most: float = math.inf) -> float:
    """``value`` as a float in ``(0, most]``; else a SourceError naming ``name``."""
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if not ok or not math.isfinite(value) or not 0 < value <= most:
        raise SourceError(
            f"{name} is {value!r}; it must be a finite number > 0{_at_most(most)}, e.g. {example}"
        )
    return float(value)


def positive_int(value: Any, name: str, example: str, most: int | None = None) -> int:
    """``value`` as an int in ``[1, most]``; else a SourceError naming ``name``."""
    ok = isinstance(value, int) and not isinstance(value, bool)
    if not ok or value < 1 or (most is not None and value > most):
        limit = f" and at most {most}" if most is not None else ""
        raise SourceError(
            f"{name} is {value!r}; it must be a whole number >= 1{limit}, e.g. {example}"
        )
    return int(value)


def env_number(var: str, raw: str, example: str, most: float = math.inf) -> float:
    """Environment variable ``var`` (text ``raw``) as a float in ``(0, most]``."""
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or not 0 < value <= most:
        raise SourceError(
            f"{var} is {raw!r}; it must be a number > 0{_at_most(most)}, e.g. {var}={example}"
        )
    return value


def env_int(var: str, raw: str, example: str, most: int | None = None) -> int:
    """Environment variable ``var`` (text ``raw``) as an int in ``[1, most]``."""
    text = raw.strip()
    value = int(text) if text.isdigit() and len(text) <= 30 else 0
    if value < 1 or (most is not None and value > most):
        limit = f" and at most {most}" if most is not None else ""
        raise SourceError(
            f"{var} is {raw!r}; it must be a whole number >= 1{limit}, e.g. {var}={example}"
        )
    return value


def _at_most(most: float) -> str:
    return f" and at most {most:g}" if math.isfinite(most) else ""
