"""The fuzz harness: hostile input to every command, and what every case must satisfy.

A *case* is one command line (with its environment, the files it reads, and an optional
damage done to a saved run folder). Every case runs in-process through Typer's runner against
a copy of one small *world* (a store with synthetic candles, a trained run, a backtest
folder), and ends in one of four outcomes:

- ``ok``: exit code 0;
- ``error``: exit code 1 with an ``Error: ...`` line, or 2 (a usage error from Click);
- ``crash``: anything else (an exception escaping the command, the ``unexpected`` catch-all,
  a traceback, another exit code, an exit 1 without an ``Error:`` line);
- ``lost``: the command failed, yet the store changed (or a read-only command changed it, or
  a failed ``train`` left a run folder behind).

``tests/cli/test_fuzz.py`` asserts every case is ``ok`` or ``error``;
``benchmarks/bench_reliability.py`` runs many more cases and prints the counts.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import sqlite3
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypothesis import strategies as st
from typer.testing import CliRunner

from coincast.cli import app

# -- hostile values ---------------------------------------------------------------------------

NUMBERS = [
    "nan", "inf", "-inf", "-1", "0", "-0", "1e20", "1e308", "1e-400", "abc", "", " ", "1,5",
    "0x10", "½", "99999999999999999999999999", "-99999999999999999999", "2", "3",
]  # fmt: skip
TEXT = [
    "[/]", "[/b]", "[link=http://x]y[/link]", "[bold]x", "../../x", "/etc/passwd",
    "<script>alert(1)</script>", " ", "", "a" * 5000, "bitcoinn", "BTC", "demo", "DEMO",
    "\uff42\uff49\uff54coin", "\u202edemo", "%s%n", "{task.description}", "😀", "demo\nx", "C:\\x",
    "-", "--", "demo,demo", "usd", "USDT", "a" * 65,
]  # fmt: skip
DATES = [
    "01/02/2024", "2262-04-12", "1600-01-01", "9999-12-31", "99999-01-01", "2024-13-01",
    "2024-02-30", "yesterday", "0", "now", "2024-01-01T25:00", "1970-01-01", "2100-01-01",
    "2025-01-01", "2025-06-01T12:00", "[/b]",
]  # fmt: skip
INTERVALS = ["1d", "1h", "1w", "1s", "7d", "1D", "", "[/b]", "0m", "-1h", "1e9d"]
# Paths relative to the case folder ({dir}); absolute ones that exist on every machine.
PATHS = [
    "{dir}/out", "{dir}/a/b/c", "{dir}/file.txt", "{dir}/file.txt/x", "{dir}", "", ".",
    "/", "/dev/null", "/proc/self/nosuch", "{dir}/[/b]", "{dir}/" + "a" * 300,
    "{dir}/../../../../../../x", "{dir}/ro/x",
]  # fmt: skip
LSTM_FLAGS = {
    "--lookback": NUMBERS, "--horizon": NUMBERS, "--hidden": NUMBERS, "--layers": NUMBERS,
    "--dropout": NUMBERS, "--epochs": ["0", "-1", "nan", "abc", "1e20", "1",
                                       "99999999999999999999999999"],
    "--batch": NUMBERS, "--lr": NUMBERS, "--learn": ["returns", "price", "[/b]", ""],
    "--head": ["point", "quantile", "gaussian", "[/b]", ""],
    "--quantiles": ["0.1,0.5,0.9", "nan", "0.9,0.1", "0,1", "[/b]", "", "0.5,0.5", "1e-400"],
    "--features": ["log_return", "close", "[/b]", "", "volume,volume", "../x"],
    "--val-fraction": NUMBERS, "--patience": ["0", "-1", "nan", "abc", "1e20", "1"],
    "--clip": NUMBERS, "--lr-schedule": ["none", "cosine", "plateau", "[/b]"],
    "--seed": [*NUMBERS, str(2 ** 64), str(2 ** 64 + 1), str(-2 ** 63 - 1)],
    "--threads": [*NUMBERS, "100000"], "--device": ["cpu", "cuda", "cuda:7", "tpu", "mps", ""],
    "--log-every": NUMBERS, "--embed-dim": NUMBERS, "--exog": TEXT,
    "--config": [*PATHS, "{dir}/config.toml"],
}  # fmt: skip
TINY = ["--epochs", "1", "--hidden", "4", "--layers", "1", "--lookback", "5", "--threads", "1",
        "--log-every", "0", "--patience", "1"]  # fmt: skip
SERIES_FLAGS = {"--interval": INTERVALS, "--source": [*TEXT, "synthetic", "csv"],
                "--quote": TEXT, "--min-complete": NUMBERS}  # fmt: skip
CONFIGS = [
    b"lr = inf\n", b"hidden = 1000000000000\n", b"[[[[\n", b"\x00\x01\x02", b"device = 'tpu'\n",
    b"seed = 99999999999999999999999999\n", b"epochs = 'x'\n", b"a = " + b"[" * 5000 + b"\n",
    b"lookback = '[/b]'\n", b"\xff\xfe\x00",
]  # fmt: skip


# -- cases ------------------------------------------------------------------------------------


@dataclass
class Case:
    """One command line and what it reads; ``{dir}`` in args stands for the case folder."""

    args: list[str]
    env: dict[str, str] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)  #: written into the case folder
    run_damage: tuple[str, Any] | None = None  #: done to the run folder copy first
    writes: bool = False  #: the command may change the store when it succeeds

    def describe(self) -> str:
        extra = f" env={self.env}" if self.env else ""
        damage = f" damage={self.run_damage!r:.200}" if self.run_damage else ""
        files = f" files={ {k: v[:80] for k, v in self.files.items()} }" if self.files else ""
        return f"coincast {' '.join(map(repr, self.args))}"[:600] + extra + damage + files


def _flags(pools: dict[str, list[str]], most: int = 2) -> st.SearchStrategy[list[str]]:
    """Up to ``most`` (flag, hostile value) pairs from ``pools``."""
    pair = st.sampled_from(sorted(pools)).flatmap(
        lambda f: st.sampled_from(pools[f]).map(lambda v: [f, v])
    )
    return st.lists(pair, min_size=1, max_size=most).map(lambda ps: [x for p in ps for x in p])


def flag_cases() -> st.SearchStrategy[Case]:
    """Hostile flags and arguments for every command but ``demo`` (which needs minutes)."""
    fetch = {"--source": [*TEXT, "exchange:[/b]", "exchange:nosuch", "nosuch"],
             "--quote": TEXT, "--interval": INTERVALS, "--days": NUMBERS,
             "--start": DATES, "--end": DATES}  # fmt: skip
    return st.one_of(
        _cmd(
            ["fetch", "demo", "--source", "synthetic", "--interval", "1d", "--days", "30"],
            fetch,
            coin=True,
            writes=True,
        ),
        st.sampled_from([Case(["data", "list"]), Case(["data", "list", "--json"])]),
        _cmd(["data", "show", "demo"], {**SERIES_FLAGS, "--tail": NUMBERS}, coin=True),
        _cmd(["data", "gaps", "demo"], SERIES_FLAGS, coin=True),
        _cmd(
            ["data", "export", "demo", "--out", "{dir}/x.csv"],
            {**SERIES_FLAGS, "--out": [*PATHS, "{dir}/x.parquet", "{dir}/x.xlsx"]},
            coin=True,
        ),
        _cmd(
            ["train", "demo", *TINY, "--out", "{dir}/run"],
            {**LSTM_FLAGS, **SERIES_FLAGS, "--until": DATES, "--out": PATHS, "--target": TEXT},
            coin=True,
        ),
        _cmd(
            ["predict", "{world}/run", "--json"],
            {"--horizon": NUMBERS, "--coin": TEXT, "--plot": PATHS, "run": PATHS},
        ),
        _cmd(
            [
                "backtest",
                "demo",
                *TINY,
                "--models",
                "naive,drift",
                "--test",
                "20",
                "--refit-every",
                "10",
                "--out",
                "{dir}/bt",
            ],
            {
                **SERIES_FLAGS,
                "--models": ["naive,lstm", "nosuch", "[/b]", "", "naive,naive"],
                "--horizon": NUMBERS,
                "--test": NUMBERS,
                "--refit-every": NUMBERS,
                "--window": ["expanding", "rolling", "[/b]", ""],
                "--window-size": NUMBERS,
                "--start": DATES,
                "--end": DATES,
                "--out": PATHS,
                "--refit-epochs": NUMBERS,
            },
            coin=True,
        ),
        _cmd(["report", "{world}/bt", "--out", "{dir}/r.html"], {"--out": PATHS, "bt": PATHS}),
        _cmd(
            ["explain", "{world}/run", "--out", "{dir}/ex"],
            {"--window": NUMBERS, "--coin": TEXT, "--out": PATHS, "run": PATHS},
        ),
    )


def _cmd(
    base: list[str], pools: dict[str, list[str]], *, coin: bool = False, writes: bool = False
) -> st.SearchStrategy[Case]:
    """``base`` with hostile flags appended (the last value of a repeated flag wins); a pool
    named without ``--`` replaces that positional argument (``run``, ``bt``); ``coin``
    replaces the first positional coin."""
    positional = {k: v for k, v in pools.items() if not k.startswith("--")}
    options = {k: v for k, v in pools.items() if k.startswith("--")}
    if coin:
        positional["demo"] = TEXT

    def build(flags: list[str], where: str | None, value: str) -> Case:
        args = list(base)
        if where is not None:
            target = {"run": "{world}/run", "bt": "{world}/bt"}.get(where, where)
            args[args.index(target)] = value
        files = {"file.txt": b"a file, not a folder\n", "config.toml": b"lr = inf\n"}
        return Case(args + flags, files=files, writes=writes)

    where = st.sampled_from([None, *positional]) if positional else st.just(None)
    return st.tuples(_flags(options), where).flatmap(
        lambda t: (st.sampled_from(positional[t[1]]) if t[1] else st.just("")).map(
            lambda v: build(t[0], t[1], v)
        )
    )


def config_cases() -> st.SearchStrategy[Case]:
    """``train --config FILE`` with a hostile file."""
    return st.sampled_from(CONFIGS).map(
        lambda text: Case(
            ["train", "demo", *TINY, "--out", "{dir}/run", "--config", "{dir}/c.toml"],
            files={"c.toml": text},
        )
    )


def _csv_damage(base: bytes) -> st.SearchStrategy[bytes]:
    """``base`` (a valid candle CSV) with one kind of damage."""
    lines = base.split(b"\n")
    header, rows = lines[0], [r for r in lines[1:] if r]
    cells = [b"nan", b"inf", b"-1", b"0", b"", b"abc", b"1e400", b"[/b]", b"x" * 100_000,
             b"1600-01-01", b"9999-12-31", b"2262-04-12", b"\x00", b'"', b"1,2"]  # fmt: skip

    def cell(i: int, j: int, value: bytes) -> bytes:
        out = list(rows)
        parts = out[i % len(out)].split(b",")
        parts[j % len(parts)] = value
        out[i % len(out)] = b",".join(parts)
        return b"\n".join([header, *out]) + b"\n"

    whole = [
        b"", header + b"\n", b"\n".join(rows) + b"\n", gzip.compress(base), b"PK\x03\x04" + base,
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + base, b"\x89PNG\r\n\x1a\n" + base,
        base.decode().encode("utf-16"), b"\xef\xbb\xbf" + base, base.replace(b",", b";"),
        b"\n".join([header, *rows, *rows]) + b"\n", b"\n".join([header, *rows[::-1]]) + b"\n",
        base.replace(b"\n", b"\r"), base[: len(base) // 2], b"\x00" * 100, base + b"\x00\n",
        "é,ü\n".encode("latin-1") + base,
    ]  # fmt: skip
    return st.one_of(
        st.sampled_from(whole),
        st.builds(cell, st.integers(0, 10_000), st.integers(0, 10), st.sampled_from(cells)),
        st.integers(0, len(base)).map(lambda n: base[:n]),
    )


def file_cases(base_csv: bytes) -> st.SearchStrategy[Case]:
    """``import FILE`` with a damaged file and hostile names and intervals."""
    extra = _flags({"--coin": TEXT, "--quote": TEXT, "--interval": INTERVALS}, most=2)
    names = st.sampled_from(["f.csv", "f.parquet", "f.txt", "f.CSV", "f"])
    return st.builds(
        lambda data, name, flags: Case(
            ["import", "{dir}/" + name, "--coin", "imported", *flags],
            files={name: data}, writes=True,
        ),
        _csv_damage(base_csv), names, st.one_of(st.just([]), extra),
    )  # fmt: skip


RUN_VALUES = [None, "x", -1, 0, 1e308, float("nan"), float("inf"), 10**30, [], {}, True,
              "[/b]", "a" * 10_000, [1.0] * 3, -1e-300]  # fmt: skip


def run_cases() -> st.SearchStrategy[Case]:
    """``predict`` (and ``explain``) on a run folder whose files were damaged."""
    field_damage = st.tuples(
        st.just("field"), st.tuples(st.integers(0, 10_000), st.sampled_from(RUN_VALUES))
    )
    raw = st.sampled_from(
        [("raw", b""), ("raw", b"[" * 100_000), ("raw", b"\xff\xfe"), ("raw", b"{}"),
         ("raw", b"[]"), ("raw", b"null"), ("raw", b'{"a": NaN}'), ("cut", 0.5), ("cut", 0.1),
         ("weights", b""), ("weights", b"\x00" * 8), ("weights", b"\xff" * 8 + b"{}"),
         ("weights-cut", 0.5), ("weights-flip", 12), ("weights-flip", 100), ("delete", "run.json"),
         ("delete", "model.safetensors"), ("drop", 0), ("drop", 7), ("drop", 23)]
    )  # fmt: skip
    command = st.sampled_from(
        [["predict", "{dir}/run", "--json"], ["explain", "{dir}/run", "--out", "{dir}/ex"]]
    )
    return st.builds(lambda c, d: Case(c, run_damage=d), command, st.one_of(field_damage, raw))


ENV = {
    "COINGECKO_CALLS_PER_MINUTE": NUMBERS, "COINGECKO_API_PLAN": [*TEXT, "pro", "demo"],
    "COINGECKO_API_KEY": TEXT, "COINCAST_HTTP_DEADLINE": NUMBERS,
    "COINCAST_HTTP_MAX_BYTES": NUMBERS, "COLUMNS": NUMBERS, "COINCAST_HOME": PATHS,
}  # fmt: skip


def env_cases() -> st.SearchStrategy[Case]:
    """Hostile environment variables, for a fetch from the fake CoinGecko and a listing."""
    one = st.sampled_from(sorted(ENV)).flatmap(
        lambda k: st.sampled_from(ENV[k]).map(lambda v: (k, v))
    )
    env = st.lists(one, min_size=1, max_size=2).map(dict)
    command = st.sampled_from(
        [(["fetch", "bitcoin", "--days", "3"], True), (["data", "list"], False)]
    )
    return st.builds(lambda e, c: Case(list(c[0]), env=e, writes=c[1]), env, command)


# -- the world and one run ----------------------------------------------------------------------


@dataclass
class World:
    """What every case starts from: copied for each case, never changed."""

    root: Path
    csv: bytes = field(default=b"", repr=False)  #: a valid candle file (daily bars, exported)
    base_url: str = "http://127.0.0.1:9"  #: the fake CoinGecko (a closed port if none)

    @property
    def store(self) -> Path:
        return self.root / "store.db"


@dataclass
class Outcome:
    kind: str  #: ok, error, crash or lost
    detail: str = ""


runner = CliRunner()


def invoke(store: Path, args: list[str], env: dict[str, str] | None = None):
    return runner.invoke(app, ["--store", str(store), *args], env=env)


def make_world(root: Path) -> World:
    """A store with 400 daily and 10 days of hourly synthetic bars of ``demo`` (the daily
    ones exported to a file and imported again as ``eth``), a tiny trained run and a
    backtest folder."""
    root.mkdir(parents=True, exist_ok=True)
    world = World(root)
    csv = root / "eth.csv"
    steps = [
        ["fetch", "demo", "--source", "synthetic", "--interval", "1d", "--days", "400"],
        ["fetch", "demo", "--source", "synthetic", "--interval", "1h", "--days", "10"],
        ["data", "export", "demo", "--interval", "1d", "--out", str(csv)],
        ["import", str(csv), "--coin", "eth"],
        ["train", "demo", *TINY, "--out", str(root / "run")],
        ["backtest", "demo", "--models", "naive,drift", "--test", "20", "--refit-every", "10",
         "--out", str(root / "bt")],
    ]  # fmt: skip
    for args in steps:
        result = invoke(world.store, args)
        assert result.exit_code == 0, (args, result.output)
    world.csv = csv.read_bytes()
    return world


def store_hash(path: Path) -> str:
    """A hash of every row of every table (the content, not the file's bytes), or of the
    file's absence."""
    if not path.exists():
        return "absent"
    h = hashlib.sha256()
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as con:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for t in sorted(tables):
            rows = sorted(map(repr, con.execute(f'SELECT * FROM "{t}"')))
            h.update(t.encode() + repr(rows).encode())
    con.close()
    return h.hexdigest()


def run_case(case: Case, world: World) -> Outcome:
    """Run ``case`` on a fresh copy of ``world``; its outcome."""
    with tempfile.TemporaryDirectory(dir=world.root.parent) as tmp:
        folder = Path(tmp)
        store = _prepare(case, world, folder)
        before = store_hash(store)
        args = [a.replace("{dir}", str(folder)).replace("{world}", str(world.root))
                for a in case.args]  # fmt: skip
        env = {"COINGECKO_BASE_URL": world.base_url, **case.env}
        cwd = os.getcwd()
        os.chdir(folder)  # "" and "." as paths write here, never into the caller's folder
        try:
            result = invoke(store, args, env)
        finally:
            os.chdir(cwd)
        return _judge(case, result, before, store_hash(store), folder)


def _prepare(case: Case, world: World, folder: Path) -> Path:
    store = folder / "store.db"
    shutil.copyfile(world.store, store)
    for name, data in case.files.items():
        (folder / name).write_bytes(data)
    (folder / "ro").mkdir()
    (folder / "ro").chmod(0o555)
    if case.run_damage is not None:
        shutil.copytree(world.root / "run", folder / "run")
        damage_run(folder / "run", *case.run_damage)
    return store


def _judge(case: Case, result: Any, before: str, after: str, folder: Path) -> Outcome:
    text = result.output
    exc = result.exception
    if exc is not None and not isinstance(exc, SystemExit):
        return Outcome("crash", f"{type(exc).__name__}: {exc!s:.300}")
    if "Error: unexpected" in text or "Traceback" in text:
        return Outcome("crash", text[-500:])
    if result.exit_code not in (0, 1, 2):
        return Outcome("crash", f"exit code {result.exit_code}: {text[-300:]}")
    if result.exit_code == 1 and "Error: " not in result.stderr:
        return Outcome("crash", f"exit 1 without an Error line: {text[-300:]}")
    if after != before and (result.exit_code != 0 or not case.writes):
        return Outcome("lost", f"the store changed (exit {result.exit_code}): {text[-300:]}")
    if result.exit_code != 0 and case.args[0] == "train" and (folder / "run").exists():
        return Outcome("lost", "a failed train left a run folder")
    return Outcome("ok" if result.exit_code == 0 else "error", text[-300:])


# -- damage to a run folder ---------------------------------------------------------------------


def _leaves(obj: Any, path: tuple = ()) -> list[tuple]:
    if isinstance(obj, dict):
        return [p for k, v in obj.items() for p in _leaves(v, (*path, k))] or [path]
    if isinstance(obj, list) and obj:
        return [p for i, v in enumerate(obj) for p in _leaves(v, (*path, i))]
    return [path]


def _set(obj: Any, path: tuple, value: Any) -> None:
    for k in path[:-1]:
        obj = obj[k]
    if path:
        obj[path[-1]] = value


def _drop(obj: Any, path: tuple) -> None:
    for k in path[:-1]:
        obj = obj[k]
    if path:
        del obj[path[-1]]


def damage_run(run: Path, kind: str, arg: Any) -> None:
    """Damage the run folder ``run`` in place: one field of run.json, its raw bytes, a cut,
    or the weights."""
    meta, weights = run / "run.json", run / "model.safetensors"
    ops: dict[str, Callable[[], None]] = {
        "field": lambda: _edit(meta, lambda d, ls: _set(d, ls[arg[0] % len(ls)], arg[1])),
        "drop": lambda: _edit(meta, lambda d, ls: _drop(d, ls[arg % len(ls)])),
        "raw": lambda: meta.write_bytes(arg),
        "cut": lambda: meta.write_bytes(meta.read_bytes()[: int(len(meta.read_bytes()) * arg)]),
        "weights": lambda: weights.write_bytes(arg),
        "weights-cut": lambda: weights.write_bytes(
            weights.read_bytes()[: int(len(weights.read_bytes()) * arg)]
        ),
        "weights-flip": lambda: _flip(weights, arg),
        "delete": lambda: (run / arg).unlink(),
    }
    ops[kind]()


def _edit(meta: Path, change: Callable[[Any, list[tuple]], None]) -> None:
    data = json.loads(meta.read_text())
    change(data, _leaves(data))
    meta.write_text(json.dumps(data))


def _flip(path: Path, at: int) -> None:
    data = bytearray(path.read_bytes())
    data[at % len(data)] ^= 0xFF
    path.write_bytes(bytes(data))
