"""What fitting the LSTM leaves besides its weights: one dataclass, written to ``run.json``
and read back field by field in one place, so no part of it can be forgotten.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Generic, TypeVar

import pandas as pd

from ..coins import close_coins
from ..dataset.panel import Scalers
from ..errors import CoincastError, worded

T = TypeVar("T")


@dataclass
class FittedState:
    """The LSTM forecaster's fitted state, apart from the network's weights.

    Every field is a key of ``run.json`` (:class:`~coincast.models.runs.RunRecord`) with the
    same name: :meth:`to_record` and :meth:`from_record` convert all of them, so a field
    added here is saved and loaded without more code (and ``run.json``'s schema refuses to
    save a field it does not know).

    Examples
    --------
    >>> state = FittedState(coins=["bitcoin"], dropped={"bitcoin": 0})
    >>> FittedState.from_record(state.to_record()) == state
    True
    """

    coins: list[str] = field(default_factory=list)  #: trained on, in coin-embedding order
    features: list[str] = field(default_factory=list)  #: the network's input columns
    scalers: dict[str, Scalers] = field(default_factory=dict)  #: per coin, its training slice
    data: dict[str, dict[str, object]] = field(default_factory=dict)  #: per coin: data_info
    exog_data: dict[str, dict[str, object]] = field(default_factory=dict)  #: per exog-only coin
    skipped: list[str] = field(default_factory=list)  #: left out for too short a history
    dropped: dict[str, int] = field(default_factory=dict)  #: per coin, bars without exog bars

    def to_record(self) -> dict[str, Any]:
        """Every field as JSON-ready values (scalers as their parameters), by field name."""
        out = {f.name: copy.deepcopy(getattr(self, f.name)) for f in fields(self)}
        out["scalers"] = {c: s.to_dict() for c, s in self.scalers.items()}
        return out

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> FittedState:
        """Rebuild from :meth:`to_record`'s output (or ``run.json``, which holds its keys)."""
        values = {f.name: copy.deepcopy(record[f.name]) for f in fields(cls)}
        values["scalers"] = {c: Scalers.from_dict(s) for c, s in values["scalers"].items()}
        return cls(**values)

    def forecast_coin(
        self, coin: str | None, frame: pd.DataFrame | None, target_coin: str | None
    ) -> str:
        """The coin to forecast: ``coin``, the frame's coin, the ``target_coin`` or the only
        one trained on; an error naming the coins when none of those is forecast."""
        if not self.coins:
            raise CoincastError("the forecaster is not fitted yet: call fit(frame) first")
        if len(self.coins) == 1 and coin is None:
            return self.coins[0]  # a one-coin model may be applied to any coin's candles
        if coin is None and frame is not None and frame.attrs.get("coin") in self.scalers:
            coin = frame.attrs["coin"]
        coin = coin or target_coin
        if coin is None:
            head = f"this model forecasts {len(self.coins)} coins ({', '.join(self.coins)})"
            raise worded(f"{head}; say which: coin=COIN", f"{head}; say which: --coin COIN")
        if coin not in self.scalers:
            raise self._not_forecast(coin)
        return coin

    def _not_forecast(self, coin: str) -> CoincastError:
        """The error for a ``coin`` this model does not forecast: skipped in training, or
        never trained on (with the close matches among its coins)."""
        known = [c for c in self.coins if c in self.scalers]
        if coin in self.skipped:
            tail = (
                "was skipped in training (too short a history for the lookback); this model "
                f"forecasts {', '.join(known)}"
            )
        else:
            near = [c for c in close_coins(coin, known) if c in known]
            hint = f"; did you mean {' or '.join(near)}?" if near else ""
            tail = f"is not one of the coins this model was trained on: {', '.join(known)}{hint}"
        return worded(f"coin {coin} {tail}", f"--coin {coin} {tail}")


class StateField(Generic[T]):
    """A forecaster attribute kept in its :class:`FittedState` (``self.state``), so that
    ``forecaster.coins`` reads and writes ``forecaster.state.coins``."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, obj: Any, objtype: type | None = None) -> T:
        if obj is None:
            return self  # type: ignore[return-value]  # the descriptor itself, on the class
        return getattr(obj.state, self.name)

    def __set__(self, obj: Any, value: T) -> None:
        setattr(obj.state, self.name, value)


def undoer(model: Any, *, in_place: bool) -> Callable[[], None]:
    """A function that puts a forecaster back as it is now (its network, fitted state and
    results; and its weights too when the network is about to be trained ``in_place``), so
    that a fit that fails leaves nothing half-fitted."""
    net, state, result = model.net, model.state, model.result
    weights = copy.deepcopy(net.state_dict()) if in_place and net is not None else None

    def undo() -> None:
        model.net, model.state, model.result = net, state, result
        if net is not None and weights is not None:
            net.to("cpu").load_state_dict(weights)

    return undo
