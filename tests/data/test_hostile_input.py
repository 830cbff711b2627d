"""Hostile input where names, files and store paths enter: every case fails with one line
naming the value, and leaves the store as it was; a store written before names were checked
still lists, and its other coins still work.

Each class of fault is tested over many values, through the library and through the command
line (exit code 1, one ``Error:`` line, never ``unexpected``).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from coincast.cli import app
from coincast.coins import check_coin_id, check_quote, resolve, resolve_offline
from coincast.data.frames import read_frame
from coincast.data.sources.synthetic import synthetic_candles
from coincast.data.store import SeriesKey, Store
from coincast.errors import IntervalError, NameFormError, shown

runner = CliRunner()

#: Values that must never name a series, as coin or quote. Rich markup (``[/b]``) is left
#: out of the command-line cases: printing it literally is the consoles' part.
HOSTILE = [
    "",
    " ",
    "..",
    ".",
    "-x",
    "../../x",
    "a/b",
    "a\\b",
    "<script>",
    "a\x00b",
    "bit coin",
    "a;DROP TABLE series",
    "'",
    '"',
    "%s",
    "${HOME}",
    "ü",
    "😀",
    "a\nb",
    "x" * 65,
    "a" * 5000,
]
MARKUP = ["[/b]", "[bold]x"]
HOSTILE_QUOTES = [*HOSTILE, "q" * 17, "us-d", "us.d", "us_d"]


def rows_digest(path: Path) -> str:
    """Every row of every table of the SQLite file at ``path``."""
    db = sqlite3.connect(path)
    try:
        return hashlib.sha256("\n".join(db.iterdump()).encode()).hexdigest()
    finally:
        db.close()


@pytest.fixture
def filled(store_path: Path) -> Path:
    """A store holding one synthetic coin, ``demo``."""
    with Store(store_path) as s:
        s.write_candles(synthetic_candles(30, coin="demo"))
    return store_path


def one_error(result, *parts: str) -> str:
    """The one ``Error:`` line of a failed command, checked to contain each of ``parts``."""
    assert result.exit_code == 1, (result.output, result.exception)
    assert isinstance(result.exception, SystemExit), result.exception
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert "unexpected" not in result.stderr
    for part in parts:
        assert part in lines[0], lines[0]
    return lines[0]


def cli(store: Path, *args: str):
    return runner.invoke(app, ["--store", str(store), *args])


def csv_file(tmp_path: Path, days: int = 10) -> Path:
    path = tmp_path / "prices.csv"
    rows = "".join(f"2024-01-{d:02d},1,2,0.5,1.5,1\n" for d in range(1, days + 1))
    path.write_text("timestamp,open,high,low,close,volume\n" + rows)
    return path


# -- names: one rule, where names enter --------------------------------------------------------


@pytest.mark.parametrize("coin", HOSTILE + MARKUP)
def test_a_hostile_coin_is_refused_by_the_one_check(coin):
    rule = "a coin id is 1 to 64 lowercase letters, digits, '-', '_' or '.', starting with"
    with pytest.raises(NameFormError, match=f" is not a valid id: {re.escape(rule)}") as info:
        check_coin_id(coin)
    assert str(info.value).startswith(f"coin {shown(coin)} is not")  # cut to 40 characters
    assert len(str(info.value)) < 250
    with pytest.raises(NameFormError):
        resolve_offline(coin)


@pytest.mark.parametrize("quote", HOSTILE_QUOTES + MARKUP)
def test_a_hostile_quote_is_refused_by_the_one_check(quote):
    rule = "a quote is 1 to 16 letters or digits, e.g. usd or usdt"
    with pytest.raises(NameFormError, match=f" is not a valid quote currency: {rule}$") as info:
        check_quote(quote)
    assert str(info.value).startswith(f"quote {shown(quote)} is not")
    assert len(str(info.value)) < 250


@pytest.mark.parametrize(
    "name", ["", " ", "a/b", "a\\b", "a\x00b", "a\nb", "x" * 65, "a" * 5000, "\x1b[31m"]
)
def test_resolving_against_a_coin_list_refuses_what_cannot_be_a_name(name):
    coins = [{"id": "bitcoin", "symbol": "btc", "name": "Bitcoin"}]
    with pytest.raises(NameFormError, match=" is not a coin id, symbol or name: give 1 to 64") as i:
        resolve(name, coins)
    assert str(i.value).startswith(f"coin {shown(name)} is not")


@pytest.mark.parametrize("bad_id", ["../x", "<script>", "a b", "", "x" * 65])
def test_a_coin_list_mapping_a_name_to_a_hostile_id_is_refused(bad_id):
    coins = [{"id": bad_id, "symbol": "evil", "name": "Evil"}]
    with pytest.raises(NameFormError, match="is not a valid id"):
        resolve("evil", coins)


@pytest.mark.parametrize(
    ("part", "value", "error", "message"),
    [
        *[("coin", v, NameFormError, "is not a valid id") for v in HOSTILE + MARKUP],
        *[("quote", v, NameFormError, "is not a valid quote") for v in HOSTILE_QUOTES],
        ("coin", "BTC", NameFormError, "coin 'BTC' is not in the form the store keeps: give 'btc'"),
        ("coin", " demo", NameFormError, "give 'demo'"),
        ("quote", "USD", NameFormError, "quote 'USD' is not in the form the store keeps"),
        ("interval", "2d", IntervalError, "unknown interval '2d'"),
        ("source", "a b", NameFormError, "source 'a b' is not a valid source name"),
        ("source", "../x", NameFormError, "is not a valid source name"),
        ("source", "", NameFormError, "is not a valid source name"),
    ],
)
def test_the_store_refuses_a_hostile_key_before_any_write(filled, part, value, error, message):
    before = rows_digest(filled)
    frame = synthetic_candles(5, coin="other")
    frame.attrs[part] = value
    with Store(filled) as s:
        with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)")):
            s.write_candles(frame)
        key = SeriesKey(**{**dict(source="t", coin="c", quote="usd", interval="1h"), part: value})
        with pytest.raises(error):
            s.add_coverage(key, 0, 3_600_000)
    assert rows_digest(filled) == before


@pytest.mark.parametrize("coin", HOSTILE)
def test_import_refuses_a_hostile_coin_and_leaves_the_store(tmp_path, filled, coin):
    before = rows_digest(filled)
    result = cli(filled, "import", str(csv_file(tmp_path)), "--coin", coin)
    one_error(result, "is not a valid id")
    assert rows_digest(filled) == before


@pytest.mark.parametrize("quote", HOSTILE_QUOTES)
def test_import_refuses_a_hostile_quote_and_leaves_the_store(tmp_path, filled, quote):
    before = rows_digest(filled)
    result = cli(filled, "import", str(csv_file(tmp_path)), "--coin", "btc", "--quote", quote)
    one_error(result, "is not a valid quote currency")
    assert rows_digest(filled) == before


@pytest.mark.parametrize("coin", HOSTILE)
def test_fetch_refuses_a_hostile_coin_and_leaves_the_store(filled, coin):
    before = rows_digest(filled)
    result = cli(filled, "fetch", "--source", "synthetic", "--days", "3", "--", coin)
    one_error(result, "is not a valid id")
    assert rows_digest(filled) == before


# An empty --quote means the source's default quote to fetch (data/fetch.py); the others fail.
@pytest.mark.parametrize("quote", [q for q in HOSTILE_QUOTES if q])
def test_fetch_refuses_a_hostile_quote_and_leaves_the_store(filled, quote):
    before = rows_digest(filled)
    args = ("fetch", "demo", "--source", "synthetic", "--days", "3", "--quote", quote)
    one_error(cli(filled, *args), "is not a valid quote currency")
    assert rows_digest(filled) == before


@pytest.mark.parametrize("quote", ["us d", "../x", "<b>", "q" * 5000])
@pytest.mark.parametrize("command", ["show", "gaps", "export"])
def test_reading_with_a_hostile_quote_says_so(tmp_path, filled, command, quote):
    before = rows_digest(filled)
    extra = ("--out", str(tmp_path / "x.csv")) if command == "export" else ()
    one_error(cli(filled, "data", command, "demo", "--quote", quote, *extra), "not a valid quote")
    assert rows_digest(filled) == before and not (tmp_path / "x.csv").exists()


# -- a store written before names were checked --------------------------------------------------


LEGACY = ["[/b]", "../x", "<script>", "a b", "", "a\x00b", "x" * 5000, "😀"]


@pytest.fixture
def legacy(filled: Path) -> Path:
    """The ``demo`` store plus series named as no check allows today, written by raw SQL."""
    db = sqlite3.connect(filled)
    for i, name in enumerate(LEGACY):
        cur = db.execute(
            "INSERT INTO series (source, coin, quote, interval) VALUES (?, ?, ?, ?)",
            ("csv", name, name or "usd", "1d" if i % 2 else "2d"),
        )
        db.execute("INSERT INTO candles VALUES (?, 0, 1, 2, 0.5, 1.5, 1, NULL)", (cur.lastrowid,))
    cur = db.execute("INSERT INTO series (source, coin, quote, interval) VALUES (?, ?, 'usd', "
                     "'1d')", ("csv", b"\x00\xff"))  # fmt: skip
    db.execute("INSERT INTO candles VALUES (?, 9e18, 1, 2, 0.5, 1.5, 1, NULL)", (cur.lastrowid,))
    db.execute("INSERT INTO series (source, coin, quote, interval) "
               "VALUES ('csv', CAST(X'61ff62' AS TEXT), 'usd', '1d')")  # fmt: skip
    db.commit()
    db.close()
    return filled


def test_a_legacy_store_still_lists_its_odd_names_literally(legacy):
    with Store(legacy, readonly=True) as s:
        coins = [i.key.coin for i in s.list_series()]
        assert set(LEGACY) <= set(coins) and "demo" in coins
        assert "\x00\ufffd" in coins and "a\ufffdb" in coins  # a blob, and bytes not UTF-8
        assert len(s.read_candles("demo")) == 30
    listed = json.loads(cli(legacy, "data", "list", "--json").stdout)
    assert set(LEGACY) <= {x["coin"] for x in listed}


def test_a_legacy_store_still_works_for_its_other_coins(tmp_path, legacy):
    assert cli(legacy, "data", "show", "demo", "--json").exit_code == 0
    assert cli(legacy, "data", "gaps", "demo").exit_code == 0
    assert cli(legacy, "data", "export", "demo", "--out", str(tmp_path / "d.csv")).exit_code == 0
    assert cli(legacy, "import", str(csv_file(tmp_path)), "--coin", "btc").exit_code == 0
    with Store(legacy) as s:
        assert len(read_frame(s, "BTC")) == 10


# -- the store path: another application's file, or none yet -------------------------------------


def foreign(path: Path) -> Path:
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE contacts (name TEXT)")
    db.execute("INSERT INTO contacts VALUES ('Ada')")
    db.commit()
    db.close()
    return path


COMMANDS = [
    ("data", "list"),
    ("data", "list", "--json"),
    ("data", "show", "bitcoin"),
    ("data", "gaps", "bitcoin"),
    ("data", "export", "bitcoin", "--out", "{tmp}/out.csv"),
    ("import", "{csv}", "--coin", "btc"),
    ("fetch", "demo", "--source", "synthetic", "--days", "3"),
    ("train", "bitcoin", "--epochs", "1", "--out", "{tmp}/run"),
    ("backtest", "bitcoin", "--out", "{tmp}/bt"),
]


def args_of(command: tuple[str, ...], tmp_path: Path) -> list[str]:
    csv = str(csv_file(tmp_path))
    return [a.format(tmp=tmp_path, csv=csv) for a in command]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_refuses_another_applications_database(tmp_path, command):
    path = foreign(tmp_path / "contacts.db")
    before = path.read_bytes()
    one_error(
        cli(path, *args_of(command, tmp_path)),
        "contacts.db is an SQLite database of another application (tables: contacts), not a "
        "coincast store; give another --store",
    )
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["contacts.db", "prices.csv"]


@pytest.mark.parametrize(
    "data",
    [b"my notes\n" * 50, gzip.compress(b"x" * 100), bytes(range(256))],
    ids=["text", "gz", "bin"],
)
@pytest.mark.parametrize("command", COMMANDS[:1] + COMMANDS[5:7], ids=" ".join)
def test_every_command_refuses_a_file_that_is_not_sqlite(tmp_path, command, data):
    path = tmp_path / "store.db"
    path.write_bytes(data)
    one_error(cli(path, *args_of(command, tmp_path)), "store.db is not a coincast store: it is")
    assert path.read_bytes() == data


def test_data_list_without_a_store_says_how_to_fill_it_and_creates_nothing(tmp_path):
    path = tmp_path / "x" / "new" / "c.db"
    result = cli(path, "data", "list")
    assert result.exit_code == 0, result.output
    assert (
        result.stdout.split()
        == (
            f"There is no store at {path} yet. Fill it: coincast fetch bitcoin, or coincast import "
            "FILE --coin bitcoin"
        ).split()
    )
    assert json.loads(cli(path, "data", "list", "--json").stdout) == []
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("command", COMMANDS[2:5] + COMMANDS[7:], ids=" ".join)
def test_read_only_commands_without_a_store_create_nothing(tmp_path, command, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "x" / "new" / "c.db"
    one_error(cli(path, *args_of(command, tmp_path)), "no stored data for bitcoin")
    assert not (tmp_path / "x").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["prices.csv"]


def test_writing_commands_create_the_store_and_its_folder(tmp_path):
    path = tmp_path / "x" / "new" / "c.db"
    assert cli(path, "import", str(csv_file(tmp_path)), "--coin", "btc").exit_code == 0
    assert path.is_file()


# -- files and times typed by the user, through the command line --------------------------------


FILES = [
    (b"", "the file is empty (0 bytes)"),
    (b"timestamp,open,high,low,close,volume\n", "has no rows of candles under it"),
    (gzip.compress(b"timestamp,open\n"), "is a gzip file, not CSV; decompress it first (gunzip"),
    (b"PK\x03\x04" + bytes(100), "is a zip file (an Excel .xlsx workbook is one), not CSV"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(100), "is an old Excel .xls (OLE) file"),
    (b"\x89PNG\r\n\x1a\n" + bytes(100), "is a PNG image, not a CSV or Parquet file"),
    ("timestamp,open\n2024-01-01,1".encode("utf-16"), "is UTF-16 text, not UTF-8"),
    (b"timestamp,open\n2024-01-01,caf\xe9\n", "line 2 is not UTF-8 text (byte 0xe9)"),
    (b"timestamp,open,high,low,close\n2024-01-01,1\x00,2,1,1\n", "line 2 holds a NUL byte"),
    (
        b"timestamp,open,high,low,close\n1600-01-01,1,2,0.5,1.5\n",
        "'1600-01-01' is outside the dates coincast can hold (1677-09-22 to 2262-04-11)",
    ),
    (
        b"timestamp,open,high,low,close\n2024-01-01," + b"9" * 100_000 + b",2,0.5,1.5\n",
        "(100,000 characters) is not a number",
    ),
]


@pytest.mark.parametrize(("data", "message"), FILES)
def test_import_of_a_hostile_file_says_what_it_is_and_leaves_the_store(
    tmp_path, filled, data, message
):
    path = tmp_path / "in.csv"
    path.write_bytes(data)
    before = rows_digest(filled)
    line = one_error(cli(filled, "import", str(path), "--coin", "btc"), str(path), message)
    assert len(line) < 500
    assert rows_digest(filled) == before


@pytest.mark.parametrize("target", ["missing.csv", "folder", "/dev/null"])
def test_import_of_no_file_says_so(tmp_path, filled, target):
    (tmp_path / "folder").mkdir()
    path = target if target.startswith("/") else str(tmp_path / target)
    before = rows_digest(filled)
    one_error(cli(filled, "import", path, "--coin", "btc"), path)
    assert rows_digest(filled) == before


@pytest.mark.parametrize(("given", "usual"), [("1h", "1d"), ("1m", "1d"), ("1w", "1d")])
def test_import_with_an_interval_the_file_contradicts(tmp_path, filled, given, usual):
    before = rows_digest(filled)
    result = cli(filled, "import", str(csv_file(tmp_path)), "--coin", "btc", "--interval", given)
    one_error(result, f"--interval {given} contradicts the file, whose rows are {usual} apart")
    assert rows_digest(filled) == before


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--start", "01/02/2024", "--start '01/02/2024' is ambiguous"),
        ("--start", "12.11.2024", "is ambiguous (day and month may be either way round)"),
        ("--start", "2262-04-12", "is outside the dates coincast can hold"),
        ("--start", "1600-01-01", "is outside the dates coincast can hold"),
        ("--start", "99999-01-01", "is outside the dates coincast can hold"),
        ("--start", "now", "--start 'now' is not a date; use YYYY-MM-DD"),
        ("--start", "x" * 5000, "(5,000 characters) is not a date"),
    ],
)
def test_fetch_with_a_hostile_time(filled, option, value, message):
    before = rows_digest(filled)
    one_error(cli(filled, "fetch", "demo", "--source", "synthetic", option, value), message)
    assert rows_digest(filled) == before


@pytest.mark.parametrize("value", ["01/02/2024", "2262-04-12", "1600-01-01"])
def test_train_until_a_hostile_time(tmp_path, filled, value):
    result = cli(filled, "train", "demo", "--until", value, "--out", str(tmp_path / "run"))
    one_error(result, f"--until '{value}' is")
    assert not (tmp_path / "run").exists()
