"""LSTMNet (shapes per head and horizon, dropout), the heads' losses against hand computations,
and their point forecasts."""

from __future__ import annotations

import warnings
from typing import get_args

import numpy as np
import pytest
import torch

from coincast.models.config import LSTMConfig
from coincast.models.heads import HEADS, get_head
from coincast.models.lstm import DEFAULT_QUANTILES, LSTMNet


@pytest.mark.parametrize("horizon", [1, 5])
@pytest.mark.parametrize(
    ("head", "quantiles", "tail"),
    [
        ("point", DEFAULT_QUANTILES, ()),
        ("quantile", DEFAULT_QUANTILES, (3,)),
        ("quantile", (0.1, 0.25, 0.5, 0.75, 0.9), (5,)),
        ("gaussian", DEFAULT_QUANTILES, (2,)),
    ],
)
def test_output_shapes(head, quantiles, tail, horizon):
    torch.manual_seed(0)
    net = LSTMNet(input_size=3, hidden_size=8, num_layers=2, horizon=horizon, head=head,
                  quantiles=quantiles)  # fmt: skip
    out = net(torch.randn(4, 11, 3))  # (B, T, F)
    assert out.shape == (4, horizon, *tail)
    assert get_head(head, quantiles).point(out).shape == (4, horizon)


def test_a_batch_of_one_keeps_its_batch_dimension():
    net = LSTMNet(input_size=1, hidden_size=4, num_layers=1, horizon=3, head="gaussian")
    assert net(torch.zeros(1, 5, 1)).shape == (1, 3, 2)


def test_unknown_head_is_refused():
    with pytest.raises(ValueError, match=r"head 'median' is not one of \('point'"):
        LSTMNet(input_size=1, head="median")


@pytest.mark.parametrize("name", list(HEADS))
def test_every_head_turns_outputs_into_yhat_lo_hi(name):
    torch.manual_seed(0)
    head = get_head(name)
    net = LSTMNet(input_size=1, hidden_size=4, num_layers=1, horizon=3, head=name)
    with torch.no_grad():
        pred = net(torch.randn(2, 10, 1))  # (B, H) or (B, H, size)
    assert net.kind.size == head.size and net.head.out_features == 3 * head.size
    yhat, lo, hi = head.forecast(pred)
    assert yhat.shape == lo.shape == hi.shape == (2, 3)
    np.testing.assert_array_equal(yhat, head.point(pred).numpy())
    if name == "point":
        assert np.isnan(lo).all() and np.isnan(hi).all()
    else:
        assert (lo <= yhat).all() and (yhat <= hi).all() and (lo < hi).all()


def test_the_config_offers_every_head():
    assert set(get_args(LSTMConfig.model_fields["head"].annotation)) == set(HEADS)


def test_dropout_is_ignored_with_one_layer():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # torch warns when dropout is given to one layer
        net = LSTMNet(input_size=2, hidden_size=8, num_layers=1, dropout=0.5)
    assert net.lstm.dropout == 0.0
    net.train()
    x = torch.randn(3, 6, 2)
    assert torch.equal(net(x), net(x))  # nothing random in training mode


def test_dropout_applies_between_stacked_layers():
    net = LSTMNet(input_size=2, hidden_size=8, num_layers=2, dropout=0.5)
    assert net.lstm.dropout == 0.5
    x = torch.randn(3, 6, 2)
    net.eval()
    assert torch.equal(net(x), net(x))
    net.train()
    torch.manual_seed(1)
    a = net(x)
    assert not torch.equal(a, net(x))


# -- losses ----------------------------------------------------------------------------------


def test_point_loss_is_torch_mse():
    pred, y = torch.randn(8, 3), torch.randn(8, 3)
    assert torch.equal(get_head("point").loss(pred, y), torch.nn.functional.mse_loss(pred, y))


