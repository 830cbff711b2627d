"""The small HTML writer of the report: values as table text, escaping, tags and tables.

Every function returns HTML (or text) as a string; user text goes through :func:`_e`.
"""

from __future__ import annotations

from html import escape
from typing import Any

import numpy as np
import pandas as pd

DASH = "\u2013"  # en dash: a missing value


def _missing(v: Any) -> bool:
    return v is None or (not isinstance(v, str | bool) and bool(pd.isna(v)))


def _num(v: Any) -> float:
    try:
        return float("nan") if _missing(v) else float(v)
    except (TypeError, ValueError):
        return float("nan")


def _yes(v: Any) -> bool:
    return v.strip().lower() in ("true", "1", "yes") if isinstance(v, str) else bool(v)


def fmt(v: Any, kind: str = "text") -> str:
    """A value as table text (not yet escaped): None and NaN as a dash, numbers by ``kind``."""
    if _missing(v):
        return DASH
    if kind == "text":
        return str(v)
    if kind == "bool":
        return "yes" if _yes(v) else "no"
    x = _num(v)
    if np.isnan(x):
        return str(v)
    formats = {"int": "{:,.0f}", "pct": "{:.2%}", "pct1": "{:.1%}", "ratio": "{:.3f}",
               "num": "{:.2f}", "stat": "{:+.2f}"}  # fmt: skip
    if kind == "price":
        return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:,.2f}" if abs(x) >= 1 else f"{x:.3g}"
    if kind == "p":
        return "< 0.001" if x < 0.001 else f"{x:.3f}"
    return formats.get(kind, "{:.4g}").format(x)


def _when(v: Any) -> str:
    """A time as ``2024-01-31`` (midnight) or ``2024-01-31 12:00 UTC``."""
    if _missing(v):
        return DASH
    try:
        t = pd.Timestamp(v)
    except (TypeError, ValueError):
        return str(v)
    t = t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")
    return t.strftime("%Y-%m-%d") if t == t.normalize() else t.strftime("%Y-%m-%d %H:%M UTC")


def _e(v: Any) -> str:
    return escape(str(v), quote=True)


def _tag(name: str, inner: str, **attrs: Any) -> str:
    """``<name attrs>inner</name>``; ``inner`` must already be HTML, attributes are escaped."""
    a = "".join(f' {k.rstrip("_").replace("_", "-")}="{_e(v)}"' for k, v in attrs.items() if v)
    return f"<{name}{a}>{inner}</{name}>"


def _table(head: list[str], rows: list[list[str]], cls: str = "", row_cls=None) -> str:
    """A table from escaped header texts and ready cell HTML (``<td>`` elements)."""
    thead = "".join(_tag("th", h) for h in head)
    body = "".join(
        _tag("tr", "".join(r), class_=row_cls[i] if row_cls else "") for i, r in enumerate(rows)
    )
    return _tag("table", f"<thead><tr>{thead}</tr></thead><tbody>{body}</tbody>", class_=cls)


def _kv(pairs: list[tuple[str, Any]], cls: str = "kv") -> str:
    rows = [[_tag("th", _e(k)), _tag("td", _e(v))] for k, v in pairs]
    return _tag("table", _tag("tbody", "".join(_tag("tr", "".join(r)) for r in rows)), class_=cls)


def _section(sid: str, title: str, inner: str) -> str:
    return _tag("section", f"<h2>{_e(title)}</h2>{inner}", id=sid)


def _p(text: str, cls: str = "") -> str:
    return _tag("p", text, class_=cls)
