"""Hostile input to the models, class by class: nonsense settings (from Python, a settings
file, the training loop), devices that are not here, training that goes NaN or infinite,
output paths that cannot be written, and run folders edited by hand or damaged. Each is one
clear :class:`~coincast.errors.CoincastError`, and nothing is allocated, trained or saved.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import struct
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors.torch import save_file

from coincast.data.sources.synthetic import predictable_candles
from coincast.dataset.panel import set_threads
from coincast.dataset.windows import Windows
from coincast.errors import CoincastError
from coincast.models import LSTMForecaster, folders, runs
from coincast.models import config as config_module
from coincast.models.devices import available_devices, resolve_device
from coincast.models.heads import PointHead
from coincast.models.lstm import LSTMNet
from coincast.models.runs import RECORD, WEIGHTS, RunError, load_run, save_run
from coincast.models.settings import lstm_config
from coincast.models.training import CHECKPOINT, TrainSettings, train
from coincast.series import COLUMNS, make_frame

FAST = {"hidden": 8, "layers": 1, "lookback": 15, "log_every": 0, "threads": 1, "device": "cpu"}

# -- 1. settings -----------------------------------------------------------------------------

#: The rule each setting's error states.
RULES = {
    "lr": "a finite number > 0 and <= 10",
    "clip": "a finite number > 0",
    "dropout": "a finite number >= 0 and < 1",
    "val_fraction": "a finite number >= 0 and < 0.9",
    "epochs": "a whole number from 1 to 1000000",
    "patience": "a whole number from 1 to 1000000",
    "log_every": "a whole number from 0 to 1000000",
    "hidden": "a whole number from 1 to 4096",
    "layers": "a whole number from 1 to 16",
    "lookback": "a whole number from 1 to 100000",
    "horizon": "a whole number from 1 to 10000",
    "batch": "a whole number from 1 to 1000000",
    "embed_dim": "a whole number from 1 to 1024",
    "seed": "a whole number from 0 to 18446744073709551615",
    "threads": "a whole number from 1 to 1024, or unset for every core",
    "quantiles": "1 to 99 increasing, distinct levels inside (0, 1)",
    "device": "auto, cpu, cuda, cuda:N or mps (this machine has ",
    "recursive": "true or false",
    "coin_embedding": "true or false",
    "head": "point, quantile or gaussian",
    "target": "returns, price or volatility",
    "lr_schedule": "none, cosine or plateau",
    "exog": "a list of up to 100 distinct coin ids",
}

INF, NAN = float("inf"), float("nan")
HOSTILE_SETTINGS = [
    *[("lr", v) for v in (INF, -INF, NAN, -1.0, 0.0, 1e308, 11.0, True, "fast")],
    *[("clip", v) for v in (INF, NAN, 0.0, -1.0, False)],
    *[("dropout", v) for v in (NAN, INF, 1.0, -0.1)],
    *[("val_fraction", v) for v in (NAN, -INF, 0.9, -0.1)],
    *[("epochs", v) for v in (10**12, 0, -1, 2.5, True, "50", 50.0)],
    *[("patience", v) for v in (0, 10**7)],
    *[("log_every", v) for v in (-1, 10**9)],
    *[("hidden", v) for v in (10**12, 0, 4097, 8.0, "8")],
    *[("layers", v) for v in (17, 0, 10**6)],
    *[("lookback", v) for v in (100_001, 0, 10**15)],
    *[("horizon", v) for v in (10_001, 0, 10**12)],
    *[("batch", v) for v in (1_000_001, 0, 10**18)],
    *[("embed_dim", v) for v in (0, 1025)],
    *[("seed", v) for v in (2**64, 2**70, -1, 1.5, "0")],
    *[("threads", v) for v in (100_000, 0, -4, 1025, 2.0)],
    *[("quantiles", v) for v in ((0.1, NAN, 0.9), (INF,), (), (0.5, 0.5), (0.0, 0.5), (1.0,),
                                 (0.9, 0.1), tuple(np.linspace(0.001, 0.999, 100)), ("a",))],
    *[("device", v) for v in ("tpu", "cuda:1234", "", "CPU", "gpu", "cuda:-1", 0)],
    *[("recursive", v) for v in ("yes", 1)],
    ("coin_embedding", "no"),
    ("head", "median"),
    ("target", "logprice"),
    ("lr_schedule", "linear"),
    ("exog", [f"coin{i}" for i in range(101)]),
]  # fmt: skip


def _id(case) -> str:
    field, value = case
    return f"{field}={str(value)[:20]}"


@pytest.mark.parametrize("case", HOSTILE_SETTINGS, ids=_id)
def test_a_nonsense_setting_is_refused_by_the_forecaster_naming_value_rule_and_example(case):
    field, value = case
    with pytest.raises(config_module.ConfigError) as caught:
        LSTMForecaster(**{field: value})
    message = str(caught.value)
    assert "\n" not in message
    assert re.match(rf"^{field} (is|holds) .+; it must be {re.escape(RULES[field])}", message), (
        message
    )
    assert caught.value.field == field
    if config_module.example_of(field) is not None:  # and the example given is a valid value
        assert message.endswith(f", e.g. {field}={config_module.example_of(field)!r}")
        LSTMForecaster(**{field: config_module.example_of(field)})


def _yaml(value) -> str:
    if isinstance(value, float):
        return {INF: ".inf", -INF: "-.inf"}.get(
            value, ".nan" if value != value else repr(float(value))
        )
    if isinstance(value, tuple | list):
        return "[" + ", ".join(_yaml(v) for v in value) + "]"
    return json.dumps(value)


@pytest.mark.parametrize("case", HOSTILE_SETTINGS, ids=_id)
def test_a_nonsense_setting_in_a_settings_file_names_the_file(case, tmp_path):
    field, value = case
    path = tmp_path / "lstm.yaml"
    path.write_text(f"{field}: {_yaml(value)}\nhidden: 8\n" if field != "hidden" else
                    f"{field}: {_yaml(value)}\n")  # fmt: skip
    with pytest.raises(config_module.ConfigError) as caught:
        lstm_config(path)
    message = str(caught.value)
    assert message.startswith(f"settings file {path}: {field} "), message
    assert caught.value.cli == message.replace("settings file", "--config", 1)
    assert f"; it must be {RULES[field]}" in message and "\n" not in message


@pytest.mark.parametrize(
    ("name", "value", "rule"),
    [
        ("lr", INF, "a finite number > 0 and <= 10"),
        ("lr", NAN, "a finite number > 0 and <= 10"),
        ("clip", INF, "a finite number > 0"),
        ("epochs", 10**12, "a whole number from 1 to 1000000"),
        ("batch", 0, "a whole number from 1 to 1000000"),
        ("seed", -1, "a whole number from 0 to 18446744073709551615"),
        ("patience", "10", "a whole number from 1 to 1000000"),
    ],
)
def test_the_training_loop_refuses_nonsense_settings_before_the_first_step(name, value, rule):
    net = LSTMNet(1, 4, 1)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    w = Windows(np.zeros((20, 1)), np.zeros((11, 1)), np.arange(9, 20), lookback=10)
    settings = TrainSettings(2, log_every=0)
    setattr(settings, name, value)
    with pytest.raises(CoincastError, match=rf"^TrainSettings\.{name} is .*; it must be {rule}"):
        train(net, w, None, PointHead().loss, settings)
    assert all(torch.equal(v, before[k]) for k, v in net.state_dict().items())  # no step


@pytest.mark.parametrize("threads", [0, -1, 100_000, 1025, 2.5, True, "4"])
def test_set_threads_refuses_nonsense(threads):
    before = torch.get_num_threads()
    with pytest.raises(CoincastError, match=r"^threads is .*; it must be a whole number from 1 "
                       r"to 1024, or None for every core, e\.g\. threads=1$"):  # fmt: skip
        set_threads(threads)
    assert torch.get_num_threads() == before


def test_fit_refuses_nonsense_epochs_before_training():
    f = LSTMForecaster(**FAST)
    with pytest.raises(config_module.ConfigError, match=r"^epochs is 1000000000000; it must be"):
        f.fit(predictable_candles(100), epochs=10**12)
    assert f.net is None


def test_backtest_horizon_is_checked_like_any_setting():
    from coincast.evaluation.adapters import LSTMTraining, lstm_models

    with pytest.raises(config_module.ConfigError, match=r"^horizon is 1000000000000; it must be"):
        lstm_models(predictable_candles(50), LSTMTraining(), horizon=10**12)
    with pytest.raises(
        CoincastError, match=r"^refit_epochs is 0; it must be a whole number .*refit_epochs=5$"
    ) as caught:
        LSTMTraining(refit_epochs=0)
    assert caught.value.cli.endswith("e.g. --refit-epochs 5")


# -- devices -----------------------------------------------------------------------------------


def _absent_devices() -> list[str]:
    absent = [f"cuda:{torch.cuda.device_count()}", "cuda:7"]
    if not torch.cuda.is_available():
        absent.append("cuda")
    if not torch.backends.mps.is_available():
        absent.append("mps")
    return [d for d in dict.fromkeys(absent) if d not in available_devices()]


@pytest.mark.parametrize("device", _absent_devices())
def test_a_device_this_machine_lacks_is_refused_before_training_naming_what_it_has(device):
    have = ", ".join(available_devices())
    f = LSTMForecaster(**{**FAST, "device": device})  # a run folder may name any device
    message = rf"^device {device!r} is not available here: this machine has {re.escape(have)}"
    with pytest.raises(
        CoincastError, match=message + r".*; use device auto or one of those \(device='cpu'\)$"
    ) as caught:
        f.fit(predictable_candles(100))
    assert caught.value.cli.endswith("; use device auto or one of those (--device cpu)")
    assert f.net is None
    from coincast.evaluation.adapters import LSTMTraining

    with pytest.raises(CoincastError, match=rf"^device {device!r} is not available here"):
        LSTMTraining(config=f.config)


@pytest.mark.parametrize("name", ["tpu", "", "cuda:x", "gpu0", None, 3])
def test_resolve_device_refuses_what_is_no_device_name(name):
    with pytest.raises(CoincastError, match=r"is not known; use auto, cpu, cuda, cuda:N or mps "
                       r"\(this machine has cpu"):  # fmt: skip
        resolve_device(name)


def test_auto_and_cpu_resolve():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")


# -- 2. training that goes NaN or infinite -------------------------------------------------------


@pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")
@pytest.mark.parametrize(
    ("x", "y", "loss", "epoch"),
    [
        (np.zeros((20, 1)), np.full((11, 1), 1e30), "inf", 1),  # squares beyond float32
        (np.full((20, 1), 1e39), np.zeros((11, 1)), "nan", 2),  # inf inputs: NaN gradients
    ],
    ids=["huge-targets", "huge-inputs"],
)
def test_a_training_loss_that_is_not_finite_stops_training_before_the_epoch_is_kept(
    tmp_path, x, y, loss, epoch
):
    from safetensors import safe_open

    w = Windows(x, y, np.arange(9, 20), lookback=10)
    records = []
    settings = TrainSettings(5, log_every=0, checkpoint_dir=tmp_path)
    message = rf"^training diverged: the training loss became {loss} at epoch {epoch}; "
    with pytest.raises(
        CoincastError, match=message + r"lower lr \(now 0\.001\) or clip \(now 1\), or check"
    ) as caught:
        train(LSTMNet(1, 4, 1), w, None, PointHead().loss, settings, on_epoch=records.append)
    assert "; lower --lr (now 0.001) or --clip (now 1), or check the data" in caught.value.cli
    assert [r.epoch for r in records] == list(range(1, epoch))  # the diverged one: not reported
    if epoch == 1:
        assert list(tmp_path.iterdir()) == []
    else:  # the last checkpoint is the last finite epoch's
        with safe_open(str(tmp_path / CHECKPOINT), "pt") as f:
            assert f.metadata()["epoch"] == str(epoch - 1)


def absurd_jump(n: int = 120, jump: int = 5) -> pd.DataFrame:
    """Closes that barely move (1 +- 1e-11) until the last ``jump`` bars, which are 1e9: the
    validation slice lies ~1e20 training spreads away, beyond float32's squares."""
    close = 1.0 + 1e-11 * np.random.default_rng(0).standard_normal(n)
    close[-jump:] = 1e9
    cols = {c: close for c in COLUMNS} | {"volume": np.ones(n)}
    return make_frame(np.arange(n) * 86_400_000, cols, coin="flat", quote="usd",
                      interval="1d", source="synthetic")  # fmt: skip