def test_pinball_loss_equals_a_hand_computation():
    q = (0.1, 0.5, 0.9)
    y = torch.tensor([[1.0, -2.0]])  # (B=1, H=2)
    pred = torch.tensor([[[0.0, 1.0, 3.0], [-2.0, -1.0, -4.0]]])  # (1, 2, 3)
    # err = y - pred; loss = q * err if err >= 0 else (q - 1) * err
    hand = [
        0.1 * 1.0, 0.0, (0.9 - 1) * -2.0,  # step 1: errs 1, 0, -2
        0.0, (0.5 - 1) * -1.0, 0.9 * 2.0,  # step 2: errs 0, -1, 2
    ]  # fmt: skip
    expected = sum(hand) / 6
    assert float(get_head("quantile", q).loss(pred, y)) == pytest.approx(expected, rel=1e-6)


def test_pinball_loss_is_zero_on_the_truth_and_punishes_the_wrong_side_more():
    q = (0.1, 0.9)
    y = torch.zeros(1, 1)
    loss = get_head("quantile", q).loss
    assert float(loss(torch.zeros(1, 1, 2), y)) == 0.0
    over = float(loss(torch.tensor([[[1.0, 1.0]]]), y))  # both quantiles 1 above the truth
    assert over == pytest.approx(((1 - 0.1) + (1 - 0.9)) / 2)


def test_gaussian_nll_equals_a_hand_computation():
    mean = torch.tensor([[0.5, -1.0]])
    log_var = torch.tensor([[0.0, 20.0]])  # 20 is clamped to 12
    y = torch.tensor([[1.5, 1.0]])
    pred = torch.stack([mean, log_var], dim=-1)  # (1, 2, 2)
    step1 = 0.5 * (0.0 + 1.0**2 / 1.0)
    step2 = 0.5 * (12.0 + 2.0**2 * torch.exp(torch.tensor(-12.0)).item())
    assert float(get_head("gaussian").loss(pred, y)) == pytest.approx((step1 + step2) / 2, rel=1e-6)


def test_gaussian_nll_matches_torch_up_to_its_constant():
    torch.manual_seed(0)
    pred, y = torch.randn(16, 3, 2), torch.randn(16, 3)
    ours = get_head("gaussian").loss(pred, y)
    theirs = torch.nn.functional.gaussian_nll_loss(pred[..., 0], y, pred[..., 1].exp(), eps=0)
    assert float(ours) == pytest.approx(float(theirs), rel=1e-5)


def test_losses_have_gradients():
    for head, shape in (("point", (4, 2)), ("quantile", (4, 2, 3)), ("gaussian", (4, 2, 2))):
        pred = torch.randn(*shape, requires_grad=True)
        get_head(head).loss(pred, torch.randn(4, 2)).backward()
        assert pred.grad is not None and torch.isfinite(pred.grad).all()


# -- point forecasts -------------------------------------------------------------------------


def test_point_forecast_of_point_head_is_the_output():
    pred = torch.randn(3, 2)
    assert torch.equal(get_head("point", DEFAULT_QUANTILES).point(pred), pred)


def test_point_forecast_of_quantile_head_is_the_median_of_the_sorted_outputs():
    pred = torch.tensor([[[3.0, 1.0, 2.0], [0.0, 5.0, -1.0]]])  # crossed quantiles
    assert get_head("quantile", (0.05, 0.5, 0.95)).point(pred).tolist() == [[2.0, 0.0]]
    # 0.5 need not be in the middle of the list
    pred = torch.tensor([[[1.0, 2.0, 3.0, 4.0]]])
    assert get_head("quantile", (0.1, 0.5, 0.8, 0.9)).point(pred).tolist() == [[2.0]]


def test_point_forecast_of_quantile_head_without_a_median_takes_the_middle_level():
    pred = torch.tensor([[[1.0, 2.0, 3.0]]])
    assert get_head("quantile", (0.2, 0.4, 0.8)).point(pred).tolist() == [[2.0]]


def test_point_forecast_of_gaussian_head_is_the_mean():
    pred = torch.tensor([[[1.5, 9.0], [-2.0, -9.0]]])
    assert get_head("gaussian", DEFAULT_QUANTILES).point(pred).tolist() == [[1.5, -2.0]]
