"""Coin names: CoinGecko ids (``bitcoin``) are canonical; symbols (``BTC``) resolve to them."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable

from .errors import NameFormError, UnknownCoinError, shown

#: Symbol -> CoinGecko id for well-known coins. Symbols are not unique on CoinGecko (many
#: tokens call themselves BTC); these are the coins people mean.
KNOWN_SYMBOLS: dict[str, str] = {
    "btc": "bitcoin",
    "eth": "ethereum",
    "sol": "solana",
    "ada": "cardano",
    "avax": "avalanche-2",
    "bnb": "binancecoin",
    "doge": "dogecoin",
    "dot": "polkadot",
    "link": "chainlink",
    "ltc": "litecoin",
    "matic": "matic-network",
    "pol": "polygon-ecosystem-token",
    "usdt": "tether",
    "usdc": "usd-coin",
    "xrp": "ripple",
    "trx": "tron",
    "ton": "the-open-network",
    "shib": "shiba-inu",
    "bch": "bitcoin-cash",
    "xlm": "stellar",
    "atom": "cosmos",
    "uni": "uniswap",
}

#: CoinGecko id -> exchange ticker, the inverse of :data:`KNOWN_SYMBOLS`.
TICKERS: dict[str, str] = {cid: sym.upper() for sym, cid in KNOWN_SYMBOLS.items()}

#: The form of a coin id, as CoinGecko and ccxt spell them: ``bitcoin``, ``avalanche-2``.
COIN_ID_RULE = "1 to 64 lowercase letters, digits, '-', '_' or '.', starting with a letter or digit"
#: The form of a quote currency: ``usd``, ``usdt``, ``eur``.
QUOTE_RULE = "1 to 16 letters or digits"
#: What a coin may be typed as when resolved against a coin list: an id, symbol or name.
NAME_RULE = "1 to 64 printable characters, no '/' or '\\'"

_COIN_ID = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
_QUOTE = re.compile(r"[a-z0-9]{1,16}")


def check_coin_id(coin: str) -> str:
    """``coin`` stripped and lower-cased, if that is a well-formed coin id.

    The one check of coin ids: every name typed by a user or read from a file passes here
    before it names a stored series.

    Raises
    ------
    NameFormError
        Naming the value (cut to 40 characters), the rule and an example.

    Examples
    --------
    >>> check_coin_id(" Avalanche-2 ")
    'avalanche-2'
    """
    c = coin.strip().lower() if isinstance(coin, str) else ""
    if not _COIN_ID.fullmatch(c):
        raise NameFormError(
            f"coin {shown(coin)} is not a valid id: a coin id is {COIN_ID_RULE}, "
            "e.g. bitcoin or BTC"
        )
    return c


def check_quote(quote: str) -> str:
    """``quote`` stripped and lower-cased, if that is a well-formed quote currency.

    Raises
    ------
    NameFormError
        Naming the value (cut to 40 characters), the rule and an example.

    Examples
    --------
    >>> check_quote("USDT")
    'usdt'
    """
    q = quote.strip().lower() if isinstance(quote, str) else ""
    if not _QUOTE.fullmatch(q):
        raise NameFormError(
            f"quote {shown(quote)} is not a valid quote currency: a quote is {QUOTE_RULE}, "
            "e.g. usd or usdt"
        )
    return q


def resolve_offline(coin: str) -> str:
    """Resolve a coin without a coin list: known symbols map to ids, ids pass through."""
    c = check_coin_id(coin)
    return KNOWN_SYMBOLS.get(c, c)


def close_coins(coin: str, stored: Iterable[str] = (), most: int = 3) -> list[str]:
    """Coin ids that ``coin`` (a mistyped id or symbol) may have meant: stored ids first,
    then well-known coins (:data:`KNOWN_SYMBOLS`, by id or symbol) unless ``coin`` is one,
    at most ``most``.

    Examples
    --------
    >>> close_coins("bitcoinn", ["bitcoin", "ethereum"])
    ['bitcoin']
    >>> close_coins("etth")
    ['ethereum']
    >>> close_coins("zzz", ["bitcoin"])
    []
    """
    c = coin.strip().lower() if isinstance(coin, str) else ""
    stored = sorted(set(stored))
    near = difflib.get_close_matches(c, stored, n=most, cutoff=0.8)
    words = {cid: cid for cid in TICKERS} | {sym: cid for sym, cid in KNOWN_SYMBOLS.items()}
    # A well-known coin typed right is not a typo of another well-known one.
    known = [] if c in words else difflib.get_close_matches(c, sorted(words), n=most, cutoff=0.8)
    ids = [x for x in dict.fromkeys([*near, *(words[w] for w in known)]) if x != c]
    return ids[:most]


def _check_name(coin: str) -> str:
    """``coin`` stripped and lower-cased, if it can be an id, symbol or name (``Bitcoin Cash``)."""
    c = coin.strip().lower() if isinstance(coin, str) else ""
    if not (0 < len(c) <= 64 and c.isprintable() and not set(c) & {"/", "\\"}):
        raise NameFormError(
            f"coin {shown(coin)} is not a coin id, symbol or name: give {NAME_RULE}, "
            "e.g. bitcoin, BTC or 'Bitcoin Cash'"
        )
    return c


def resolve(coin: str, coins: list[dict[str, str]]) -> str:
    """Resolve an id, symbol or name against a CoinGecko coin list.

    Parameters
    ----------
    coin
        ``bitcoin``, ``BTC``, ``btc`` or ``Bitcoin``.
    coins
        Dicts with ``id``, ``symbol`` and ``name`` (CoinGecko's ``/coins/list``).

    Raises
    ------
    UnknownCoinError
        Listing close matches, or the candidates when a symbol is ambiguous.
    NameFormError
        When ``coin`` cannot be a name (a control character, a slash, over 64 characters),
        or the list maps it to an id that is no well-formed id.

    Examples
    --------
    >>> resolve("BTC", [{"id": "bitcoin", "symbol": "btc", "name": "Bitcoin"}])
    'bitcoin'
    """
    return check_coin_id(_find(_check_name(coin), coin, coins))


def _find(c: str, coin: str, coins: list[dict[str, str]]) -> str:
    """The id that ``c`` (``coin`` stripped and lower-cased) names in ``coins``."""
    ids = {x["id"] for x in coins}
    if c in ids:
        return c
    if c in KNOWN_SYMBOLS and KNOWN_SYMBOLS[c] in ids:
        return KNOWN_SYMBOLS[c]
    for field in ("symbol", "name"):
        hits = sorted({x["id"] for x in coins if x[field].lower() == c})
        if len(hits) == 1:
            return hits[0]
        if hits:
            listed = ", ".join(hits[:10])
            raise UnknownCoinError(
                f"{shown(coin)} names several coins ({listed}); pass the id instead"
            )
    raise UnknownCoinError(_unknown(coin, coins))


def _unknown(coin: str, coins: list[dict[str, str]]) -> str:
    words = {x["id"] for x in coins} | {x["symbol"] for x in coins}
    close = difflib.get_close_matches(coin.strip().lower(), sorted(words), n=5, cutoff=0.6)
    by_word = {}
    for x in coins:
        by_word.setdefault(x["symbol"], x["id"])
        by_word[x["id"]] = x["id"]
    ids = list(dict.fromkeys(by_word[w] for w in close))
    hint = f"; did you mean: {', '.join(ids)}?" if ids else ""
    return f"unknown coin {shown(coin)}{hint} (coin ids are CoinGecko's, e.g. bitcoin, ethereum)"
