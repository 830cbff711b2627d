"""The HTML kit every coincast page is built with: values as table text, escaping, tags,
tables, inlined pictures and the page shell. Text from users, servers or data always goes
through :func:`e`; the functions that take ``inner`` expect HTML that is already safe.

Examples
--------
>>> tag("p", e("1 < 2"), class_="note")
'<p class="note">1 &lt; 2</p>'
>>> kv([("coin", "bitcoin")])
'<table class="kv"><tbody><tr><th>coin</th><td>bitcoin</td></tr></tbody></table>'
"""

from __future__ import annotations

import base64
from html import escape
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..evaluation.verdicts import fmt_p, fmt_ratio
from ..series import utc

DASH = "\u2013"  # en dash: a missing value


# -- values as table text ------------------------------------------------------------------


def missing(v: Any) -> bool:
    """None or NaN: a value the table shows as a dash."""
    return v is None or (not isinstance(v, str | bool) and bool(pd.isna(v)))


def num(v: Any) -> float:
    """``v`` as a float; NaN when it is missing or not a number."""
    try:
        return float("nan") if missing(v) else float(v)
    except (TypeError, ValueError):
        return float("nan")


def yes(v: Any) -> bool:
    """A flag read back from CSV text (``"True"``, ``"1"``, ``"yes"``) or a bool."""
    return v.strip().lower() in ("true", "1", "yes") if isinstance(v, str) else bool(v)


def fmt(v: Any, kind: str = "text") -> str:
    """A value as table text (not yet escaped): None and NaN as a dash, numbers by ``kind``
    (``"ratio"`` and ``"p"`` with the digits that keep rounding from judging: ``fmt_ratio``
    and ``fmt_p`` of :mod:`coincast.evaluation.verdicts`)."""
    if missing(v):
        return DASH
    if kind == "text":
        return str(v)
    if kind == "bool":
        return "yes" if yes(v) else "no"
    x = num(v)
    if np.isnan(x):
        return str(v)
    formats = {"int": "{:,.0f}", "pct": "{:.2%}", "pct1": "{:.1%}", "num": "{:.2f}",
               "stat": "{:+.2f}"}  # fmt: skip
    if kind == "ratio":
        return fmt_ratio(x)
    if kind == "price":
        return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:,.2f}" if abs(x) >= 1 else f"{x:.3g}"
    if kind == "p":
        return fmt_p(x)
    return formats.get(kind, "{:.4g}").format(x)


def when(v: Any) -> str:
    """A time as ``2024-01-31`` (midnight) or ``2024-01-31 12:00 UTC``."""
    if missing(v):
        return DASH
    try:
        t = pd.Timestamp(v)
    except (TypeError, ValueError):
        return str(v)
    t = utc(t)
    return t.strftime("%Y-%m-%d") if t == t.normalize() else t.strftime("%Y-%m-%d %H:%M UTC")


def bar_time(ts: pd.Timestamp, index: pd.DatetimeIndex | None = None) -> str:
    """A bar's time as a person reads it: ``2024-01-05`` when every bar of ``index`` (default:
    just ``ts``) starts at midnight, else ``2024-01-05 13:00``; never a time zone (all UTC).

    Examples
    --------
    >>> bar_time(pd.Timestamp("2024-01-05", tz="UTC"))
    '2024-01-05'
    >>> bar_time(pd.Timestamp("2024-01-05 13:00", tz="UTC"))
    '2024-01-05 13:00'
    """
    index = pd.DatetimeIndex([ts]) if index is None else index
    daily = bool((index == index.normalize()).all())
    return ts.strftime("%Y-%m-%d" if daily else "%Y-%m-%d %H:%M")


# -- markup --------------------------------------------------------------------------------


def e(v: Any) -> str:
    """``v`` as text, escaped for HTML content and attribute values."""
    return escape(str(v), quote=True)


def tag(name: str, inner: str, **attrs: Any) -> str:
    """``<name attrs>inner</name>``; ``inner`` must already be HTML, attributes are escaped
    (``class_`` gives ``class``, ``data_x`` gives ``data-x``; empty values are left out)."""
    a = "".join(f' {k.rstrip("_").replace("_", "-")}="{e(v)}"' for k, v in attrs.items() if v)
    return f"<{name}{a}>{inner}</{name}>"


def p(text: str, cls: str = "") -> str:
    """A paragraph of ready HTML ``text``."""
    return tag("p", text, class_=cls)


def section(sid: str, title: str, inner: str) -> str:
    """A ``<section id=sid>`` headed by ``title`` (escaped)."""
    return tag("section", f"<h2>{e(title)}</h2>{inner}", id=sid)


def table(
    head: list[str], rows: list[list[str]], cls: str = "", row_cls: list[str] | None = None
) -> str:
    """A table from escaped header texts and ready cell HTML (``<td>`` elements)."""
    thead = "".join(tag("th", h) for h in head)
    body = "".join(
        tag("tr", "".join(r), class_=row_cls[i] if row_cls else "") for i, r in enumerate(rows)
    )
    return tag("table", f"<thead><tr>{thead}</tr></thead><tbody>{body}</tbody>", class_=cls)


def kv(pairs: list[tuple[str, Any]], cls: str = "kv") -> str:
    """A two-column table of names and values (both escaped)."""
    rows = [[tag("th", e(k)), tag("td", e(v))] for k, v in pairs]
    return tag("table", tag("tbody", "".join(tag("tr", "".join(r)) for r in rows)), class_=cls)


def image(path: Path, alt: str, caption: str | None = None) -> str:
    """The PNG at ``path`` inlined as a ``<figure>``, so the page stands alone."""
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    img = f'<img src="data:image/png;base64,{data}" alt="{e(alt)}">'
    return tag("figure", img + (tag("figcaption", e(caption)) if caption else ""))


def page(title: str, css: str, body: str) -> str:
    """A whole self-contained HTML document: ``title`` (escaped) as its title and first
    heading, ``css`` inlined, then ``body`` (ready HTML)."""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{e(title)}</title><style>{css}</style></head>\n<body><main>"
        f"<h1>{e(title)}</h1>{body}</main></body></html>\n"
    )
