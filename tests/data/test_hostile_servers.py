"""Hostile servers: every class of broken, slow or malicious answer fails cleanly.

Real HTTP to the fake CoinGecko on 127.0.0.1 (``tests/fakes``), which answers with a hostile
:class:`~fakes.hostile.Reply`; a real SQLite store seeded with other data. A failing fetch
raises a SourceError (or another CoincastError) whose message is asserted, leaves every row
of every table unchanged (so no coverage is recorded, and the next fetch asks again), and
never shows the API key. The CLI cases run ``coincast fetch``: exit code 1, exactly one
``Error:`` line, no "unexpected", no key. The exchange's cases are in ``test_exchange.py``.
"""

from __future__ import annotations

import gzip
import json
import math
import re
import shutil
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fakes.coingecko import FakeCoinGecko
from fakes.hostile import Reply, closed_port, nested, store_snapshot
from typer.testing import CliRunner

from coincast.cli import app
from coincast.data.fetch import fetch
from coincast.data.sources.coingecko import CoinGeckoSource
from coincast.data.sources.http import RetryPolicy
from coincast.data.sources.transport import HttpLimits
from coincast.data.store import SeriesKey, Store
from coincast.errors import SourceError, UnknownCoinError

pytestmark = pytest.mark.timeout(60)

SECRET = "CG-h0st1le-K3y-never-shown"
DATA_DIR = Path(__file__).resolve().parents[3] / "shared" / "data"
NOW = pd.Timestamp("2025-02-11 12:00", tz="UTC")  # the fake's clock
CHART = "/coins/bitcoin/market_chart/range"
BTC = SeriesKey("coingecko", "bitcoin", "usd", "1d")
FAST = RetryPolicy(retries=4, backoff=0.01, max_backoff=0.05)
runner = CliRunner()


def make_source(fake: FakeCoinGecko, **kw: Any) -> CoinGeckoSource:
    """A pro-key source on the fake: fast retries, the fake's clock, small limits (a 5 s
    deadline: ample on a loaded machine; the drip tests pass 1 s)."""
    kw = {
        "base_url": fake.url,
        "api_key": SECRET,
        "plan": "pro",
        "policy": FAST,
        "timeout": 2.0,
        "clock": lambda: fake.now,
        "calls_per_minute": 1000,
        "limits": HttpLimits(deadline=5.0, max_bytes=100_000),
        **kw,
    }
    return CoinGeckoSource(**kw)


def fetch_btc(store: Store, source: CoinGeckoSource, **kw: Any) -> Any:
    """30 daily bars of bitcoin: one request (widened to ~92 days, daily points). Asked by
    its symbol, so the source reads ``/coins/list`` first (an id such as ``bitcoin`` needs
    no list) and a fault there is met too."""
    return fetch(store, source, "BTC", interval="1d", days=30, now=NOW, **kw)


