"""Single coin or many, judged against each other: pairwise tests, verdicts, the per-coin table
and its picture, on hand-made backtest tables whose answers are known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from coincast.evaluation.compare import (
    PAIR_COLUMNS,
    by_coin,
    comparison_verdicts,
    pairwise,
)
from coincast.evaluation.metrics import dm_test
from coincast.reporting.compare_plots import plot_by_coin

N = 30  #: cutoffs per coin


def rows(model: str, coin: str, y: np.ndarray, err: np.ndarray, step: int = 1) -> pd.DataFrame:
    """Backtest rows of ``model`` on ``coin``: forecasts ``y + err`` at cutoffs 0..len-1."""
    return pd.DataFrame({"coin": coin, "model": model, "cutoff": np.arange(len(y)),
                         "step": step, "y": y, "yhat": y + err})  # fmt: skip


def noise(seed: int, n: int = N) -> np.ndarray:
    """Errors of varying sign and size (so the Diebold-Mariano differential varies)."""
    rng = np.random.default_rng(seed)
    return rng.choice([-1.0, 1.0], n) * rng.uniform(0.5, 1.5, n)


@pytest.fixture
def pooled() -> pd.DataFrame:
    """Two coins a thousand times apart in price. On the cheap coin ``a`` is ten times more
    accurate than ``b``; on the dear coin ``b`` is slightly better, and in price units the
    dear coin's errors swamp the cheap coin's."""
    cheap, dear = np.full(N, 1.0), np.full(N, 1000.0)
    base_c, base_d = noise(1), noise(2)
    return pd.concat([
        rows("a", "cheap", cheap, 0.01 * base_c),
        rows("b", "cheap", cheap, 0.1 * noise(3)),
        rows("a", "dear", dear, 12.0 * base_d),
        rows("b", "dear", dear, 10.0 * noise(4)),
        # Not shared, so never compared: a step-2 forecast and a cutoff only b has.
        rows("a", "dear", dear[:3], np.full(3, 1e6), step=2),
        rows("b", "dear", np.array([1000.0]), np.array([1e6])).assign(cutoff=99),
    ], ignore_index=True)  # fmt: skip


def shared_errors(table: pd.DataFrame, model: str, scale: dict | None = None) -> np.ndarray:
    """Step-1 errors of ``model`` at the 2N (coin, cutoff) points both models forecast."""
    t = table[(table["model"] == model) & (table["step"] == 1) & (table["cutoff"] < N)]
    t = t.sort_values(["coin", "cutoff"])
    e = (t["yhat"] - t["y"]).to_numpy()
    return e / t["coin"].map(scale).to_numpy() if scale else e


def test_pairwise_uses_only_the_step1_forecasts_both_models_made(pooled):
    pairs = pairwise(pooled, ["a", "b"])
    assert list(pairs.columns) == list(PAIR_COLUMNS)
    (r,) = pairs.to_dict("records")
    ea, eb = shared_errors(pooled, "a"), shared_errors(pooled, "b")
    assert (r["a"], r["b"], r["n"]) == ("a", "b", 2 * N)  # b's extra cutoff is not counted
    assert r["mae_a"] == pytest.approx(np.mean(np.abs(ea)))
    assert r["mae_b"] == pytest.approx(np.mean(np.abs(eb)))
    assert r["ratio"] == pytest.approx(r["mae_a"] / r["mae_b"])
    stat, p = dm_test(ea, eb)
    assert r["dm_stat"] == pytest.approx(stat) and r["dm_pvalue"] == pytest.approx(p)


def test_scale_makes_pooled_coins_comparable(pooled):
    raw = pairwise(pooled, ["a", "b"]).iloc[0]
    assert raw["ratio"] > 1  # in price units the dear coin decides: b looks better
    scale = {"cheap": 0.1, "dear": 10.0}  # e.g. each coin's naive MAE
    scaled = pairwise(pooled, ["a", "b"], scale=scale).iloc[0]
    ea, eb = shared_errors(pooled, "a", scale), shared_errors(pooled, "b", scale)
    assert scaled["ratio"] == pytest.approx(np.mean(np.abs(ea)) / np.mean(np.abs(eb)))
    assert scaled["ratio"] < 0.8  # per unit of each coin's own scale, a is clearly better
    assert scaled["n"] == 2 * N


def three_models() -> pd.DataFrame:
    """``good`` beats ``bad`` clearly; ``twin`` has nearly ``good``'s errors."""
    y = np.full(N, 50.0)
    base = noise(5)
    return pd.concat([
        rows("good", "c", y, 0.2 * base),
        rows("bad", "c", y, 2.0 * noise(6)),
        rows("twin", "c", y, 0.2 * base * np.random.default_rng(7).uniform(0.9, 1.1, N)),
    ], ignore_index=True)  # fmt: skip


def test_better_is_named_only_when_the_difference_is_significant():
    pairs = pairwise(three_models(), ["bad", "good", "twin"]).set_index(["a", "b"])
    # the second of the pair is named when it is the better one (positive statistic)
    assert pairs.loc[("bad", "good"), "better"] == "good"
    assert pairs.loc[("bad", "good"), "dm_stat"] > 0
    assert pairs.loc[("bad", "twin"), "better"] == "twin"
    assert pairs.loc[("good", "twin"), "dm_pvalue"] >= 0.05
    assert pd.isna(pairs.loc[("good", "twin"), "better"])
    for r in pairs.to_dict("records"):
        assert pd.isna(r["better"]) == (r["dm_pvalue"] >= 0.05)


