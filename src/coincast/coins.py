"""Coin names: CoinGecko ids (``bitcoin``) are canonical; symbols (``BTC``) resolve to them."""

from __future__ import annotations

import difflib
import re

from .errors import UnknownCoinError

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

_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,99}$")


def check_coin_id(coin: str) -> str:
    """Return ``coin`` lower-cased if it is a well-formed id (letters, digits, ``-._``)."""
    c = coin.strip().lower()
    if not _ID.match(c):
        raise UnknownCoinError(
            f"coin {coin!r} is not a valid id: use letters, digits and '-', e.g. bitcoin or BTC"
        )
    return c


def resolve_offline(coin: str) -> str:
    """Resolve a coin without a coin list: known symbols map to ids, ids pass through."""
    c = check_coin_id(coin)
    return KNOWN_SYMBOLS.get(c, c)


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

    Examples
    --------
    >>> resolve("BTC", [{"id": "bitcoin", "symbol": "btc", "name": "Bitcoin"}])
    'bitcoin'
    """
    c = coin.strip().lower()
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
            raise UnknownCoinError(f"{coin!r} names several coins ({listed}); pass the id instead")
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
    return f"unknown coin {coin!r}{hint} (coin ids are CoinGecko's, e.g. bitcoin, ethereum)"
