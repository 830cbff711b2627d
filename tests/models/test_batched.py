"""BatchedLSTM and train_batched: each member is the net it would be alone, in its outputs
and in its training (loss curves of the ordinary loop), and members do not disturb each
other."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from coincast.data.sources.synthetic import predictable_candles, random_walk
from coincast.dataset.panel import build_panel, coin_inputs
from coincast.models.batched import BatchedLSTM, ShapeMismatch
from coincast.models.batched_training import Member, train_batched
from coincast.models.lstm import LSTMNet
from coincast.models.training import TrainSettings, train

HIDDEN, LAYERS, LOOKBACK = 12, 2, 16


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """One thread: two fight with anything else on a 2-core machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def panel(frame, lookback: int = LOOKBACK):
    ci = coin_inputs("bitcoin", frame, ["log_return"], "returns")
    return build_panel({"bitcoin": ci}, ["bitcoin"], lookback=lookback, horizon=1,
                       target="returns", fraction=0.2)  # fmt: skip


@pytest.fixture(scope="module")
def panels():
    return [panel(predictable_candles(400)), panel(random_walk(360)),
            panel(predictable_candles(330))]  # fmt: skip


def nets_for(seeds, head: str = "point", hidden: int = HIDDEN, horizon: int = 1):
    out = []
    for seed in seeds:
        torch.manual_seed(seed)  # as LSTMForecaster.fit initialises a net
        out.append(LSTMNet(1, hidden, LAYERS, horizon=horizon, head=head))
    return out


def alone(net: LSTMNet, p, settings: TrainSettings):
    """The ordinary path on a copy of ``net``: its result and the trained net."""
    copy = nets_for([0])[0]
    copy.load_state_dict(net.state_dict())
    return train(copy, p.train, p.val, copy.kind.loss, settings), copy


@pytest.mark.parametrize("head", ["point", "quantile", "gaussian"])
def test_forward_equals_each_single_net(head):
    nets = nets_for([1, 2, 3, 4], head=head, horizon=3)
    b = BatchedLSTM.from_nets(nets)
    x = torch.randn(4, 9, LOOKBACK, 1)
    with torch.no_grad():
        want = torch.stack([n(x[k]) for k, n in enumerate(nets)])
        got = b(x)
    assert got.shape == want.shape
    torch.testing.assert_close(got, want, atol=1e-6, rtol=0)
    with torch.no_grad():  # a subset of members, each on its own inputs
        sub = b(x[[0, 2]], torch.tensor([1, 3]))
        torch.testing.assert_close(sub, torch.stack([nets[1](x[0]), nets[3](x[2])]),
                                   atol=1e-6, rtol=0)  # fmt: skip


def test_to_nets_round_trip():
    nets = nets_for([5, 6, 7], head="quantile")
    back = BatchedLSTM.from_nets(nets).to_nets()
    for a, b in zip(nets, back, strict=True):
        sa, sb = a.state_dict(), b.state_dict()
        assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)
        assert b.kind.quantiles == a.kind.quantiles


def test_members_train_as_they_would_alone(panels):
    seeds, lrs = [0, 11, 22], [1e-3, 3e-3, 1e-2]
    nets = nets_for(seeds)
    settings = [TrainSettings(epochs=5, batch=32, lr=lr, seed=seed, patience=50, log_every=0)
                for lr, seed in zip(lrs, seeds, strict=True)]  # fmt: skip
    settings[2] = replace(settings[2], batch=24, clip=0.05)  # batch and clip may differ too
    members = [Member(p.train, p.val, s) for p, s in zip(panels, settings, strict=True)]
    b, results = train_batched(nets, members)
    for k, net in enumerate(nets):
        want, single = alone(net, panels[k], settings[k])
        got = results[k]
        assert len(got.history) == len(want.history) == 5
        np.testing.assert_allclose([r.train_loss for r in got.history],
                                   [r.train_loss for r in want.history], rtol=1e-4)  # fmt: skip
        np.testing.assert_allclose([r.val_loss for r in got.history],
                                   [r.val_loss for r in want.history], rtol=1e-4)  # fmt: skip
        assert got.best_epoch == want.best_epoch
        trained = b.to_nets()[k]
        for name, v in single.state_dict().items():
            torch.testing.assert_close(trained.state_dict()[name], v, atol=1e-4, rtol=1e-3)
    # different lrs really train differently (the comparison above could not pass vacuously)
    assert results[0].history[-1].train_loss != results[2].history[-1].train_loss