def test_a_validation_loss_that_is_not_finite_stops_fitting_and_keeps_no_weights(tmp_path):
    f = LSTMForecaster(**FAST | {"lookback": 10}, target="price", epochs=3)
    message = r"^training diverged: the validation loss became inf at epoch 1 \(training loss "
    with pytest.raises(CoincastError, match=message + r"[\d.]+\); the validation bars lie far"):
        f.fit(absurd_jump(), checkpoint_dir=tmp_path / "run")
    assert not (tmp_path / "run").exists()
    with pytest.raises(CoincastError, match="not fitted yet"):
        save_run(f, tmp_path / "saved")
    assert not (tmp_path / "saved").exists()


# -- the disk as it was when training fails --------------------------------------------------


class Stop(Exception):
    """Raised by a callback to fail a training midway."""


def _stop_at(epoch: int) -> Callable:
    def on_epoch(record) -> None:
        if record.epoch == epoch:
            raise Stop

    return on_epoch


def test_a_failed_training_removes_the_folders_it_made(tmp_path):
    folder = tmp_path / "runs" / "new"
    f = LSTMForecaster(**FAST, epochs=3)
    with pytest.raises(Stop), folders.undone_on_failure(folder):
        f.fit(predictable_candles(100), checkpoint_dir=folder, on_epoch=_stop_at(2))
    assert list(tmp_path.iterdir()) == []  # runs/ too: it did not exist before