def test_verdicts_of_a_mixed_comparison_say_not_distinguishable():
    lines = comparison_verdicts(pairwise(three_models(), ["bad", "good", "twin"]))
    assert lines[0].startswith("good beats bad (MAE ratio 10.")
    assert lines[1].startswith("twin beats bad (MAE ratio ")
    assert lines[2].startswith("good vs twin: not distinguishable (MAE ratio ")


def test_too_few_shared_forecasts_are_not_tested():
    y = np.array([10.0, 11.0])
    table = pd.concat([rows("a", "c", y, np.array([0.1, -0.3])),
                       rows("b", "c", y, np.array([1.0, 2.0]))])  # fmt: skip
    pairs = pairwise(table, ["a", "b"])
    assert pairs.loc[0, "n"] == 2 and pairs.loc[0, "better"] is None
    assert comparison_verdicts(pairs) == ["a vs b: not tested (too few shared forecasts)"]


def test_a_model_missing_from_the_table_is_left_out_of_the_pairs(pooled):
    pairs = pairwise(pooled, ["a", "ghost", "b"])
    assert pairs[["a", "b"]].to_dict("records") == [{"a": "a", "b": "b"}]


def test_comparison_verdicts_wording():
    def pair(*values: object) -> pd.DataFrame:  # one row: its None values stay None
        return pd.DataFrame([values], columns=list(PAIR_COLUMNS))

    lines = [
        pair("lstm-single", "lstm-global", 40, 2.0, 1.0, 2.0, 3.1, 0.004, "lstm-global"),
        pair("lstm-single", "lstm-global+exog", 40, 1.0, 2.0, 0.5, -2.5, 0.017, "lstm-single"),
        pair("lstm-global", "lstm-global+exog", 40, 1.0, 1.05, 0.952381, -0.4, 0.62, None),
        pair("x", "y", 2, 1.0, 2.0, 0.5, None, None, None),
    ]
    assert [line for p in lines for line in comparison_verdicts(p)] == [
        "lstm-global beats lstm-single (MAE ratio 2.0000, DM p = 0.004)",
        "lstm-single beats lstm-global+exog (MAE ratio 0.5000, DM p = 0.017)",
        "lstm-global vs lstm-global+exog: not distinguishable (MAE ratio 0.9524, DM p = 0.62)",
        "x vs y: not tested (too few shared forecasts)",
    ]


def test_a_perfect_model_gives_no_mae_ratio_rather_than_nan():
    y = 100 + np.arange(N, dtype=float)
    table = pd.concat([rows("rough", "c", y, noise(8)), rows("exact", "c", y, np.zeros(N)),
                       rows("rougher", "c", y, 3 * noise(9))])  # fmt: skip
    lines = comparison_verdicts(pairwise(table, ["rough", "exact", "rougher"]))
    assert lines[0].startswith("exact beats rough (no MAE ratio, DM p ")
    assert not any("nan" in line for line in lines)


def scores(**mase: float) -> pd.DataFrame:
    """A coin's score rows: MASE per model, and MAE / naive = MASE / naive's MASE."""
    return pd.DataFrame({"model": list(mase), "mase": list(mase.values()),
                         "rel_mae": [v / mase["naive"] for v in mase.values()]})  # fmt: skip


def test_by_coin_names_the_model_with_the_lowest_mase():
    table = by_coin(
        {
            "bitcoin": scores(**{"lstm-single": 1.2, "lstm-global": 0.9, "naive": 1.0}),
            "ethereum": scores(**{"lstm-single": 0.8, "lstm-global": 1.1, "naive": 1.0}),
            "solana": scores(**{"lstm-global": 1.3, "naive": 1.25}),  # no single model here
        },
        ["lstm-single", "lstm-global", "naive"],
    )
    assert table["coin"].tolist() == ["bitcoin", "ethereum", "solana"]
    assert table["best"].tolist() == ["lstm-global", "lstm-single", "naive"]
    assert table.loc[0, "mase:lstm-global"] == 0.9
    assert table.loc[0, "rel_mae:lstm-global"] == pytest.approx(0.9)
    assert np.isnan(table.loc[2, "mase:lstm-single"])
    assert list(table.columns) == [
        "coin", "mase:lstm-single", "rel_mae:lstm-single", "mase:lstm-global",
        "rel_mae:lstm-global", "mase:naive", "rel_mae:naive", "best",
    ]  # fmt: skip


def test_plot_by_coin_writes_a_png(tmp_path):
    table = by_coin(
        {c: scores(**{"lstm-single": 1.0 + k / 10, "lstm-global": 0.95, "naive": 1.0})
         for k, c in enumerate(["bitcoin", "ethereum", "solana"])},
        ["lstm-single", "lstm-global", "naive"],
    )  # fmt: skip
    path = plot_by_coin(table, ["lstm-single", "lstm-global", "naive"],
                        tmp_path / "pics" / "by_coin.png", "MASE by coin")  # fmt: skip
    assert path == tmp_path / "pics" / "by_coin.png"
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5_000
