"""Options shared by several commands, declared once as decorators (as sqlite-utils does).

``@lstm_options()`` gives a command one flag per :class:`~coincast.models.config.LSTMConfig`
field, generated from the field: the flag from its name (``val_fraction`` is
``--val-fraction``), the type from its annotation, the help from its description and the
default, shown but not applied: a flag not given is ``None``, so the ``--config`` file, else
the default, decides. The command receives one validated ``LSTMConfig`` in their place, so a
new field is a flag of ``train`` and ``backtest`` by itself. :data:`OVERRIDES` keeps the
flags whose names or values differ from their field's (``--learn``, ``--skip-short``...).

Each decorator rewrites the command's signature (Typer reads options from it): the one
parameter it names is replaced by the options, and receives what they build.
"""

from __future__ import annotations

import functools
import inspect
import types
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypedDict, TypeVar

import typer
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from rich.markup import escape

from ..coins import resolve_offline
from ..dataset.features import FEATURES
from ..errors import CoincastError
from ..evaluation.engines import ENGINES, make_engine
from ..models.config import ConfigError, LSTMConfig
from ..models.settings import lstm_config
from ..series import parse_time

if TYPE_CHECKING:
    from ..evaluation.engines import Engine

F = TypeVar("F", bound=Callable[..., Any])
KEYWORD_ONLY = inspect.Parameter.KEYWORD_ONLY

#: LSTMConfig fields that get no flag, each with the reason (none so far).
NOT_FLAGS: dict[str, str] = {}

LSTM_PANEL = "LSTM settings (flags override --config, which overrides the defaults)"
_CONFIG = "lstm_config_file"


class Series(TypedDict):
    """Which stored series to read: what ``@series_options`` gives the command."""

    interval: str
    source: str | None
    quote: str | None
    min_complete: float


def split_list(text: str) -> list[str]:
    """``"a, b,c"`` -> ``["a", "b", "c"]``."""
    return [t.strip() for t in text.split(",") if t.strip()]


def _same(value: Any) -> Any:
    return value


def _listed(text: str) -> list[str] | None:
    return split_list(text) or None


def _coins(text: str) -> list[str] | None:
    return [resolve_offline(c) for c in split_list(text)] or None


def _numbers(text: str) -> list[float] | None:
    """``"0.05, 0.5,0.95"`` -> ``[0.05, 0.5, 0.95]``; an error names a part that is no number."""
    out = []
    for part in split_list(text):
        try:
            out.append(float(part))
        except ValueError:
            raise CoincastError(
                f"--quantiles {text!r}: {part!r} is not a number; e.g. --quantiles 0.05,0.5,0.95"
            ) from None
    return out or None


@dataclass(frozen=True)
class Flag:
    """How one LSTMConfig field appears on the command line."""

    decls: tuple[str, ...]  #: the option's names: ("--lookback",), ("--recursive/--direct",)
    annotation: Any  #: what Typer turns the text into
    help: str
    show_default: str | bool = False  #: the default as --help shows it; False: not shown
    default: Any = None  #: the flag's value when it is not given
    convert: Callable[[Any], Any] = _same  #: flag value -> setting; None means not given


#: Flags that differ from what :func:`flag_for` generates for their field.
OVERRIDES: dict[str, dict[str, Any]] = {
    "target": {"decls": ("--learn",)},
    "target_coin": {"decls": ("--target",), "convert": resolve_offline},
    "recursive": {"decls": ("--recursive/--direct",), "show_default": "direct"},
    "exog": {"convert": _coins},
    "quantiles": {"convert": _numbers},
    "features": {
        "help": f"Comma-separated inputs: {', '.join(FEATURES)} "
        "(by default log_return, close with --learn price).",
    },
    "on_short": {
        "decls": ("--skip-short",),
        "annotation": bool,
        "default": False,
        "help": "Skip coins too short for the lookback (else an error).",
        "show_default": False,
        "convert": lambda skip: "skip" if skip else None,
    },
}


def flag_for(name: str, field: FieldInfo, default: Any = None) -> Flag:
    """The flag generated for the LSTMConfig field ``name`` (before :data:`OVERRIDES`).

    ``default`` is the field's default; for a list or tuple the flag takes comma-separated
    text, for a ``Literal`` any text (the config names the choices when it is not one).
    """
    kind, option = _bare(field.annotation), "--" + name.replace("_", "-")
    about = field.description or name.replace("_", " ")
    shown = _shown(default)
    if kind is bool:
        no = f"--no-{option[2:]}"
        return Flag(
            (f"{option}/{no}",), bool | None, _sentence(about), (option if default else no)[2:]
        )
    if typing.get_origin(kind) is Literal:
        return Flag(
            (option,), str | None, _sentence(f"{about}: {_or(typing.get_args(kind))}"), shown
        )
    if typing.get_origin(kind) in (list, tuple):
        return Flag(
            (option,), str | None, _sentence(f"{about} (comma-separated)"), shown, convert=_listed
        )
    typed = kind if kind in (int, float, str) else str
    return Flag((option,), typed | None, _sentence(about), shown)


