"""Every example in README.md runs, so the README cannot rot.

```python blocks run as scripts in a temporary folder holding a prepared store; in ```console
blocks every ``$ coincast ...`` line runs, in order, in a temporary folder laid out like a
checkout (``../shared/data`` beside it); ```bash blocks (installs) and lines that need the
network are skipped, each with its reason. The data: the last :data:`BARS` daily bars of the
Yahoo files in ``../shared/data`` when it exists, else synthetic bars in the same layout, so
the whole file runs in well under two minutes on two cores.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from conftest import DATA_DIR
from typer.testing import CliRunner

from coincast import Store, read_file, synthetic_candles
from coincast.cli.app import app

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
BARS = 300  #: daily bars per coin: enough for the README's windows, cheap to train on
COINS = {"BTC": "bitcoin", "ETH": "ethereum", "SOL": "solana", "LTC": "litecoin"}
LAST_DAY = "2025-02-11"  #: the Yahoo files' last day; the README's dates lie before it

NETWORK = (
    "CoinGecko (the default source) or an exchange over the network; tests never touch the "
    "internet (tests/data covers those sources against fake servers)"
)


@dataclass(frozen=True)
class Block:
    """One fenced example: its language, its text and the README line it starts on."""

    lang: str
    text: str
    line: int


def blocks(text: str) -> list[Block]:
    """Every fenced block of ``text``, in order."""
    found, lines, i = [], text.splitlines(), 0
    while i < len(lines):
        if m := re.match(r"^```(\w*)\s*$", lines[i]):
            end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
            found.append(Block(m.group(1), "\n".join(lines[i + 1 : end]) + "\n", i + 1))
            i = end
        i += 1
    return found


def console_commands(block: Block) -> list[list[str]]:
    """The argument lists of the ``$ coincast ...`` lines of a console block (comments cut,
    ``\\`` continuations joined)."""
    commands, joined = [], ""
    for line in block.text.splitlines():
        if not joined and not line.startswith("$ "):
            continue  # output shown under a command
        joined += line.removeprefix("$ ").rstrip()
        if joined.endswith("\\"):
            joined = joined[:-1] + " "
            continue
        args = shlex.split(joined, comments=True)
        joined = ""
        assert args[0] == "coincast", f"README line {line!r} is not a coincast command"
        commands.append(args[1:])
    return commands


def network_reason(args: list[str]) -> str | None:
    """Why a command cannot run offline, or None when it can."""
    source = args[args.index("--source") + 1] if "--source" in args else None
    if args[0] == "fetch" and source in (None, "coingecko"):
        return NETWORK
    if source is not None and source.startswith("exchange:"):
        return NETWORK
    return None


def python_reason(block: Block) -> str | None:
    """Why a Python block cannot run offline, or None when it can."""
    if 'get_source("coingecko")' in block.text or '"exchange:' in block.text:
        return NETWORK
    return None


def _daily(symbol: str, seed: int) -> pd.DataFrame:
    """The last :data:`BARS` daily bars of a coin: shared data when present, else synthetic."""
    path = DATA_DIR / "yahoo" / "daily" / f"{symbol}-USD_1d.csv"
    if path.is_file():
        return read_file(path, coin=COINS[symbol])[0].iloc[-BARS:]
    start = pd.Timestamp(LAST_DAY) - pd.Timedelta(days=BARS - 1)
    return synthetic_candles(BARS, seed=seed, coin=COINS[symbol], start=str(start.date()))


def _write_yahoo(frame: pd.DataFrame, path: Path) -> None:
    """``frame`` as a Yahoo-layout CSV file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    yahoo = frame[["open", "high", "low", "close", "volume"]].rename(columns=str.title)
    yahoo.index = yahoo.index.strftime("%Y-%m-%d")
    yahoo.rename_axis("Date").to_csv(path)