def test_a_failed_training_puts_back_the_checkpoint_that_was_there(tmp_path):
    folder = tmp_path / "r"
    frame = predictable_candles(100)
    LSTMForecaster(**FAST, epochs=1).fit(frame, checkpoint_dir=folder)
    before = (folder / CHECKPOINT).read_bytes()
    with pytest.raises(Stop), folders.undone_on_failure(folder):
        LSTMForecaster(**FAST, epochs=4).fit(
            frame, checkpoint_dir=folder, resume=True, on_epoch=_stop_at(3)
        )
    assert sorted(p.name for p in folder.iterdir()) == [CHECKPOINT]
    assert (folder / CHECKPOINT).read_bytes() == before


def test_a_failed_training_removes_a_checkpoint_it_wrote_into_an_existing_folder(tmp_path):
    (tmp_path / "r").mkdir()
    with pytest.raises(Stop), folders.undone_on_failure(tmp_path / "r"):
        LSTMForecaster(**FAST, epochs=3).fit(
            predictable_candles(100), checkpoint_dir=tmp_path / "r", on_epoch=_stop_at(2)
        )
    assert list((tmp_path / "r").iterdir()) == []


# -- 4. output paths ---------------------------------------------------------------------------


def _hostile_paths(root: Path) -> list[tuple[Path, bool, str]]:
    """(path, is it a file that is wanted, the error) for each kind of unwritable path."""
    (root / "a-file").write_text("x")
    (root / "a-folder").mkdir()
    return [
        (root / "a-file", False, "is a file, not a folder"),
        (root / "a-folder", True, "is a folder, not a file"),
        (root / "a-file" / "sub", False, "a-file is a file, so nothing can be made under it"),
        (root / "a-file" / "deep" / "er", True, "a-file is a file, so nothing can be made under"),
        (root / "nul\x00name", False, "contains a NUL character"),
        (root / "nul\x00name.html", True, "contains a NUL character"),
        (root / ("x" * 256), False, "a name is longer than 255 bytes"),
    ]


