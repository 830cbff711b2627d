"""Textbook formulas the tests check coincast against, written out once from the papers."""

from __future__ import annotations

import math

import numpy as np


def pt_textbook(y_up: np.ndarray, x_up: np.ndarray) -> float:
    """Pesaran and Timmermann (1992), eq. (6)-(9), written out from the paper's notation."""
    n = len(y_up)
    P = np.mean(y_up == x_up)
    Py, Px = np.mean(y_up), np.mean(x_up)
    P_star = Py * Px + (1 - Py) * (1 - Px)
    V_P = P_star * (1 - P_star) / n
    V_Pstar = (
        (2 * Py - 1) ** 2 * Px * (1 - Px) / n
        + (2 * Px - 1) ** 2 * Py * (1 - Py) / n
        + 4 * Py * Px * (1 - Py) * (1 - Px) / n**2
    )
    return (P - P_star) / math.sqrt(V_P - V_Pstar)
