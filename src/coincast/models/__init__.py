"""Forecasting models: the LSTM (network and user-facing forecaster)."""

from __future__ import annotations

from .forecaster import LSTMConfig, LSTMForecaster
from .lstm import LSTMNet

__all__ = ["LSTMConfig", "LSTMForecaster", "LSTMNet"]
