"""The Darts side of ``bench_darts.py``: the BTC walk-forward with Darts'
``historical_forecasts(retrain=K)`` and the network of coincast's LSTM.

Run with the Python of a separate venv that has ``darts[torch]`` (never coincast's own)::

    /work/darts-venv/bin/python benchmarks/darts_walk.py --csv BTC-USD_1d.csv \\
        --start 2024-02-13 --end 2025-02-11 --refit-every 30 --out result.json

What it does, to match ``coincast backtest bitcoin --models lstm,naive``:

- series: the log return of the close, ``log(c_t / c_(t-1))``, as float32 (coincast trains
  in float32; a float64 series would make Darts train in double precision);
- model: ``BlockRNNModel(model="LSTM")``: a 2-layer ``nn.LSTM`` of 64 units and one linear
  layer on the last step's hidden state (``hidden_fc_sizes=None``), like coincast's
  ``LSTMNet``; 30 input steps, 1 output step, dropout 0, batch 64, Adam at lr 1e-3, MSE loss,
  gradient norm clipped at 1.0 (``gradient_clip_val``), ``random_state`` = seed;
- per retrain (``retrain=K``: Darts fits a new, untrained model every K forecasts, so this is
  a from-scratch walk): the series standardised by a Darts ``Scaler(StandardScaler())`` (not
  Darts' default min-max) fit on that retrain's training part only (``data_transformers``),
  the last ``val_length`` bars held out as the validation series (``--early-stop``, the
  default: up to ``--epochs`` 50 epochs, Lightning's ``EarlyStopping`` on ``val_loss`` with
  patience 10), or a fixed number of epochs (``--no-early-stop --epochs N``);
- forecasts: ``forecast_horizon=1, stride=1, last_points_only=True`` from ``--start`` to the
  end of the series; the price forecast is ``c_(t-1) * exp(r_hat_t)``, scored by MAE against
  ``c_t``, and the naive forecast ``c_(t-1)`` on the same bars.

Writes a JSON object (walls, epochs run per retrain, MAE, naive MAE, versions) to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import time
import warnings

T0 = time.perf_counter()

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402

EPOCHS_RUN: list[int] = []  # one entry per fit; module level: Darts deep-copies callbacks


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--csv", required=True, help="Yahoo daily CSV (Date, Close, ...)")
    p.add_argument("--start", required=True, help="first test bar (first forecast time)")
    p.add_argument("--end", required=True, help="last test bar")
    p.add_argument("--refit-every", type=int, default=30)
    p.add_argument("--epochs", type=int, default=50, help="max epochs per retrain")
    p.add_argument("--patience", type=int, default=10)
    p.add_argument(
        "--early-stop",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="EarlyStopping on a validation series (default), else --epochs every retrain",
    )
    p.add_argument("--val-fraction", type=float, default=0.1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--work-dir", default=None, help="Darts' work dir (default: a temp dir)")
    p.add_argument("--out", required=True, help="JSON result file")
    return p.parse_args()


def quiet() -> None:
    warnings.filterwarnings("ignore")
    for name in ("pytorch_lightning", "lightning", "lightning.pytorch", "darts"):
        logging.getLogger(name).setLevel(logging.ERROR)


def callbacks(early_stop: bool, patience: int) -> list:
    import pytorch_lightning as pl
    from pytorch_lightning.callbacks import EarlyStopping

    class CountEpochs(pl.Callback):
        """Appends the epochs each fit ran to ``EPOCHS_RUN``."""

        def on_fit_start(self, trainer, pl_module) -> None:
            EPOCHS_RUN.append(0)

        def on_train_epoch_end(self, trainer, pl_module) -> None:
            EPOCHS_RUN[-1] += 1

    class FreshEarlyStopping(EarlyStopping):
        """Lightning's EarlyStopping with its state reset at each fit: Darts deep-copies the
        previous model's parameters, callbacks and their state included, at every retrain."""

        def on_fit_start(self, trainer, pl_module) -> None:
            self.wait_count, self.stopped_epoch = 0, 0
            self.best_score = torch.tensor(math.inf if self.mode == "min" else -math.inf)

    out: list = [CountEpochs()]
    if early_stop:
        out.append(FreshEarlyStopping(monitor="val_loss", patience=patience, mode="min"))
    return out


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    quiet()
    import darts
    import pytorch_lightning as pl
    from darts import TimeSeries
    from darts.dataprocessing.transformers import Scaler
    from darts.models import BlockRNNModel
    from sklearn.preprocessing import StandardScaler

    quiet()  # again: importing Lightning sets its loggers' levels
    t_import = time.perf_counter() - T0
    frame = pd.read_csv(args.csv, parse_dates=["Date"], index_col="Date")
    close = frame["Close"].astype("float64").loc[: args.end]
    close.index = pd.DatetimeIndex(close.index).tz_localize(None)
    close = close.asfreq("D")
    if close.isna().any():
        raise SystemExit(f"{args.csv}: missing days, e.g. {close[close.isna()].index[0]}")
    logret = np.log(close / close.shift(1)).iloc[1:]
    # a RangeIndex series: darts 0.48.1 cannot step a daily DatetimeIndex under pandas 3
    series = TimeSeries.from_values(logret.to_numpy("float32"))
    start = pd.Timestamp(args.start)
    # coincast's validation slice is the last val_fraction of each refit's windows; Darts
    # takes a fixed number of bars: that share of the first retrain's windows
    n_first = int((logret.index < start).sum())
    val_length = round(args.val_fraction * (n_first - 30)) if args.early_stop else 0

    model = BlockRNNModel(
        model="LSTM",
        input_chunk_length=30,
        output_chunk_length=1,
        hidden_dim=64,
        n_rnn_layers=2,
        hidden_fc_sizes=None,
        dropout=0.0,
        batch_size=64,
        n_epochs=args.epochs,
        optimizer_kwargs={"lr": 1e-3},
        random_state=args.seed,
        work_dir=args.work_dir,
        save_checkpoints=False,
        pl_trainer_kwargs={
            "accelerator": "cpu",
            "devices": 1,
            "enable_progress_bar": False,
            "enable_model_summary": False,
            "logger": False,
            "gradient_clip_val": 1.0,
            "callbacks": callbacks(args.early_stop, args.patience),
        },
    )
    t1 = time.perf_counter()
    fc = model.historical_forecasts(
        series,
        start=int(np.searchsorted(logret.index, start)),
        start_format="position",
        forecast_horizon=1,
        stride=1,
        retrain=args.refit_every,
        last_points_only=True,
        val_length=val_length,
        data_transformers={"series": Scaler(StandardScaler())},
        verbose=False,
        show_warnings=False,
        random_state=args.seed,
    )
    t_walk = time.perf_counter() - t1
    rhat = pd.Series(fc.values()[:, 0].astype("float64"), index=logret.index[fc.time_index])
    last = close.shift(1).loc[rhat.index]
    actual = close.loc[rhat.index]
    yhat = last * np.exp(rhat)
    mae = float(np.mean(np.abs(yhat - actual)))
    naive = float(np.mean(np.abs(last - actual)))
    result = {
        "n": len(rhat),
        "first": str(rhat.index[0].date()),
        "last": str(rhat.index[-1].date()),
        "mae": mae,
        "naive_mae": naive,
        "rel_mae": mae / naive,
        "up_share": float(np.mean(rhat > 0)),
        "epochs": EPOCHS_RUN,
        "early_stop": args.early_stop,
        "val_length": val_length,
        "import_s": t_import,
        "walk_s": t_walk,
        "script_s": time.perf_counter() - T0,
        "versions": {
            "darts": darts.__version__,
            "pytorch_lightning": pl.__version__,
            "torch": torch.__version__,
            "cuda": torch.version.cuda,
        },
        "threads": torch.get_num_threads(),
    }
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1)
    print(json.dumps({k: v for k, v in result.items() if k != "epochs"}))


if __name__ == "__main__":
    main()