def lstm_flags(
    own: Iterable[str] = (),
    defaults: Mapping[str, Any] | None = None,
    config: type[BaseModel] = LSTMConfig,
) -> dict[str, Flag]:
    """The flag of every field of ``config`` but those in :data:`NOT_FLAGS` and ``own``
    (which the command declares itself); ``defaults`` replace the defaults shown."""
    skip = set(own) | set(NOT_FLAGS)
    flags = {}
    for name, field in config.model_fields.items():
        if name not in skip:
            default = (defaults or {}).get(name, field.get_default(call_default_factory=True))
            flags[name] = replace(flag_for(name, field, default), **OVERRIDES.get(name, {}))
    return flags


def lstm_options(
    own: Iterable[str] = (), defaults: Mapping[str, Any] | None = None
) -> Callable[[F], F]:
    """Replace a command's parameter ``lstm`` by one flag per LSTMConfig field and
    ``--config``; the command receives the validated :class:`LSTMConfig` they make.

    Parameters
    ----------
    own
        Fields the command declares as options of its own (they get no flag here).
    defaults
        Settings under the ``--config`` file, for this command (shown as the defaults).
    """
    flags = lstm_flags(own, defaults)
    about = "TOML or YAML file of LSTM settings."
    params = [
        _opt(_CONFIG, Path | None, None, "--config", "-c", help=about, rich_help_panel=LSTM_PANEL)
    ]
    params += [_param(f"lstm_{name}", f.annotation, _option(f)) for name, f in flags.items()]

    def build(values: dict[str, Any]) -> LSTMConfig:
        given = {}
        for name, flag in flags.items():
            value = values[f"lstm_{name}"]
            value = None if value is None else flag.convert(value)
            if value is not None:
                given[name] = value
        try:
            return lstm_config(values[_CONFIG], given, defaults)
        except ConfigError as exc:
            if exc.field not in given:
                raise
            raise ConfigError(flag_error(exc, flags[exc.field])) from None

    return gather("lstm", params, build)


def flag_error(exc: ConfigError, flag: Flag) -> str:
    """The message of a setting given by ``flag``, in the flag's words: "--lr is inf; it
    must be a finite number > 0 and <= 10, e.g. --lr 0.001"."""
    option = flag.decls[0].split("/")[0]
    example = exc.example
    if isinstance(example, bool) or example is None:
        return exc.spelled(option, None)
    text = ",".join(map(str, example)) if isinstance(example, list | tuple) else str(example)
    return exc.spelled(option, f"{option} {text}")


def series_options(interval_help: str = "Bar interval.") -> Callable[[F], F]:
    """Replace a command's parameter ``series`` by ``--interval``, ``--source``, ``--quote``
    and ``--min-complete``: which stored series to read. It receives them as a dict of those
    names."""
    params = [
        _opt("interval", str, "1d", "--interval", "-i", help=interval_help),
        _opt("source", str | None, None, "--source", "-s", help="Stored source to read."),
        _opt("quote", str | None, None, "--quote", "-q", help="Quote currency to read."),
        _opt("min_complete", float, 1.0, "--min-complete", min=0.0, max=1.0,
             help="Bars resampled from finer data: keep one with at least this share of its "
                  "sub-bars (1: whole bars only; 0.9 allows 10 % missing)."),
    ]  # fmt: skip
    return gather("series", params, dict)


def walk_forward_options() -> Callable[[F], F]:
    """Replace a command's parameter ``walk`` by the options of a walk-forward backtest; it
    receives them as a dict of :func:`~coincast.evaluation.run.run_backtest` arguments."""
    params = [
        _opt("horizon", int, 1, "--horizon", min=1, help="Steps forecast at each cutoff."),
        _opt("test", int | None, None, "--test", help="Test on the last N bars [365]."),
        _opt("start", str | None, None, "--start", help="First test bar (with --end)."),
        _opt("end", str | None, None, "--end", help="Last test bar."),
        _opt("refit_every", int, 30, "--refit-every", min=1, help="Refit every K cutoffs."),
        _opt("window", str, "expanding", "--window", help="expanding or rolling."),
        _opt("window_size", int | None, None, "--window-size", help="Rows of a rolling window."),
        _opt("refit_epochs", int, 5, "--refit-epochs", min=1, help="LSTM epochs per refit."),
        _opt("warm_start", bool, True, "--warm-start/--scratch", help="LSTM refits continue."),
    ]

    def build(values: dict[str, Any]) -> dict[str, Any]:
        start, end = parse_time(values["start"], "--start"), parse_time(values["end"], "--end")
        return values | {"start": start, "end": end}

    return gather("walk", params, build)