@pytest.mark.parametrize("case", range(7))
def test_an_unwritable_output_path_is_refused(tmp_path, case):
    path, file, message = _hostile_paths(tmp_path)[case]
    with pytest.raises(CoincastError, match=re.escape(message)) as caught:
        folders.check_writable(path, "--out", file=file, example="backtests/btc")
    assert str(caught.value).startswith("--out ") and str(caught.value).endswith(
        "e.g. --out backtests/btc"
    )


@contextmanager
def without_root() -> Iterator[None]:
    """Run the block as a user without rights (root may write anywhere): nobody, whose
    permissions the kernel checks for the effective user."""
    if os.geteuid() != 0:
        yield
        return
    os.setegid(65534)
    os.seteuid(65534)
    try:
        yield
    finally:
        os.seteuid(0)
        os.setegid(0)


def test_a_read_only_folder_is_refused():
    with tempfile.TemporaryDirectory() as d:  # under /tmp, so that nobody may reach it
        os.chmod(d, 0o755)
        ro = Path(d) / "ro"
        ro.mkdir(mode=0o555)
        (Path(d) / "open").mkdir()
        os.chmod(Path(d) / "open", 0o777)
        with without_root():
            with pytest.raises(CoincastError, match=r"ro is not writable for this user; choose"):
                folders.check_writable(ro / "backtest", "--out")
            with pytest.raises(CoincastError, match=r"ro is not writable for this user"):
                folders.check_writable(ro, "--out")
            assert (
                folders.check_writable(Path(d) / "open" / "new" / "x")
                == Path(d) / "open" / "new" / "x"
            )
        ro.chmod(0o755)


# -- 3. run folders edited by hand or damaged ------------------------------------------------

SIG = "synthetic-signal"


@pytest.fixture(scope="module")
def fitted() -> LSTMForecaster:
    return LSTMForecaster(**FAST, horizon=3, epochs=1).fit(predictable_candles(200))


@pytest.fixture
def run(fitted, tmp_path) -> Path:
    return save_run(fitted, tmp_path / "btc-1d")


def edit(change: Callable[[dict], object]) -> Callable[[Path], None]:
    """A tamper that edits run.json as JSON (NaN and Infinity written as Python does)."""

    def tamper(folder: Path) -> None:
        record = json.loads((folder / RECORD).read_text())
        change(record)
        (folder / RECORD).write_text(json.dumps(record))

    return tamper


def write(data: bytes | str, name: str = RECORD) -> Callable[[Path], None]:
    def tamper(folder: Path) -> None:
        path = folder / name
        path.write_bytes(data.encode() if isinstance(data, str) else data)

    return tamper


