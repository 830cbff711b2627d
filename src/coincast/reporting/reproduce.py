"""How a backtest was made, the end of its report: the Settings section (what it ran on, the
LSTM's settings) and the Reproduce section, with the command line that reruns it, built from
what its result records (``meta``: the coins, the series, the walk-forward spec and the LSTM's
settings) by :func:`backtest_command`. A test period given by its bars (``--start``/``--end``)
is pinned by its first and last bar, so data fetched since then does not move it; one given
as the last N bars (``--test N``) is asked again as ``--test N``, which on the same data is
the same period.

Examples
--------
>>> meta = {"coin": "bitcoin", "interval": "1d", "horizon": 1, "models": ["drift", "naive"],
...         "test_start": "2024-01-02T00:00:00+00:00", "test_end": "2024-03-01T00:00:00+00:00",
...         "refit_every": 30, "window": "expanding",
...         "data": {"source": "synthetic", "quote": "usd"}}
>>> print(backtest_command(meta))
coincast backtest bitcoin --models drift,naive \\
  --interval 1d --source synthetic --quote usd \\
  --horizon 1 --start 2024-01-02 --end 2024-03-01 --refit-every 30
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from ..models.config import LSTMConfig
from ..series import utc
from . import html
from .html import fmt
from .inputs import INPUTS, _clean

#: settings the backtest command gives their own flags (or sets itself), not LSTM flags
NOT_LSTM_FLAGS = ("horizon", "target_coin", "refit_epochs", "warm_start")
#: the backtest command's own defaults for LSTM settings (``lstm_options(defaults=...)``)
BACKTEST_DEFAULTS = {"log_every": 0}
#: LSTM settings whose flag is not ``--`` + the name with dashes
FLAG_NAMES = {"target": "--learn"}
#: a bool setting's two flags (on, off) where they are not ``--name``/``--no-name``
BOOL_FLAGS = {"recursive": ("--recursive", "--direct")}
#: settings shown as one flag when they have one value: (value, flag)
SWITCHES = {"on_short": ("skip", "--skip-short")}
WIDTH = 76  # characters per line of the command, before its continuation


def backtest_command(meta: Mapping[str, Any]) -> str:
    """The ``coincast backtest ...`` line that reruns the backtest ``meta`` describes: the
    coins, models and training variants, the stored series, the walk-forward spec, and every
    LSTM setting that differs from the command's default; each group of flags on lines of its
    own, joined by ``\\``.

    Parameters
    ----------
    meta
        A :class:`~coincast.evaluation.result.BacktestResult`'s ``meta``.

    Returns
    -------
    str
        Shell text; every value is quoted where the shell needs it.
    """
    config = dict(meta.get("config") or {})
    groups = [
        ["coincast", "backtest", *_coins(meta), *_models(meta)],
        _series(meta),
        _walk(meta, config),
        _lstm(config),
    ]
    lines = [line for g in groups if g for line in _wrap([shlex.quote(a) for a in g])]
    return " \\\n  ".join(lines)


def _wrap(words: list[str], width: int = WIDTH) -> list[str]:
    """Words as lines of at most about ``width`` characters, broken only before a flag."""
    lines = [words[0]]
    for word in words[1:]:
        if word.startswith("--") and len(lines[-1]) + len(word) + 1 > width:
            lines.append(word)
        else:
            lines[-1] += " " + word
    return lines


def _coins(meta: Mapping[str, Any]) -> list[str]:
    """The backtested coin first (the command's default target), then the others."""
    return list(dict.fromkeys([str(meta.get("coin")), *map(str, meta.get("coins") or [])]))


def _models(meta: Mapping[str, Any]) -> list[str]:
    args = ["--models", ",".join(map(str, meta["models"]))] if meta.get("models") else []
    training = [str(t).removeprefix("lstm-") for t in meta.get("training") or []]
    return args + (["--compare-training", ",".join(training)] if training else [])


def _series(meta: Mapping[str, Any]) -> list[str]:
    data = meta.get("data") or {}
    args = ["--interval", str(meta.get("interval", "1d"))]
    for flag, value in (("--source", data.get("source")), ("--quote", data.get("quote"))):
        if value:
            args += [flag, str(value)]
    if data.get("min_complete") not in (None, 1, 1.0):
        args += ["--min-complete", str(data["min_complete"])]
    return args


def _time(value: Any) -> str:
    """A bar's time as the command reads it: ``2024-01-05``, or ``2024-01-05T13:00``."""
    t = utc(pd.Timestamp(value))
    return t.strftime("%Y-%m-%d") if t == t.normalize() else t.strftime("%Y-%m-%dT%H:%M")


def _walk(meta: Mapping[str, Any], config: Mapping[str, Any]) -> list[str]:
    """The walk-forward flags; refit epochs and warm start only where they differ from the
    command's defaults (5, warm)."""
    args = ["--horizon", str(meta.get("horizon", 1))]
    if meta.get("test"):  # asked as the last N bars: asked again so
        args += ["--test", str(meta["test"])]
    else:
        args += ["--start", _time(meta["test_start"]), "--end", _time(meta["test_end"])]
    args += ["--refit-every", str(meta.get("refit_every", 30))]
    if meta.get("window", "expanding") != "expanding":
        args += ["--window", str(meta["window"])]
    if meta.get("window_size"):
        args += ["--window-size", str(meta["window_size"])]
    if config.get("refit_epochs") not in (None, 5):
        args += ["--refit-epochs", str(config["refit_epochs"])]
    if config.get("warm_start") is False:
        args.append("--scratch")
    if meta.get("intervals", "auto") != "auto":
        args += ["--intervals", str(meta["intervals"])]
    return args


def _lstm(config: Mapping[str, Any]) -> list[str]:
    """A flag for every recorded LSTM setting that differs from the backtest's default."""
    defaults = LSTMConfig(**BACKTEST_DEFAULTS).model_dump(mode="json")
    args: list[str] = []
    for name, value in config.items():
        if name in NOT_LSTM_FLAGS or name not in defaults or value is None:
            continue
        if _plain(value) != _plain(defaults[name]):
            args += _flag(name, value)
    return args


def _plain(value: Any) -> Any:
    """Lists and tuples alike, so a recorded list equals a default tuple."""
    return list(value) if isinstance(value, list | tuple) else value


def _flag(name: str, value: Any) -> list[str]:
    """The flag (and its text) that sets the LSTM setting ``name`` to ``value``."""
    if name in SWITCHES:
        on, flag = SWITCHES[name]
        return [flag] if value == on else []
    option = FLAG_NAMES.get(name, "--" + name.replace("_", "-"))
    if isinstance(value, bool):
        on, off = BOOL_FLAGS.get(name, (option, "--no-" + option[2:]))
        return [on if value else off]
    if isinstance(value, Iterable) and not isinstance(value, str):
        return [option, ",".join(map(str, value))]
    return [option, str(value)]


# ---------------------------------------------------------------- the sections


def _facts(meta: dict) -> list[tuple[str, str]]:
    """What the backtest ran on: the coin, the test period, the walk and the data."""
    data = meta.get("data") or {}
    facts = [
        ("coin", fmt(meta.get("coin"))),
        ("interval", fmt(meta.get("interval"))),
        ("horizon", f"{fmt(meta.get('horizon'))} bar(s) ahead"),
        (
            "test period",
            f"{html.when(meta.get('test_start'))} to {html.when(meta.get('test_end'))}",
        ),
        ("cutoffs (forecast origins)", fmt(meta.get("cutoffs"), "int")),
        ("refit every", f"{fmt(meta.get('refit_every'))} cutoff(s)"),
        ("training window", fmt(meta.get("window"))),
        ("data", f"{fmt(data.get('source'))}, quote {fmt(data.get('quote'))}"),
        ("data range", f"{html.when(data.get('start'))} to {html.when(data.get('end'))}"),
        ("data rows", fmt(data.get("rows"), "int")),
    ]
    if meta.get("coins"):  # a global LSTM
        facts.append(("LSTM trained on", ", ".join(map(str, meta["coins"]))))
    if meta.get("training"):
        facts.append(("LSTM variants", ", ".join(map(str, meta["training"]))))
    return facts


def settings(meta: dict) -> str:
    """What the backtest ran on, and the LSTM's settings."""
    config = _clean(meta.get("config") or {})
    show = {k: json.dumps(v) if isinstance(v, list | dict | tuple) else fmt(v)
            for k, v in config.items()}  # fmt: skip
    model = (
        html.tag("h3", "Model settings (LSTM)") + html.kv(list(show.items()))
        if show
        else html.p("No model settings were recorded.")
    )
    return html.section("settings", "Settings", html.kv(_facts(meta)) + model)


def section(meta: dict, built: str) -> str:
    """The command that reruns the backtest, the versions it ran with, and how to rebuild
    the page."""
    facts = [("backtest created", html.when(meta.get("created")))]
    facts += [(k, fmt(v)) for k, v in (meta.get("packages") or {}).items()]
    data = meta.get("data") or {}
    command = html.p(
        "To rerun the backtest, with the same stored candles (source "
        f"{html.e(fmt(data.get('source')))}, {html.e(html.when(data.get('start')))} to "
        f"{html.e(html.when(data.get('end')))}) and the package versions below:"
    ) + html.tag("pre", html.tag("code", html.e(backtest_command(meta))), class_="command")
    body = (
        command
        + html.kv(facts)
        + html.p(
            "This page was built "
            + html.tag("span", html.e(built), class_="built")
            + ". The backtest folder "
            "holds its inputs (" + ", ".join(f"<code>{n}</code>" for n in INPUTS) + "); "
            "<code>coincast report DIR</code> rebuilds the page from them."
        )
    )
    return html.section("reproduce", "Reproduce", body)
