"""Search spaces: what a file may say, and every mistake as one line naming the setting."""

from __future__ import annotations

import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from coincast.data.sources import synthetic_candles
from coincast.evaluation.sweep import Periods, SpaceError, load_space, parse_period, parse_space

SPACE = """
coins = ["bitcoin"]
intervals = ["1d", "4h"]

[params]
hidden = [16, 32, 64]
lookback = {low = 10, high = 60, step = 10}
lr = {low = 1e-4, high = 1e-2, log = true}
features = [["log_return"], ["log_return", "range"]]
head = ["point", "quantile"]

[fixed]
epochs = 2

[walk]
refit_every = 10
"""


def test_a_space_file_gives_optuna_its_distributions(tmp_path):
    path = tmp_path / "space.toml"
    path.write_text(SPACE)
    s = load_space(path)
    d = s.distributions()
    assert d["hidden"] == CategoricalDistribution([16, 32, 64])
    assert d["lookback"] == IntDistribution(10, 60, step=10)
    assert d["lr"] == FloatDistribution(1e-4, 1e-2, log=True)
    assert s.coins == ("bitcoin",) and s.intervals == ("1d", "4h")
    assert s.walk == {"refit_every": 10, "refit_epochs": 5}
    feats = d["features"].choices[1]
    cfg = s.config({"hidden": 32, "lookback": 20, "lr": 0.001, "features": feats, "head": "point"})
    assert (cfg.hidden, cfg.lookback, cfg.features, cfg.epochs, cfg.log_every) == (
        32, 20, ["log_return", "range"], 2, 0,
    )  # fmt: skip


def test_the_grid_lists_every_value():
    s = parse_space({"params": {"hidden": [4, 8], "lookback": {"low": 10, "high": 30, "step": 10}}})
    assert s.grid() == {"hidden": [4, 8], "lookback": [10, 20, 30]}
    with pytest.raises(SpaceError, match=r"grid sampler needs .* lr is a continuous range"):
        parse_space({"params": {"lr": {"low": 1e-4, "high": 1e-2}}}).grid()


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (
            {"params": {"hiden": [8]}},
            r"unknown setting 'hiden' in \[params\]; did you mean "
            r"'hidden'\? known: lookback, horizon, hidden",
        ),
        (
            {"params": {"embedding": [True]}},
            r"unknown setting 'embedding'.*did you mean "
            r"'coin_embedding'",
        ),
        (
            {"fixed": {"epoch": 1}, "params": {"hidden": [8]}},
            r"'epoch' in \[fixed\]; did you "
            r"mean 'epochs'",
        ),
        (
            {"params": {"lookback": {"low": 60, "high": 10}}},
            r"lookback is an empty range: low 60 "
            r"> high 10",
        ),
        ({"params": {"hidden": []}}, r"hidden lists no choice"),
        ({"params": {"hidden": 8}}, r"hidden is 8; give choices .* belongs in \[fixed\]"),
        (
            {"params": {"lookback": {"low": 1.5, "high": 10}}},
            r"lookback low is 1.5; it must be a "
            r"whole number",
        ),
        ({"params": {"lr": {"low": "a", "high": 1}}}, r"lr low is 'a'; it must be a number"),
        ({"params": {"head": {"low": 1, "high": 2}}}, r"head takes choices, not a range"),
        (
            {"params": {"hidden": [0, 8]}},
            r"\[params\] hidden: hidden is 0; it must be a whole "
            r"number from 1 to",
        ),
        ({"params": {"hidden": ["big"]}}, r"\[params\] hidden: hidden is 'big'"),
        (
            {"params": {"head": ["point", "tree"]}},
            r"head is 'tree'; it must be point, quantile "
            r"or gaussian",
        ),
        ({"params": {"dropout": {"low": 0.0, "high": 1.0}}}, r"dropout: dropout is 1.0; it must"),
        (
            {"params": {"lr": {"low": 0.0, "high": 1e-2, "log": True}}},
            r"lr: a log range needs "
            r"low > 0",
        ),
        ({"params": {"lr": {"low": 1e-4, "hi": 1e-2}}}, r"lr has unknown key 'hi'"),
        ({"params": {"hidden": [8, 8]}}, r"hidden lists a value twice"),
        ({"params": {"hidden": [8]}, "fixed": {"hidden": 8}}, r"hidden is both searched"),
        ({"params": {"horizon": [1, 2]}}, r"horizon is not searched"),
        ({"params": {"target": ["returns", "volatility"]}}, r"target 'volatility' is not swept"),
        ({"params": {}}, r"names no setting to search"),
        ({"params": {"hidden": [8]}, "trials": 3}, r"unknown key 'trials'"),
        ({"params": {"hidden": [8]}, "walk": {"refit": 3}}, r"unknown setting 'refit' in \[walk\]"),
        ({"params": {"hidden": [8]}, "walk": {"refit_every": 0}}, r"refit_every is 0"),
        ({"params": {"hidden": [8]}, "fixed": {"epochs": 0}}, r"space \[fixed\]: epochs is 0"),
        ({"params": {"hidden": [8]}, "coins": "bitcoin"}, r"coins must be a list of names"),
    ],
)
def test_every_mistake_is_one_line_naming_the_setting(raw, message):
    with pytest.raises(SpaceError, match=message) as info:
        parse_space(raw)
    assert "\n" not in str(info.value) and str(info.value).startswith("space")


def test_a_combination_lstmconfig_refuses_is_named():
    s = parse_space({"params": {"recursive": [True], "features": [["log_return", "range"]]}})
    with pytest.raises(SpaceError, match=r"the sampled settings \(recursive=True, features=\["
                       r"'log_return', 'range'\]\) are refused: recursive mode"):  # fmt: skip
        s.config({"recursive": True, "features": '["log_return", "range"]'})


def test_a_bad_file_is_one_line(tmp_path):
    with pytest.raises(SpaceError, match=r"space file .*nope.toml not found"):
        load_space(tmp_path / "nope.toml")
    (tmp_path / "bad.toml").write_text("[params\nhidden = 1")
    with pytest.raises(SpaceError, match="is not valid TOML"):
        load_space(tmp_path / "bad.toml")


def test_periods_default_to_a_year_each_and_never_overlap():
    f = synthetic_candles(1000)
    assert Periods().rows(f) == (270, 634, 635, 999)
    v = parse_period("2020-01-11..2020-01-20", "--valid")
    assert Periods(valid=v, test=5).rows(synthetic_candles(40)) == (10, 19, 35, 39)
    with pytest.raises(Exception, match="must end before the test period"):
        Periods(valid=v, test=25).rows(synthetic_candles(40))
    with pytest.raises(Exception, match="--valid: the period does not fit"):
        Periods(valid=30, test=20).rows(synthetic_candles(40))
    with pytest.raises(Exception, match=r"--test is 'soon'; give START..END"):
        parse_period("soon", "--test")