def rehash(folder: Path) -> None:
    """Record the weights' new SHA-256 in run.json, as a careful forger would."""
    digest = hashlib.sha256((folder / WEIGHTS).read_bytes()).hexdigest()
    edit(lambda r: r["weights"].update(sha256=digest))(folder)


def weights(make: Callable[[dict[str, torch.Tensor]], dict[str, torch.Tensor] | bytes]):
    """A tamper that replaces the weights by ``make(state)`` (a state dict or raw bytes) and
    records their hash."""

    def tamper(folder: Path) -> None:
        from safetensors.torch import load_file

        out = make(load_file(str(folder / WEIGHTS)))
        if isinstance(out, bytes):
            (folder / WEIGHTS).write_bytes(out)
        else:
            save_file(out, str(folder / WEIGHTS))
        rehash(folder)

    return tamper


def header(entries: dict, data: bytes = b"") -> bytes:
    """A safetensors file of the header ``entries`` and the bytes ``data``."""
    text = json.dumps(entries).encode()
    return struct.pack("<Q", len(text)) + text + data


def both(*tampers):
    def tamper(folder: Path) -> None:
        for t in tampers:
            t(folder)

    return tamper


def _set(path: str, value):
    """An edit that sets the key at dotted ``path`` of run.json (SIG: the coin)."""

    def change(r: dict) -> None:
        *keys, last = path.split(".")
        for k in keys:
            r = r[k]
        r[last] = value

    return edit(change)


def _pop(path: str):
    def change(r: dict) -> None:
        *keys, last = path.split(".")
        for k in keys:
            r = r[k]
        r.pop(last)

    return edit(change)


S = f"scalers.{SIG}"
INVALID = r"run\.json is invalid at "
DAMAGED = r"; the file was edited or is damaged; retrain with `coincast train`$"
NO_FIT = r"model\.safetensors does not fit the network in run\.json: "