@pytest.fixture(scope="module")
def seed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store holding ethereum and part of bitcoin, and the coin list cached (now)."""
    if not DATA_DIR.is_dir():
        pytest.skip(f"real market data not found at {DATA_DIR}")
    path = tmp_path_factory.mktemp("seed") / "seed.db"
    with FakeCoinGecko() as fake, Store(path) as store:
        source = make_source(fake, store=store)
        fetch(store, source, "ethereum", interval="1d", days=30, now=NOW)
        fetch(
            store, source, "bitcoin", interval="1d", start="2024-06-01", end="2024-06-30", now=NOW
        )
        source.coin_list()  # cached: the ids above needed no list, the CLI's BTC reads it
        store.save_coins(store.load_coins()[0], pd.Timestamp.now(tz="UTC"))  # fresh for the CLI
    return path


@pytest.fixture
def db(seed: Path, tmp_path: Path) -> Path:
    path = tmp_path / "store.db"
    shutil.copy(seed, path)
    return path


def fails_unchanged(
    db: Path, call: Callable[[Store], object], match: str, exc: type[Exception] = SourceError
) -> str:
    """Run ``call(store)``: it must raise ``exc`` matching ``match`` and change nothing."""
    before = store_snapshot(db)
    with Store(db) as store, pytest.raises(exc, match=match) as info:
        call(store)
    assert store_snapshot(db) == before, "a failed fetch changed the store"
    message = str(info.value)
    assert SECRET.lower() not in message.lower() and "\n" not in message
    return message


def refetch_works(db: Path, fake: FakeCoinGecko) -> None:
    """A fault-free fetch after the failure asks for the range again and stores it."""
    asked = len(fake.data_requests())
    with Store(db) as store:
        r = fetch_btc(store, make_source(fake))
    assert len(fake.data_requests()) == asked + 1
    assert (r.chunks, r.new_rows) == (1, 30)


# -- 1. the API key stays on its host ---------------------------------------------------------


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
@pytest.mark.parametrize("target", ["other port", "localhost", "localhost same port", "https"])
@pytest.mark.parametrize("path", ["coins/list", "market_chart"])
def test_a_redirect_to_another_host_is_refused_and_never_gets_the_key(
    db: Path, status: int, target: str, path: str
) -> None:
    with FakeCoinGecko() as fake, FakeCoinGecko() as other:
        base = {
            "other port": other.url,
            "localhost": other.url_for("localhost"),
            "localhost same port": fake.url_for("localhost"),
            "https": fake.url.replace("http://", "https://"),
        }[target]
        fake.answer(Reply(status, b"", headers={"Location": f"{base}/x"}), path_contains=path)
        host = re.escape(base.split("/")[2])
        message = fails_unchanged(
            db,
            lambda s: fetch_btc(s, make_source(fake)),
            rf"^CoinGecko redirected /coins/\S+ to another host \({host}\); coincast follows "
            r"redirects only within 127\.0\.0\.1:\d+, so the API key never leaves it\. If that "
            r"host is right, set it in base_url$",
        )
        assert other.requests == []  # not even asked, let alone with the key
        assert [r.fault for r in fake.requests][-1] == "reply"  # nothing followed it
    assert path.split("_")[0] in message


@pytest.mark.parametrize("location", ["/api/v3/coins/list?moved=1", "{url}/coins/list?moved=1"])
def test_a_redirect_within_the_host_is_followed(location: str) -> None:
    with FakeCoinGecko() as fake:
        reply = Reply(302, b"", headers={"Location": location.format(url=fake.url)})
        fake.answer(reply, path_contains="coins/list")
        # Ample time: on a loaded machine a 2 s read timeout retried the whole request.
        roomy = make_source(fake, timeout=60.0, limits=HttpLimits(deadline=60.0))
        assert roomy.resolve_coin("BTC") == "bitcoin"
        moved, answered = fake.requests
    assert (moved.fault, answered.fault, answered.query) == ("reply", None, {"moved": "1"})
    assert answered.headers["x-cg-pro-api-key"] == SECRET  # the same host: it may have it


@pytest.mark.parametrize(
    ("location", "match"),
    [
        ("/api/v3/coins/list", r"redirected /coins/list more than 5 times; check base_url"),
        ("http://[::1", r"redirected /coins/list to another host \(http://\[::1\)"),
        (f"http://{SECRET}.example/x", r"to another host \(\*\*\*\.example\)"),
    ],
)
def test_redirect_loops_and_unreadable_targets_are_refused(
    db: Path, location: str, match: str
) -> None:
    with FakeCoinGecko() as fake:
        fake.answer(Reply(302, b"", headers={"Location": location}), 10, "coins/list")
        fails_unchanged(db, lambda s: fetch_btc(s, make_source(fake)), match)


LONG = "x" * 5000
ECHOES = [
    (401, {"status": {"error_code": 10002, "error_message": f"key {SECRET} is bad {LONG}"}},
     r"refused the request \(HTTP 401\): key \*\*\* is bad x+\.\.\.; check COINGECKO_API_KEY"),
    (400, f"<html>\n<b>{SECRET.lower()}</b> [/bold] \x1b[31m {LONG}".encode(),
     r"answered HTTP 400 for /coins/bitcoin/market_chart/range: <html> <b>\*\*\*</b> \[/bold\]"),
    (404, {"error": f"no coin for {SECRET}"}, r"no coin 'bitcoin' \(no coin for \*\*\*\)"),
    (200, f"<p>{SECRET}</p>".encode(), r"with text/html, not JSON: '<p>\*\*\*</p>'"),
]  # fmt: skip


@pytest.mark.parametrize(("status", "body", "match"), ECHOES)
def test_server_text_in_messages_is_cut_and_never_shows_the_key(
    db: Path, status: int, body: Any, match: str
) -> None:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    ctype = "text/html" if isinstance(body, bytes) else "application/json"
    with FakeCoinGecko() as fake:
        fake.answer(Reply(status, raw, content_type=ctype))
        exc = UnknownCoinError if status == 404 else SourceError
        message = fails_unchanged(db, lambda s: fetch_btc(s, make_source(fake)), match, exc)
    assert "***" in message
    assert len(message) < 450  # at most 200 characters of it came from the server


# -- 2. a bad 200 answer fails its chunk, which stays uncovered --------------------------------


def at(series: str, value: Any, *index: int) -> Callable[[dict], dict]:
    """An edit setting the value of points ``index`` of ``series`` to ``value``."""

    def edit(payload: dict) -> dict:
        for i in index:
            payload[series][i][1] = value
        return payload

    return edit


def point(series: str, value: Any) -> Callable[[dict], dict]:
    """An edit replacing the first point of ``series`` by ``value``."""

    def edit(payload: dict) -> dict:
        payload[series][0] = value
        return payload

    return edit


def shifted(ms: int, factor: float = 1.0) -> Callable[[dict], dict]:
    """An edit adding a price point ``ms`` after the last one, ``factor`` times its price."""

    def edit(payload: dict) -> dict:
        t, p = payload["prices"][-1]
        payload["prices"].append([t + ms, p * factor])
        return payload

    return edit


def raw_first_price(text: bytes) -> Callable[[dict], bytes]:
    """An edit writing the first price as the raw JSON ``text`` (e.g. ``1e999``)."""

    def edit(payload: dict) -> bytes:
        payload["prices"][0][1] = "@@"
        return json.dumps(payload).encode().replace(b'"@@"', text)

    return edit


def keyed(name: str, value: Any) -> Callable[[dict], Any]:
    def edit(payload: dict) -> dict:
        if value is KeyError:
            del payload[name]
        else:
            payload[name] = value
        return payload

    return edit


PRICE = r"1 of \d+ price points have a null, non-numeric, non-finite or non-positive price"
SHAPE = r"has an unexpected shape: "
BAD_ANSWERS = {
    "3 null prices": (at("prices", None, 0, 5, 9), PRICE.replace("1 of", "3 of")),
    "NaN price": (at("prices", math.nan, 3), PRICE),
    "Infinity price": (at("prices", math.inf, 3), PRICE),
    "1e999 price": (raw_first_price(b"1e999"), PRICE),
    "400-digit price": (at("prices", 10**400, 3), PRICE),
    "negative price": (at("prices", -5.0, 3), PRICE),
    "zero price": (at("prices", 0, 3), PRICE),
    "text price": (at("prices", "97000.5", 3), PRICE),
    "true price": (at("prices", True, 3), PRICE),
    "object price": (at("prices", {"usd": 1}, 3), PRICE),
    "one-element point": (point("prices", [1]), r"1 of \d+ price points are not \[time, value\]"),
    "three-element point": (point("prices", [1, 2, 3]), r"1 of \d+ price points are not"),
    "empty point": (point("prices", []), r"1 of \d+ price points are not \[time, value\] pairs"),
    "object point": (point("prices", {"t": 1}), r"1 of \d+ price points are not"),
    "null point": (point("prices", None), r"1 of \d+ price points are not"),
    "text time": (point("prices", ["1738800000000", 5.0]), r"1 of \d+ price points have a time"),
    "NaN time": (point("prices", [math.nan, 5.0]), r"1 of \d+ price points have a time that"),
    "time before the range": (point("prices", [0, 5.0]), r"1 of \d+ price points lie outside"),
    "time 1 ms after the range": (shifted(86_400_000), r"1 of \d+ price points lie outside"),
    "time 1e20": (point("prices", [10**20, 5.0]), r"1 of \d+ price points lie outside"),
    "NaN market cap": (at("market_caps", math.nan, 2), r"1 of \d+ market-cap points have a neg"),
    "negative volume": (at("total_volumes", -1, 2), r"1 of \d+ volume points have a negative"),
    "text volume": (at("total_volumes", "12", 2), r"1 of \d+ volume points have a negative, no"),
    "prices an object": (keyed("prices", {"a": 1}), SHAPE + r"'prices' is a dict, not a list"),
    "no prices": (keyed("prices", KeyError), SHAPE + r"'prices' is missing or null"),
    "caps a string": (keyed("market_caps", "oops"), SHAPE + r"'market_caps' is a str"),
    "volumes null": (keyed("total_volumes", None), SHAPE + r"'total_volumes' is missing"),
    "answer a list": (lambda p: [1, 2, 3], SHAPE + r"it is a list, not an object of prices"),
    "answer a string": (lambda p: "hello", SHAPE + r"it is a str, not an object"),
    "answer null": (lambda p: None, SHAPE + r"it is missing or null, not an object"),
    "three faults at once": (
        lambda p: shifted(86_400_000)(at("prices", None, 0)(at("total_volumes", -1, 1)(p))),
        r"1 of \d+ price points lie outside that range; 1 of \d+ price points have a null.*; "
        r"1 of \d+ volume points have a negative",
    ),
}


@pytest.mark.parametrize("case", list(BAD_ANSWERS))
def test_a_bad_answer_fails_its_chunk_stores_nothing_and_is_asked_again(
    db: Path, case: str
) -> None:
    edit, problem = BAD_ANSWERS[case]
    with FakeCoinGecko() as fake:
        fake.answer(Reply(body=edit))
        message = fails_unchanged(
            db,
            lambda s: fetch_btc(s, make_source(fake)),
            r"^CoinGecko's market_chart answer for bitcoin \(2024-11-11 00:00 \.\. 2025-02-10 "
            rf"23:59:59 UTC\) .*{problem}.*; nothing was stored for this range",
        )
        assert len(fake.data_requests()) == 1  # not retried: asking again gives the same
        refetch_works(db, fake)
    assert "is not wholly valid" in message or "unexpected shape" in message


def test_null_caps_and_volumes_are_valid_as_unknown(db: Path) -> None:
    edit = lambda p: at("total_volumes", None, -1)(at("market_caps", None, -1)(p))  # noqa: E731
    with FakeCoinGecko() as fake, Store(db) as store:
        fake.answer(Reply(body=edit))
        r = fetch_btc(store, make_source(fake))
        last = store.read_key(BTC).loc["2025-02-10"]
    assert r.new_rows == 30
    assert last["volume"] == 0 and math.isnan(last["market_cap"])


def test_a_point_in_the_last_millisecond_of_the_range_is_valid(db: Path) -> None:
    with FakeCoinGecko() as fake, Store(db) as store:
        fake.answer(Reply(body=shifted(86_400_000 - 1, 1.01)))  # 2025-02-10 23:59:59.999
        fetch_btc(store, make_source(fake))
        (req,) = fake.data_requests()
        bar = store.read_key(BTC).loc["2025-02-10"]
    assert int(req.query["to"]) == pd.Timestamp("2025-02-10 23:59:59", tz="UTC").timestamp()
    assert bar["open"] != bar["close"]  # the extra point closes the bar


def test_an_empty_answer_is_covered_and_refresh_asks_again(db: Path) -> None:
    empty = {"prices": [], "market_caps": [], "total_volumes": []}
    with FakeCoinGecko() as fake, Store(db) as store:
        fake.answer(Reply(body=json.dumps(empty).encode()))
        source = make_source(fake)
        assert fetch_btc(store, source).new_rows == 0  # a range before the coin was listed
        assert fetch_btc(store, source).chunks == 0  # covered: not asked again ...
        refreshed = fetch_btc(store, source, refresh=True)  # ... unless refreshed
        assert len(fake.data_requests()) == 2
    assert (refreshed.chunks, refreshed.new_rows) == (1, 30)


# -- 3. nothing hangs: a deadline per request, a size cap per answer ---------------------------

GZIP_BOMB = gzip.compress(b"[" + b"0," * 2_500_000 + b"0]")  # 5 MB in ~10 kB
SLOW = {
    "drip after the headers": Reply(drip=0.2),
    "drip from the status line": Reply(drip=0.2, drip_from="status"),
    "drip without a length": Reply(drip=0.2, length=False),
}
LARGE = {
    "Content-Length over the cap": (Reply(body=b" " * 200_000), r"\(200,000 bytes declared;"),
    "endless body": (Reply(endless=True), r"\(more than 100,000 bytes;"),
    "gzip bomb": (
        Reply(body=GZIP_BOMB, headers={"Content-Encoding": "gzip"}),
        r"\(more than 100,000 bytes;",
    ),
}


@pytest.mark.parametrize("case", list(SLOW))
def test_a_dripping_server_meets_the_deadline(db: Path, case: str) -> None:
    with FakeCoinGecko() as fake:
        fake.answer(SLOW[case])
        started = time.monotonic()
        source = make_source(fake, limits=HttpLimits(deadline=1.0, max_bytes=100_000))
        fails_unchanged(
            db,
            lambda s: fetch_btc(s, source),
            rf"^CoinGecko sent no complete answer to {CHART} within 1 s \(the deadline, "
            r"COINCAST_HTTP_DEADLINE\); the server or the network is too slow: try again "
            r"later, or raise COINCAST_HTTP_DEADLINE$",
        )
        assert time.monotonic() - started < 3.0
        assert len(fake.data_requests()) == 1


@pytest.mark.parametrize("case", list(LARGE))
def test_an_oversize_answer_stops_at_the_cap(db: Path, case: str) -> None:
    reply, seen = LARGE[case]
    with FakeCoinGecko() as fake:
        fake.answer(reply)
        started = time.monotonic()
        fails_unchanged(
            db,
            lambda s: fetch_btc(s, make_source(fake)),
            rf"^CoinGecko's answer to {CHART} is larger than 100,000 bytes {seen} the size cap, "
            r"COINCAST_HTTP_MAX_BYTES\); nothing was stored from it: check the source's "
            r"address, or raise COINCAST_HTTP_MAX_BYTES$",
        )
        assert time.monotonic() - started < 3.0


def test_limits_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COINCAST_HTTP_DEADLINE", "2.5")
    monkeypatch.setenv("COINCAST_HTTP_MAX_BYTES", "1234")
    assert CoinGeckoSource().client.limits == HttpLimits(2.5, 1234)
    assert HttpLimits.resolve(deadline=7, max_bytes=99) == HttpLimits(7.0, 99)  # args win


ENV_NUMBERS = ["abc", "0", "-5", "nan", "inf", "-inf", "1e20", " ", "5 s", "0x10"]


@pytest.mark.parametrize("raw", ENV_NUMBERS)
@pytest.mark.parametrize(
    ("var", "need"),
    [
        ("COINCAST_HTTP_DEADLINE", r"a number > 0 and at most 86400, e\.g\. {var}=60"),
        (
            "COINCAST_HTTP_MAX_BYTES",
            r"a whole number >= 1 and at most 1099511627776, e\.g\. {var}=67108864",
        ),
        ("COINGECKO_CALLS_PER_MINUTE", r"a whole number >= 1 and at most 10000, e\.g\. {var}=30"),
    ],
)
def test_hostile_settings_in_the_environment_are_one_clear_error(
    monkeypatch: pytest.MonkeyPatch, var: str, need: str, raw: str
) -> None:
    monkeypatch.setenv(var, raw)
    with pytest.raises(SourceError, match=rf"^{var} is {re.escape(repr(raw))}; it must be "):
        CoinGeckoSource()
    with pytest.raises(SourceError, match=need.format(var=var) + "$"):
        CoinGeckoSource()


@pytest.mark.parametrize("value", [math.nan, math.inf, 0, -1, True, "5", 1e9, None.__class__])
@pytest.mark.parametrize(
    ("name", "make"),
    [
        ("deadline", lambda v: HttpLimits.resolve(deadline=v)),
        ("max_bytes", lambda v: HttpLimits.resolve(max_bytes=v if v != 1e9 else 2**41)),
        ("calls_per_minute", lambda v: CoinGeckoSource(calls_per_minute=v if v != 1e9 else 10**20)),
    ],
)
def test_hostile_settings_as_arguments_name_the_argument(name: str, make: Any, value: Any) -> None:
    with pytest.raises(SourceError, match=rf"^{name} is .*; it must be a (finite|whole) number"):
        make(value)


# -- 4. an answer that is not JSON fails at once -----------------------------------------------

HTML = b"<!DOCTYPE html><html><head><title>Just a moment...</title></head><body>" + b"x" * 500
NOT_JSON = {
    "text/html": (
        HTML,
        r"'<!DOCTYPE html><html><head><title>Just a moment\.\.\.</title></head><body>x+\.\.\.'",
    ),
    "text/html; charset=utf-8": (b"<h1>502 Bad Gateway</h1>", r"'<h1>502 Bad Gateway</h1>'"),
    "text/plain": (b"Service Unavailable\r\n\r\nretry", r"'Service Unavailable retry'"),
    "application/xml": (b"<?xml version='1.0'?><error/>", r"'<\?xml version='1\.0'\?><error/>'"),
    "application/octet-stream": (bytes(range(256)), r"'!\"#\$%&"),
}


@pytest.mark.parametrize("ctype", list(NOT_JSON))
@pytest.mark.parametrize("path", ["coins/list", "market_chart"])
def test_a_non_json_answer_fails_at_once_with_what_it_was(db: Path, ctype: str, path: str) -> None:
    body, head = NOT_JSON[ctype]
    with FakeCoinGecko() as fake:
        fake.answer(Reply(body=body, content_type=ctype), 10, path)
        started = time.monotonic()
        message = fails_unchanged(
            db,
            lambda s: fetch_btc(s, make_source(fake)),
            rf"^CoinGecko answered /coins/\S+ with {re.escape(ctype)}, not JSON: {head}",
        )
        assert time.monotonic() - started < 2.0
        assert len([r for r in fake.requests if r.fault == "reply"]) == 1  # no retry
    assert message.endswith("; check base_url")
    assert len(message.split("not JSON: ")[1]) < 120  # the first 100 characters


@pytest.mark.parametrize(
    "reply",
    [Reply(content_type=None), Reply(content_type="application/vnd.api+json; charset=utf-8")],
    ids=["no content type", "+json"],
)
def test_json_with_another_or_no_json_content_type_is_read(db: Path, reply: Reply) -> None:
    with FakeCoinGecko() as fake, Store(db) as store:
        fake.answer(reply)
        assert fetch_btc(store, make_source(fake)).new_rows == 30


def test_truncated_json_is_still_retried(db: Path) -> None:
    with FakeCoinGecko() as fake, Store(db) as store:
        fake.fail("truncated")
        assert fetch_btc(store, make_source(fake)).new_rows == 30
        assert [r.fault for r in fake.data_requests()] == ["truncated", None]


# -- 5. absurd numbers from the server ---------------------------------------------------------


@pytest.mark.parametrize(
    "value", ["nan", "NaN", "-1", "-inf", "soon", "", "1e-9", "Wed, 21 Oct 2015 07:28:00 GMT"]
)
@pytest.mark.parametrize("status", [429, 503])
def test_an_unreadable_retry_after_falls_back_to_backoff(db: Path, status: int, value: str) -> None:
    with FakeCoinGecko() as fake, Store(db) as store:
        fake.answer(Reply(status, b"{}", headers={"Retry-After": value}))
        started = time.monotonic()
        assert fetch_btc(store, make_source(fake)).new_rows == 30
        assert time.monotonic() - started < 2.0
        faults = [r.fault for r in fake.data_requests()]
    assert faults[0] == "reply" and faults[-1] is None


@pytest.mark.parametrize(
    ("value", "shown"), [("inf", "inf"), ("Infinity", "inf"), ("1e308", "1e+308"),
                         ("1e999", "inf"), ("301", "301")]
)  # fmt: skip
def test_an_absurd_retry_after_fails_at_once(db: Path, value: str, shown: str) -> None:
    with FakeCoinGecko() as fake:
        fake.answer(Reply(429, b"{}", headers={"Retry-After": value}))
        fails_unchanged(
            db,
            lambda s: fetch_btc(s, make_source(fake)),
            rf"^CoinGecko asked to wait {re.escape(shown)} s \(Retry-After\); try again later$",
        )
        assert len(fake.data_requests()) == 1


# -- 6. JSON nested too deeply, too long, or of the wrong shape --------------------------------

DEEP_OBJECT = b'{"a":' * 15_000 + b"1" + b"}" * 15_000  # 90 kB: under the cap
LONG_INT = b'{"prices": [[1, ' + b"9" * 5000 + b"]]}"
UNREADABLE = {
    "40k-deep list": (nested(40_000), r"is JSON nested too deeply to read; nothing was stored"),
    "15k-deep object": (DEEP_OBJECT, r"is JSON nested too deeply to read"),
    "5000-digit integer": (LONG_INT, r"holds JSON coincast cannot read \(Exceeds the limit"),
}


@pytest.mark.parametrize("case", list(UNREADABLE))
@pytest.mark.parametrize("path", ["coins/list", "market_chart"])
def test_json_too_deep_or_too_long_is_a_clear_error(db: Path, case: str, path: str) -> None:
    body, problem = UNREADABLE[case]
    with FakeCoinGecko() as fake:
        fake.answer(Reply(body=body), 10, path)
        fails_unchanged(
            db,
            lambda s: fetch_btc(s, make_source(fake)),
            rf"^CoinGecko's answer to /coins/\S+ {problem}",
        )
        assert len([r for r in fake.requests if r.fault == "reply"]) == 1


@pytest.mark.parametrize(
    "body",
    [b'{"coins": []}', b'["bitcoin"]', b"null", b"42", b'[{"id": 1, "symbol": "btc", "name": "B"}]',
     b'[{"id": "bitcoin", "symbol": "btc"}]', b'[{"id": "b", "symbol": null, "name": "B"}]'],
)  # fmt: skip
def test_a_coin_list_of_the_wrong_shape_is_a_clear_error(db: Path, body: bytes) -> None:
    with FakeCoinGecko() as fake:
        fake.answer(Reply(body=body), path_contains="coins/list")
        fails_unchanged(
            db,
            lambda s: fetch_btc(s, make_source(fake)),
            r"^CoinGecko's /coins/list answer has an unexpected shape \(not a list of objects "
            r"with string id, symbol and name\); nothing was stored, check base_url$",
        )


# -- 7. offline is noticed fast ----------------------------------------------------------------

OFFLINE = r"; check the network, or use get_source\('synthetic'\), or read a file with read_file$"
OFFLINE_CLI = "; check the network, or use --source synthetic or `coincast import FILE`"


def test_a_refused_connection_is_reported_in_under_5_s(db: Path) -> None:
    source = CoinGeckoSource(base_url=f"http://127.0.0.1:{closed_port()}/api/v3")  # default policy
    started = time.monotonic()
    fails_unchanged(
        db,
        lambda s: fetch_btc(s, source),
        r"^could not reach 127\.0\.0\.1:\d+ \(connection refused\)" + OFFLINE,
    )
    assert time.monotonic() - started < 5.0
    assert not source.ping()


def test_the_way_out_of_an_unreachable_server_is_said_in_python_and_in_flags() -> None:
    from coincast.data.sources.http import unreachable

    exc = unreachable("example.org", "connection refused")
    assert re.search(r"^could not reach example\.org \(connection refused\)" + OFFLINE, str(exc))
    assert exc.cli == "could not reach example.org (connection refused)" + OFFLINE_CLI


def test_a_failed_dns_lookup_is_reported_in_under_5_s(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []

    def no_dns(host: str, *args: Any, **kw: Any) -> Any:  # a resolver that knows no name
        calls.append(host)
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    started = time.monotonic()
    fails_unchanged(
        db,
        lambda s: fetch_btc(s, CoinGeckoSource()),
        r"^could not reach api\.coingecko\.com \(DNS lookup failed\)" + OFFLINE,
    )
    assert time.monotonic() - started < 5.0
    assert calls == ["api.coingecko.com"] * 3  # the first try and two quick retries


# -- the command line, one case per class ------------------------------------------------------


def cli(db: Path, *args: str, env: dict[str, str]) -> str:
    """Run ``coincast fetch``: it must fail with one ``Error:`` line and change nothing."""
    before = store_snapshot(db)
    env = {"COINGECKO_API_KEY": SECRET, "COINGECKO_API_PLAN": "pro", **env}
    result = runner.invoke(app, ["--store", str(db), "fetch", *args], env=env)
    assert store_snapshot(db) == before, "a failed fetch changed the store"
    assert result.exit_code == 1, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert "unexpected" not in result.output.lower()
    assert SECRET.lower() not in result.output.lower()
    return lines[0]


JAN = ("BTC", "--start", "2025-01-01", "--end", "2025-01-31")
CLI_CASES = {
    "redirect": (lambda f, o: Reply(302, b"", headers={"Location": o.url_for("localhost")}),
                 {}, r"redirected /coins/bitcoin/market_chart/range to another host \(localhost:\d+\).*COINGECKO_BASE_URL$"),  # noqa: E501
    "key echoed": (lambda f, o: Reply(400, f"[/bold] {SECRET}".encode(), content_type="text/html"),
                   {}, r"answered HTTP 400 for /coins/bitcoin/market_chart/range: \[/bold\] \*\*\*$"),  # noqa: E501
    "null prices": (lambda f, o: Reply(body=at("prices", None, 1, 2, 3)), {},
                    r"^Error: BTC: CoinGecko's market_chart answer for bitcoin .* 3 of \d+ price points"),  # noqa: E501
    "drip": (lambda f, o: Reply(drip=0.2), {"COINCAST_HTTP_DEADLINE": "1"},
             r"sent no complete answer to /coins/bitcoin/market_chart/range within 1 s"),
    "oversize": (lambda f, o: Reply(endless=True), {"COINCAST_HTTP_MAX_BYTES": "50000"},
                 r"is larger than 50,000 bytes \(more than 50,000 bytes;"),
    "html": (lambda f, o: Reply(body=HTML, content_type="text/html"), {},
             r"with text/html, not JSON: '<!DOCTYPE html>.*'; check COINGECKO_BASE_URL$"),
    "retry-after inf": (lambda f, o: Reply(429, b"{}", headers={"Retry-After": "inf"}), {},
                        r"CoinGecko asked to wait inf s \(Retry-After\)"),
    "nested": (lambda f, o: Reply(body=nested(100_000)), {}, r"is JSON nested too deeply"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(CLI_CASES))
def test_the_cli_prints_one_error_line_for_each_class(db: Path, case: str) -> None:
    reply, env, match = CLI_CASES[case]
    with FakeCoinGecko() as fake, FakeCoinGecko() as other:
        fake.answer(reply(fake, other), 10)
        started = time.monotonic()
        line = cli(db, *JAN, env={"COINGECKO_BASE_URL": fake.url, **env})
        assert time.monotonic() - started < 5.0
        assert other.requests == []
    assert re.search(match, line), line


@pytest.mark.parametrize(
    ("args", "env", "match"),
    [
        (JAN, {"COINGECKO_CALLS_PER_MINUTE": "abc"}, r"^Error: COINGECKO_CALLS_PER_MINUTE is 'ab"),
        (JAN, {"COINCAST_HTTP_DEADLINE": "nan"}, r"^Error: COINCAST_HTTP_DEADLINE is 'nan'"),
        (JAN, {"COINCAST_HTTP_MAX_BYTES": "-5"}, r"^Error: COINCAST_HTTP_MAX_BYTES is '-5'"),
        (JAN, {"COINGECKO_BASE_URL": "ftp://x"}, r"^Error: COINGECKO_BASE_URL is 'ftp://x'; it"),
        (("BTC", "--days", "nan"), {}, r"^Error: BTC: --days is nan; it must be a finite"),
        (("BTC", "--days", "inf"), {}, r"^Error: BTC: --days is inf;"),
        (("BTC", "--days", "1e20"), {}, r"^Error: BTC: --days is 1e\+20;"),
        (("BTC", "--days", "-1"), {}, r"^Error: BTC: --days is -1;"),
        (("BTC", "--days", "0"), {}, r"^Error: BTC: --days is 0;"),
        (("BTC", "--start", "1900-01-01"), {}, r"^Error: BTC: --start 1900-01-01 is before 2009"),
        (("BTC", "--start", "2025-02-01", "--end", "2025-01-01"), {},
         r"^Error: BTC: --end \(2025-01-01 00:00\) is before --start \(2025-02-01 00:00\)"),
    ],
)  # fmt: skip
def test_the_cli_refuses_hostile_settings_and_ranges(
    db: Path, args: tuple[str, ...], env: dict[str, str], match: str
) -> None:
    with FakeCoinGecko() as fake:
        line = cli(db, *args, env={"COINGECKO_BASE_URL": fake.url, **env})
        assert fake.data_requests() == []
    assert re.search(match, line), line


def test_the_cli_reports_an_unreachable_server_in_under_5_s(db: Path) -> None:
    started = time.monotonic()
    line = cli(db, *JAN, env={"COINGECKO_BASE_URL": f"http://127.0.0.1:{closed_port()}/api/v3"})
    assert time.monotonic() - started < 5.0
    assert re.search(r"^Error: BTC: could not reach 127\.0\.0\.1:\d+ \(connection refused\)", line)
    assert line.endswith("or use --source synthetic or `coincast import FILE`")


def test_the_cli_refresh_asks_again(db: Path) -> None:
    with FakeCoinGecko() as fake:
        env = {
            "COINGECKO_BASE_URL": fake.url,
            "COINGECKO_API_KEY": SECRET,
            "COINGECKO_API_PLAN": "pro",
        }
        args = ["--store", str(db), "fetch", *JAN, "--json"]
        first = runner.invoke(app, args, env=env)
        again = runner.invoke(app, [*args, "--refresh"], env=env)
        asked = [r.query["from"] for r in fake.data_requests()]
    assert first.exit_code == again.exit_code == 0, first.output + again.output
    assert json.loads(first.stdout)[0]["new_rows"] == 31
    assert json.loads(again.stdout)[0]["new_rows"] == 0
    assert len(asked) == 2 and asked[0] == asked[1]


@pytest.mark.parametrize(
    "key", ["\uff42\uff49\uff54coin", "with space", "tab\there", "é-key", "x" * 300, "nul\x00"]
)
def test_an_api_key_no_header_can_carry_is_refused_without_showing_it(key):
    with pytest.raises(SourceError, match=r"COINGECKO_API_KEY\) has .*copy the key again") as e:
        CoinGeckoSource(api_key=key)
    assert key not in str(e.value)