@dataclass(frozen=True)
class EngineChoice:
    """Where a command's jobs run: what ``@engine_options`` gives the command."""

    name: str | None = None  #: local or dask; None: no engine, one job after another here
    address: str | None = None  #: the Dask scheduler's (with dask; default a cluster here)
    workers: int | None = None  #: jobs at once (default: the cores)

    def open(self) -> AbstractContextManager[Engine | None]:
        """The engine, closed on leaving the ``with``; None when none was asked for."""
        if self.name is None:
            return nullcontext(None)
        return make_engine(self.name, address=self.address, workers=self.workers)


def engine_options(
    engine_help: str,
    default: str | None = None,
    workers_help: str = "Jobs at once (with --engine).",
) -> Callable[[F], F]:
    """Replace a command's parameter ``engine`` by ``--engine``, ``--workers`` and
    ``--address``; it receives an :class:`EngineChoice`. ``default``: the engine when
    ``--engine`` is not given (None: no engine)."""
    params = [
        _opt("engine", str | None, default, "--engine", help=engine_help),
        _opt("workers", int | None, None, "--workers", min=1, show_default="the cores",
             help=workers_help),
        _opt("address", str | None, None, "--address", show_default="a cluster started here",
             help="Dask scheduler address (with --engine dask), e.g. tcp://10.0.0.5:8786."),
    ]  # fmt: skip

    def build(values: dict[str, Any]) -> EngineChoice:
        name, address, workers = values["engine"], values["address"], values["workers"]
        if name is not None and name not in ENGINES:
            raise CoincastError(f"--engine {name}: use {' or '.join(ENGINES)}")
        if name is None and (workers is not None or address is not None):
            used = "--workers" if workers is not None else "--address"
            raise CoincastError(f"{used} is for an engine: add --engine local or --engine dask")
        if address is not None and name != "dask":
            raise CoincastError("--address is for --engine dask; drop it or use --engine dask")
        return EngineChoice(name, address, workers)

    return gather("engine", params, build)


def gather(
    name: str, params: Sequence[inspect.Parameter], build: Callable[[dict[str, Any]], Any]
) -> Callable[[F], F]:
    """Replace the keyword-only parameter ``name`` of a command by ``params`` (Typer sees
    each one); the command receives ``build({param: value})`` as ``name``."""
    names = [p.name for p in params]

    def decorate(fn: F) -> F:
        sig, hints = inspect.signature(fn), typing.get_type_hints(fn)
        own = [
            p.replace(annotation=hints.get(p.name, p.annotation)) for p in sig.parameters.values()
        ]
        at = [p.name for p in own].index(name)
        if own[at].kind is not KEYWORD_ONLY:
            raise TypeError(f"{fn.__name__}: {name} must be keyword-only (after *)")
        new = sig.replace(
            parameters=[*own[:at], *params, *own[at + 1 :]],
            return_annotation=hints.get("return", sig.return_annotation),
        )

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            values = {n: kwargs.pop(n) for n in names}  # Typer passes every option by name
            return fn(*args, **kwargs, **{name: build(values)})

        wrapper.__signature__ = new  # type: ignore[attr-defined]
        wrapper.__annotations__ = {p.name: p.annotation for p in new.parameters.values()} | {
            "return": new.return_annotation
        }
        return wrapper  # type: ignore[return-value]

    return decorate


def _param(name: str, annotation: Any, option: Any) -> inspect.Parameter:
    return inspect.Parameter(name, KEYWORD_ONLY, default=option, annotation=annotation)


def _opt(name: str, annotation: Any, default: Any, *decls: str, **kw: Any) -> inspect.Parameter:
    return _param(name, annotation, typer.Option(default, *decls, **kw))


def _option(flag: Flag) -> Any:
    return typer.Option(
        flag.default,
        *flag.decls,
        help=escape(flag.help),
        show_default=flag.show_default,
        rich_help_panel=LSTM_PANEL,
    )


def _bare(annotation: Any) -> Any:
    """``int | None`` -> ``int``."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return args[0] if len(args) == 1 else annotation
    return annotation


def _shown(default: Any) -> str | bool:
    if default is None or (isinstance(default, list | tuple) and not default):
        return False
    if isinstance(default, list | tuple):
        return ",".join(map(str, default))
    return str(default)


def _sentence(text: str) -> str:
    text = text[:1].upper() + text[1:]
    return text if text.endswith(".") else f"{text}."


def _or(choices: Sequence[Any]) -> str:
    names = [str(c) for c in choices]
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"