TAMPERS = {
    # scalers: not finite, no spread, the wrong length, the wrong type
    "scaler-nan": (_set(f"{S}.features.mean", [NAN]), r"run\.json is not valid JSON \(NaN is no"),
    "scaler-infinity": (_set(f"{S}.target.std", [1, INF, 1]), r"not valid JSON \(Infinity is no"),
    "scaler-zero-spread": (_set(f"{S}.target.std", [1, 0, 1]),
                           rf"{INVALID}{S}\.target\.std\.1: Input should be greater than 0"),
    "scaler-negative-spread": (_set(f"{S}.features.std", [-2.0]),
                               rf"{INVALID}{S}\.features\.std\.0: Input should be greater than 0"),
    "scaler-too-long": (_set(f"{S}.features.mean", [0.0, 0.0, 0.0]),
                        rf"{INVALID}{S}\.features\.mean: has 3 values; the network has 1 inputs "
                        r"\(log_return\)"),
    "scaler-too-short": (_set(f"{S}.target.std", [1.0, 1.0]),
                         rf"{INVALID}{S}\.target\.std: has 2 values; the network has 3 steps"),
    "scaler-string": (_set(f"{S}.target.mean", ["0", "0", "0"]),
                      rf"{INVALID}{S}\.target\.mean\.0: Input should be a valid number"),
    "scaler-empty": (_set(f"{S}.features.std", []), rf"{INVALID}{S}\.features\.std: has 0"),
    "scaler-other-coin": (edit(lambda r: r["scalers"].update(other=r["scalers"][SIG])),
                          rf"{INVALID}scalers: has scalers of \['other', '{SIG}'\]"),
    # the config: absurd sizes, wrong types, a horizon or shape the weights do not have
    "hidden-huge": (_set("config.hidden", 10**12), rf"{INVALID}config: hidden is 1000000000000; "
                    r"it must be a whole number from 1 to 4096"),
    "layers-huge": (_set("config.layers", 10**6), rf"{INVALID}config: layers is 1000000; it must"),
    "lookback-string": (_set("config.lookback", "30"), rf"{INVALID}config: lookback is '30'; it"),
    "lr-string": (_set("config.lr", "fast"), rf"{INVALID}config: lr is 'fast'; it must be a fin"),
    "lr-huge": (_set("config.lr", 1e308), rf"{INVALID}config: lr is 1e\+308; it must be"),
    "seed-negative": (_set("config.seed", -1), rf"{INVALID}config: seed is -1; it must be"),
    "threads-huge": (_set("config.threads", 10**6), rf"{INVALID}config: threads is 1000000; it"),
    "device-unknown": (_set("config.device", "tpu"), rf"{INVALID}config: device is 'tpu'; it must"),
    "quantile-nan-text": (_set("config.quantiles", [0.1, "NaN", 0.9]),
                          rf"{INVALID}config: quantiles is \[0\.1, 'NaN', 0\.9\]; it must"),
    "config-extra": (_set("config.turbo", True),
                     rf"{INVALID}config: unknown setting 'turbo'; known: lookback, "),
    "config-missing": (_pop("config"), rf"{INVALID}config: Field required"),
    "feature-unknown-in-config": (_set("config.features", ["sma"]), rf"{INVALID}config: unknown"),
    "horizon-edited": (_set("config.horizon", 5),
                       rf"{INVALID}{S}\.target\.mean: has 3 values; the network has 5 steps"),
    "horizon-and-scalers-edited": (
        both(_set("config.horizon", 5), _set(f"{S}.target.mean", [0.0] * 5),
             _set(f"{S}.target.std", [1.0] * 5)),
        rf"{NO_FIT}tensor head\.weight has shape \[3, 8\]; the config in run\.json implies "
        r"\[5, 8\]"),
    "hidden-edited": (_set("config.hidden", 16), rf"{NO_FIT}tensor lstm\.weight_ih_l0 has shape"),
    "head-edited": (_set("config.head", "gaussian"), rf"{NO_FIT}tensor head\.weight has shape "
                    r"\[3, 8\]; the config in run\.json implies \[6, 8\]"),
    # the fitted state: inputs, coins and data that disagree
    "features-other": (_set("features", ["close"]), rf"{INVALID}features: lists \['close'\], "
                       r"but the config's inputs are \['log_return'\]"),
    "features-unknown": (_set("features", ["sentiment"]), rf"{INVALID}features: lists"),
    "coins-empty": (_set("coins", []), rf"{INVALID}coins: is \[\]; it must list each coin once"),
    "coins-twice": (_set("coins", [SIG, SIG]), rf"{INVALID}coins: is .*; it must list each"),
    "skipped-stranger": (_set("skipped", ["nope"]),
                         rf"{INVALID}skipped: names 'nope', which is not among coins"),
    "dropped-stranger": (_set("dropped", {"nope": 1}), rf"{INVALID}dropped: names 'nope'"),
    "dropped-string": (_set("dropped", {SIG: "1"}), rf"{INVALID}dropped\.{SIG}: Input should be"),
    "data-missing-coin": (_set("data", {}), rf"{INVALID}data: records \[\]; the coins kept are"),
    "data-other-coin": (_set(f"data.{SIG}.coin", "bitcoin"),
                        rf"{INVALID}data\.{SIG}\.coin: is 'bitcoin', not '{SIG}'"),
    "data-rows-string": (_set(f"data.{SIG}.rows", "300"),
                         rf"{INVALID}data\.{SIG}\.rows: Input should be a valid integer \(got "
                         r"'300'\)"),
    "data-rows-negative": (_set(f"data.{SIG}.rows", -5), rf"{INVALID}data\.{SIG}\.rows: Input"),
    "data-sha-short": (_set(f"data.{SIG}.sha256", "abc"), rf"{INVALID}data\.{SIG}\.sha256: "),
    "exog-stranger": (_set("exog_data", {"bitcoin": None}), rf"{INVALID}exog_data\.bitcoin: "),
    "target-coin-stranger": (_set("config.target_coin", "nope"),
                             rf"{INVALID}config\.target_coin: is 'nope', not among the coins"),
    # the training record
    "history-extra-key": (edit(lambda r: r["history"][0].update(bogus=1)),
                          rf"{INVALID}history\.0\.bogus: Extra inputs are not permitted"),
    "history-missing-key": (edit(lambda r: r["history"][0].pop("lr")),
                            rf"{INVALID}history\.0\.lr: Field required"),
    "history-not-a-list": (_set("history", {"epoch": 1}), rf"{INVALID}history: Input should"),
    "best-epoch-after-history": (_set("best_epoch", 99),
                                 rf"{INVALID}best_epoch: is 99, after the last epoch"),
    "best-epoch-string": (_set("best_epoch", "1"), rf"{INVALID}best_epoch: Input should be a va"),
    "stopped-early-number": (_set("stopped_early", 1), rf"{INVALID}stopped_early: Input should"),
    "metrics-list": (_set("metrics", [1]), rf"{INVALID}metrics: Input should be a valid dict"),
    "weights-sha-short": (_set("weights.sha256", "abc"), rf"{INVALID}weights\.sha256: String"),
    "weights-file-elsewhere": (_set("weights.file", "../x.safetensors"),
                               rf"{INVALID}weights\.file: Input should be 'model\.safetensors'"),
    "weights-record-missing": (_pop("weights"), rf"{INVALID}weights: Field required"),
    "extra-key": (_set("extra", 1), rf"{INVALID}extra: Extra inputs are not permitted"),
    "format-unknown": (_set("format", "coincast-run/9"), rf"{INVALID}format: Input should be"),
    "v1-with-odd-data": (both(_set("format", "coincast-run/1"), _set("data", [1, 2])),
                         rf"{INVALID}"),
    # run.json that is no JSON, or too much of it
    "deep-nesting": (write("[" * 100_000 + "]" * 100_000),
                     r"run\.json is not valid JSON \(nested too deep\)"),
    "deep-nesting-in-a-field": (write('{"format": "coincast-run/2", "name": ' + "[" * 100_000
                                      + "]" * 100_000 + "}"), r"run\.json is not valid JSON"),
    "huge": (write(b" " * (10 << 20) + b"{}"), r"run\.json is larger than 10 MiB"),
    "not-utf8": (write(b'{"name": "\xff\xfe"}'), r"run\.json is not valid JSON \(not UTF-8 "
                 r"text: byte 0xff at offset 10\)"),
    "huge-integer": (write('{"best_epoch": ' + "9" * 5000 + "}"), r"run\.json is not valid JSON"),
    "truncated-json": (write('{"format": "coincast-run/2",'), r"run\.json is not valid JSON"),
    "null": (write("null"), rf"{INVALID}run\.json: Input should be a valid dictionary"),
    "a-list": (write("[]"), rf"{INVALID}run\.json: Input should be a valid dictionary"),
    "empty": (write(""), r"run\.json is not valid JSON"),
    "run-json-a-folder": (lambda f: ((f / RECORD).unlink(), (f / RECORD).mkdir()),
                          r"has no run\.json; it is not a coincast run folder"),
    # the weights: missing, truncated, replaced, crafted
    "weights-missing": (lambda f: (f / WEIGHTS).unlink(), r"model\.safetensors is missing"),
    "weights-a-folder": (lambda f: ((f / WEIGHTS).unlink(), (f / WEIGHTS).mkdir()),
                         r"model\.safetensors is missing"),
    "weights-truncated": (write(b"\x00" * 10, WEIGHTS), r"SHA-256 differs"),
    "weights-truncated-rehashed": (
        both(lambda f: (f / WEIGHTS).write_bytes((f / WEIGHTS).read_bytes()[:-10]), rehash),
        rf"{NO_FIT}tensor .* past the .* the file holds \(truncated\)"),
    "weights-garbage-rehashed": (weights(lambda s: b"garbage!garbage!"),
                                 r"not a safetensors file: its header claims"),
    "weights-too-short-rehashed": (weights(lambda s: b"abc"),
                                   r"not a safetensors file: it has only 3 bytes"),
    "header-claims-huge-size": (weights(lambda s: struct.pack("<Q", 2**63) + b"{}"),
                                r"not a safetensors file: its header claims "
                                r"9,223,372,036,854,775,808 bytes"),
    "header-not-a-table": (weights(lambda s: header([1, 2])), r"its header is no table"),
    "header-not-json": (weights(lambda s: struct.pack("<Q", 4) + b"{{{{"),
                        r"its header is no table"),
    "tensor-claims-huge-shape": (
        weights(lambda s: header({k: {"dtype": "F32", "shape": [10**12, 8],
                                      "data_offsets": [0, 32 * 10**12]} for k in s})),
        rf"{NO_FIT}tensor .* has shape \[1000000000000, 8\]; the config in run\.json implies"),
    "tensor-offsets-past-the-end": (
        weights(lambda s: header({k: {"dtype": "F32", "shape": list(v.shape),
                                      "data_offsets": [0, 4 * v.numel()]} for k, v in s.items()})),
        rf"{NO_FIT}tensor .* ends at byte .* past the 0 the file holds \(truncated\)"),
    "tensor-offsets-odd": (
        weights(lambda s: header({k: {"dtype": "F32", "shape": list(v.shape),
                                      "data_offsets": "x"} for k, v in s.items()})),
        rf"{NO_FIT}tensor .* has data offsets 'x', no byte range"),
    "tensor-renamed": (weights(lambda s: {("head.w" if k == "head.weight" else k): v
                                          for k, v in s.items()}),
                       rf"{NO_FIT}it lacks tensor head\.weight"),
    "tensor-extra": (weights(lambda s: s | {"extra": torch.zeros(2)}),
                     rf"{NO_FIT}it holds tensor extra, unknown to it"),
    "tensor-missing": (weights(lambda s: {k: v for k, v in s.items() if k != "head.bias"}),
                       rf"{NO_FIT}it lacks tensor head\.bias"),
    "tensor-float64": (weights(lambda s: {k: v.double() for k, v in s.items()}),
                       rf"{NO_FIT}tensor .* is stored as 'F64', the network's tensors are F32"),
    "tensor-float16": (weights(lambda s: {k: v.half() for k, v in s.items()}),
                       rf"{NO_FIT}tensor .* is stored as 'F16'"),
    "tensor-transposed": (weights(lambda s: s | {"head.weight": s["head.weight"].T.contiguous()}),
                          rf"{NO_FIT}tensor head\.weight has shape \[8, 3\]; the config"),
    "weights-another-network": (weights(lambda s: LSTMNet(1, 4, 1, horizon=3).state_dict()),
                                rf"{NO_FIT}tensor .* has shape"),
    "weights-huge-sparse-file": (lambda f: os.truncate(f / WEIGHTS, 3 << 30),
                                 r"model\.safetensors has 3,221,225,472 bytes, far more than the "
                                 r"[\d,]+ bytes of weights of the network in run\.json"),
    "weights-a-pickle": (weights(lambda s: _pickle_bytes(s)), r"not a safetensors file"),
}  # fmt: skip
TAMPERS["scaler-overflow"] = (  # 1e999 is valid JSON, read as inf
    lambda f: (f / RECORD).write_text((f / RECORD).read_text().replace(
        '"std": [', '"std": [1e999, ', 1)),
    rf"{INVALID}{S}\.features\.std\.0: Input should be a finite number",
)  # fmt: skip