def test_early_stop_of_one_member_does_not_disturb_the_others(panels):
    seeds = [3, 4, 5]
    nets = nets_for(seeds)
    base = TrainSettings(epochs=6, batch=32, lr=3e-3, patience=50, log_every=0)
    settings = [replace(base, seed=sd) for sd in seeds]
    settings[1] = replace(settings[1], lr=0.5, patience=1)  # a big lr: it stops early
    members = [Member(panels[0].train, panels[0].val, s) for s in settings]
    b, results = train_batched(nets, members)
    assert results[1].stopped_early and len(results[1].history) < 6
    for k in (0, 2):
        want, _ = alone(nets[k], panels[0], settings[k])
        assert len(results[k].history) == 6
        np.testing.assert_allclose([r.val_loss for r in results[k].history],
                                   [r.val_loss for r in want.history], rtol=1e-4)  # fmt: skip
    want, single = alone(nets[1], panels[0], settings[1])  # and the stopped one: its best
    assert results[1].best_epoch == want.best_epoch
    assert len(results[1].history) == len(want.history)
    for name, v in single.state_dict().items():
        torch.testing.assert_close(results[1].best_state[name], v, atol=1e-4, rtol=1e-3)
        torch.testing.assert_close(b.member_state(1)[name], v, atol=1e-4, rtol=1e-3)


def test_members_of_different_shapes_are_refused():
    nets = [*nets_for([0]), *nets_for([1], hidden=HIDDEN + 1)]
    with pytest.raises(ShapeMismatch, match=r"^member 1 has shape .*hidden 13.* one shape$"):
        BatchedLSTM.from_nets(nets)
    quant = [*nets_for([0]), *nets_for([1], head="quantile")]
    with pytest.raises(ShapeMismatch, match="member 1 has shape"):
        BatchedLSTM.from_nets(quant)


def test_what_batched_training_cannot_do_is_refused(panels):
    with pytest.raises(ShapeMismatch, match="coin embedding"):
        BatchedLSTM.from_nets([LSTMNet(1, 4, 1, n_coins=3, embed_dim=2)])
    with pytest.raises(ShapeMismatch, match="dropout"):
        BatchedLSTM.from_nets([LSTMNet(1, 4, 2, dropout=0.2)])
    p = panels[0]
    s = TrainSettings(epochs=1, log_every=0)
    with pytest.raises(Exception, match="lr_schedule"):
        train_batched(nets_for([0]), [Member(p.train, p.val, replace(s, lr_schedule="cosine"))])
    other = panel(predictable_candles(300), lookback=LOOKBACK + 2)
    with pytest.raises(ShapeMismatch, match="lookback x features"):
        train_batched(nets_for([0, 1]), [Member(p.train, p.val, s),
                                         Member(other.train, other.val, s)])  # fmt: skip


def test_a_diverging_member_is_frozen_and_the_others_go_on(panels):
    nets = nets_for([0, 1])
    p = panels[0]
    s = TrainSettings(epochs=3, batch=32, lr=3e-3, patience=50, log_every=0)
    bad = with_nan(p.val)
    _, results = train_batched(nets, [Member(p.train, p.val, s), Member(p.train, bad, s)])
    assert results[1].error is not None and "diverged" in results[1].error
    assert len(results[0].history) == 3 and results[0].error is None


def with_nan(w):
    from coincast.dataset.windows import Windows

    y = w.y.numpy().copy()
    y[0] = np.nan
    return Windows(w.x.numpy(), y, w.ends.numpy(), w.lookback)


def test_the_hand_written_backward_equals_autograd():
    b = BatchedLSTM.from_nets(nets_for([1, 2, 3]))
    x, y = torch.randn(3, 8, LOOKBACK, 1), torch.randn(3, 8, 1)
    grads = []
    for manual in (True, False):
        b.manual_backward = manual
        b.zero_grad()
        ((b(x) - y) ** 2).mean(dim=(1, 2)).sum().backward()
        grads.append([p.grad.clone() for p in b.parameters()])
    for a, c in zip(*grads, strict=True):
        torch.testing.assert_close(a, c, atol=1e-6, rtol=1e-5)
