"""The gate-by-gate LSTM reproduces ``nn.LSTM`` (outputs, final states, gradients)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from coincast.models.cell import GATES, LSTMCellScratch, ScratchLSTM

TOL = 1e-5


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _pair(layers: int, inputs: int, hidden: int = 6, seed: int = 0, **kw):
    torch.manual_seed(seed)
    lstm = nn.LSTM(inputs, hidden, layers, batch_first=True, **kw).eval()
    return lstm, ScratchLSTM.from_torch(lstm)


def _same(lstm: nn.LSTM, scratch: ScratchLSTM, x: torch.Tensor, state=None) -> None:
    with torch.no_grad():
        want, (h_n, c_n) = lstm(x, state)
        got, trace = scratch(x, state)
    assert got.shape == want.shape
    assert (got - want).abs().max() <= TOL
    assert (trace.h_n - h_n).abs().max() <= TOL
    assert (trace.c_n - c_n).abs().max() <= TOL


@pytest.mark.parametrize("layers", [1, 2, 3])
@pytest.mark.parametrize("batch", [1, 5])
@pytest.mark.parametrize("length", [1, 7, 40])
def test_matches_nn_lstm(layers, batch, length):
    for inputs in (1, 3, 8):
        lstm, scratch = _pair(layers, inputs, seed=layers * 100 + inputs)
        _same(lstm, scratch, torch.randn(batch, length, inputs))


def test_matches_from_a_given_state():
    lstm, scratch = _pair(2, 3)
    state = (torch.randn(2, 4, 6), torch.randn(2, 4, 6))
    _same(lstm, scratch, torch.randn(4, 9, 3), state)


def test_matches_trained_weights():
    """Weights moved far from the default initialisation by training on a toy task."""
    lstm, _ = _pair(2, 2, hidden=5)
    head = nn.Linear(5, 1)
    opt = torch.optim.Adam([*lstm.parameters(), *head.parameters()], lr=0.05)
    x = torch.randn(16, 12, 2)
    y = x[:, :, :1].cumsum(1)[:, -1]
    before = lstm.weight_hh_l1.detach().clone()
    for _ in range(30):
        opt.zero_grad()
        nn.functional.mse_loss(head(lstm(x)[0][:, -1]), y).backward()
        opt.step()
    assert (lstm.weight_hh_l1 - before).abs().max() > 0.1
    _same(lstm.eval(), ScratchLSTM.from_torch(lstm), torch.randn(3, 25, 2) * 3)


def test_matches_without_bias_and_in_float64():
    lstm, scratch = _pair(2, 3, bias=False)
    assert scratch.cells[0].W_if.bias is None
    _same(lstm, scratch, torch.randn(2, 6, 3))
    lstm64 = lstm.double()
    scratch64 = ScratchLSTM.from_torch(lstm64)
    x = torch.randn(2, 6, 3, dtype=torch.float64)
    assert (scratch64(x)[0] - lstm64(x)[0]).abs().max() < 1e-12


def test_cell_matches_nn_lstm_cell():
    torch.manual_seed(1)
    ref = nn.LSTMCell(4, 3)
    cell = LSTMCellScratch(4, 3)
    cell.load_packed(ref.weight_ih, ref.weight_hh, ref.bias_ih, ref.bias_hh)
    x, h, c = torch.randn(5, 4), torch.randn(5, 3), torch.randn(5, 3)
    with torch.no_grad():
        h_want, c_want = ref(x, (h, c))
        h_got, c_got, gates = cell(x, (h, c))
    assert (h_got - h_want).abs().max() <= TOL and (c_got - c_want).abs().max() <= TOL
    assert set(vars(gates)) == set(GATES)


def test_gradients_flow_like_nn_lstm():
    lstm, scratch = _pair(2, 3)
    x = torch.randn(2, 15, 3, requires_grad=True)
    (want,) = torch.autograd.grad(lstm(x)[0][:, -1].sum(), x)
    (got,) = torch.autograd.grad(scratch(x)[0][:, -1].sum(), x)
    assert got.abs().sum() > 0
    assert (got - want).abs().max() <= TOL


def test_trace_shapes_and_ranges():
    _, scratch = _pair(3, 2, hidden=7)
    with torch.no_grad():
        _, trace = scratch(torch.randn(4, 11, 2) * 5)
    assert trace.layers == 3
    for name in ("i", "f", "g", "o", "c", "h"):
        assert [tuple(t.shape) for t in getattr(trace, name)] == [(4, 11, 7)] * 3
    for k in range(3):
        for gate in (trace.i[k], trace.f[k], trace.o[k]):
            assert ((gate > 0) & (gate < 1)).all()
        assert (trace.g[k].abs() < 1).all() and (trace.h[k].abs() < 1).all()
        # h is the output gate times tanh of the memory
        assert torch.allclose(trace.h[k], trace.o[k] * torch.tanh(trace.c[k]))
    # layer 2 reads layer 1's hidden states
    zeros = torch.zeros(4, 7)
    with torch.no_grad():
        h, c, _ = scratch.cells[1](trace.h[0][:, 0], (zeros, zeros))
    assert torch.equal(h, trace.h[1][:, 0]) and torch.equal(c, trace.c[1][:, 0])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"bidirectional": True}, "bidirectional"),
        ({"proj_size": 2}, "proj_size=2"),
        ({"batch_first": False}, "batch_first=True"),
    ],
)
def test_from_torch_refuses_what_it_cannot_copy(kwargs, message):
    lstm = nn.LSTM(3, 4, 1, **{"batch_first": True, **kwargs})
    with pytest.raises(ValueError, match=message):
        ScratchLSTM.from_torch(lstm)