def _pickle_bytes(state: dict[str, torch.Tensor]) -> bytes:
    import io

    buf = io.BytesIO()
    torch.save(state, buf)
    return buf.getvalue()


@pytest.fixture
def nothing_allocated(monkeypatch) -> None:
    """Fail the test if the weights are read or a network is built."""

    def forbidden(*args, **kwargs):
        raise AssertionError("a tensor was allocated for a refused run folder")

    monkeypatch.setattr(runs, "load_file", forbidden)
    monkeypatch.setattr(LSTMForecaster, "_new_net", forbidden)


@pytest.mark.parametrize("name", list(TAMPERS))
def test_a_tampered_run_folder_is_one_clear_error_before_any_tensor(run, name, request):
    tamper, message = TAMPERS[name]
    tamper(run)
    request.getfixturevalue("nothing_allocated")
    with pytest.raises(RunError) as caught:
        load_run(run)
    text = str(caught.value)
    assert "\n" not in text and len(text) < 500, text
    assert str(run) in text, text  # names the run folder
    assert re.search(message, text), f"{message!r} not in {text!r}"
    if INVALID in message or NO_FIT in message:
        assert re.search(DAMAGED, text), text


def test_the_round_trip_still_loads(run, fitted):
    frame = predictable_candles(200)
    pd.testing.assert_frame_equal(load_run(run).predict(frame=frame), fitted.predict())