@pytest.fixture(scope="module")
def top(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding ``shared/data/yahoo/daily`` and ``coincast.db``, a store of the
    daily coins."""
    top = tmp_path_factory.mktemp("readme")
    daily = top / "shared" / "data" / "yahoo" / "daily"
    with Store(top / "coincast.db") as store:
        for seed, symbol in enumerate(COINS):
            frame = _daily(symbol, seed)
            _write_yahoo(frame, daily / f"{symbol}-USD_1d.csv")
            frame.attrs["source"] = "csv"
            store.write_candles(frame)
    return top


@pytest.fixture
def checkout(top: Path, request: pytest.FixtureRequest) -> Path:
    """A fresh working folder laid out like a checkout (``../shared/data`` beside it), with
    a copy of the prepared store as ``coincast.db``."""
    folder = top / re.sub(r"\W", "_", request.node.name)
    folder.mkdir()
    shutil.copy(top / "coincast.db", folder / "coincast.db")
    return folder


README_BLOCKS = blocks(README.read_text(encoding="utf-8"))


def test_every_block_is_known() -> None:
    # A new kind of block must be given a rule here, not silently ignored.
    assert {b.lang for b in README_BLOCKS} <= {"python", "console", "bash", "text"}
    assert [b for b in README_BLOCKS if b.lang == "python"], "the README lost its Python examples"
    assert [b for b in README_BLOCKS if b.lang == "console"], "the README lost its CLI examples"


@pytest.mark.parametrize(
    "block", [b for b in README_BLOCKS if b.lang == "bash"], ids=lambda b: f"line{b.line}"
)
def test_install_blocks_are_skipped(block: Block) -> None:
    pytest.skip("installs into a virtual environment over the network (what `make` does)")


@pytest.mark.slow  # trains LSTMs: a minute alone, several on a busy 2-core machine
@pytest.mark.timeout(660)
@pytest.mark.parametrize(
    "block", [b for b in README_BLOCKS if b.lang == "python"], ids=lambda b: f"line{b.line}"
)
def test_python_example_runs(block: Block, checkout: Path) -> None:
    if reason := python_reason(block):
        pytest.skip(reason)
    script = checkout / f"readme_line{block.line}.py"
    script.write_text(block.text, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, script.name], cwd=checkout, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, f"README line {block.line}:\n{done.stderr[-3000:]}"


def _run_console(block: Block, folder: Path, heavy: bool) -> list[str]:
    """Run the block's ``$ coincast`` lines in ``folder``, in order; the lines skipped, each
    with its reason. Without ``heavy``, it stops at the first command that trains."""
    skipped = []
    for args in console_commands(block):
        if reason := network_reason(args):
            skipped.append(f"coincast {' '.join(args)}: {reason}")
            continue
        if not heavy and args[0] in TRAINS:
            break
        result = CliRunner().invoke(app, ["--store", str(folder / "console.db"), *args])
        assert result.exit_code == 0, f"coincast {' '.join(args)}:\n{result.output[-3000:]}"
    return skipped


#: Commands that train an LSTM (or need a trained one): minutes on a busy 2-core machine.
TRAINS = {"train", "predict", "backtest", "report", "explain"}
CONSOLE = [b for b in README_BLOCKS if b.lang == "console"]


@pytest.mark.parametrize("block", CONSOLE, ids=lambda b: f"line{b.line}")
def test_console_example_runs_until_it_trains(
    block: Block, checkout: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(checkout)
    skipped = _run_console(block, checkout, heavy=False)
    assert len(skipped) < len(console_commands(block)), "every line of the block was skipped"


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.parametrize("block", CONSOLE, ids=lambda b: f"line{b.line}")
def test_console_example_runs_in_full(
    block: Block, checkout: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(checkout)
    _run_console(block, checkout, heavy=True)


def test_jupyter_commands_name_tools_the_install_brings() -> None:
    import tomllib

    text = README.read_text(encoding="utf-8")
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    assert "jupyter lab" in text and ".[notebook]" in text
    assert any(d.startswith("jupyterlab") for d in extras["notebook"])


def test_the_forecast_picture_shows_the_command_that_draws_it() -> None:
    text = README.read_text(encoding="utf-8")
    after = text[text.index("docs/images/forecast.png") :]
    block = next(b for b in blocks(after) if b.lang == "console")
    train = next(c for c in console_commands(block) if c[0] == "train")
    assert "--horizon" in train and train[train.index("--horizon") + 1] == "7"
    assert train[train.index("--head") + 1] == "quantile"
    assert any(c[0] == "predict" and "--plot" in c for c in console_commands(block))