def test_a_loaded_cpu_run_with_a_cuda_device_still_predicts(run, fitted):
    """A run trained on a GPU names its device; it is only checked when training."""
    _set("config.device", "cuda:7")(run)
    frame = predictable_candles(200)
    pd.testing.assert_frame_equal(load_run(run).predict(frame=frame), fitted.predict())


@pytest.mark.parametrize("module", ["config", "devices", "folders", "run_checks", "settings"])
def test_the_examples_in_the_docstrings_run(module):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(f"coincast.models.{module}"))
    assert result.failed == 0 and result.attempted > 0


def test_recursive_mode_with_exog_coins_is_worded_for_python_and_for_the_cli():
    with pytest.raises(
        config_module.ConfigError,
        match=r"^recursive mode cannot forecast the inputs of the exog coins; use direct mode "
        r"\(recursive=False\)$",
    ) as caught:
        config_module.LSTMConfig(recursive=True, exog=["bitcoin"])
    assert (
        caught.value.cli
        == "recursive mode cannot forecast the --exog coins' inputs; use direct mode"
    )


def test_backtest_exog_errors_name_the_argument_and_in_the_cli_the_flag():
    from coincast.evaluation.adapters import LSTMTraining, lstm_models

    frame = predictable_candles(50)
    with pytest.raises(
        CoincastError, match=r"^a \+exog variant needs the coins to read: exog=\['bitcoin'\]$"
    ) as caught:
        lstm_models(frame, LSTMTraining(variants=["single+exog"]), horizon=1)
    assert caught.value.cli == "a +exog variant needs the coins to read: --exog bitcoin"
    config = config_module.LSTMConfig(exog=["leader"])
    with pytest.raises(
        CoincastError, match=r"^exog coin leader: no candles of leader were given; fetch leader$"
    ) as caught:
        lstm_models(frame, LSTMTraining(config=config), horizon=1)
    assert caught.value.cli == "--exog leader: no candles of leader were given; fetch leader"
