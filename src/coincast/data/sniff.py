"""What a file is, from its first bytes: so a store or an import can say "FILE is a gzip file"
rather than fail somewhere inside a parser."""

from __future__ import annotations

import bz2
import codecs
import gzip
import lzma
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from ..errors import ParseError

#: Leading bytes of the formats people hand coincast by mistake, with what to call each.
MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"SQLite format 3\x00", "an SQLite database"),
    (b"PAR1", "a Parquet file"),
    (b"\x1f\x8b", "a gzip file"),
    (b"BZh", "a bzip2 file"),
    (b"\xfd7zXZ\x00", "an xz file"),
    (b"\x28\xb5\x2f\xfd", "a zstd file"),
    (b"PK\x03\x04", "a zip file (an Excel .xlsx workbook is one)"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old Excel .xls (OLE) file"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"%PDF", "a PDF document"),
    (b"\xff\xfe", "UTF-16 text"),
    (b"\xfe\xff", "UTF-16 text"),
)

#: How many leading bytes :func:`head` reads: enough for every magic and a text check.
HEAD_BYTES = 512


def head(path: Path) -> bytes:
    """The first :data:`HEAD_BYTES` bytes of ``path`` (fewer if the file is shorter)."""
    with path.open("rb") as f:
        return f.read(HEAD_BYTES)


def kind_of(data: bytes) -> str | None:
    """What ``data`` (a file's first bytes) is, by its magic: ``"a gzip file"``; ``None``
    when no known magic matches (text, or binary of unknown kind: see :func:`looks_binary`).

    Examples
    --------
    >>> kind_of(b"\\x1f\\x8b\\x08\\x00")
    'a gzip file'
    >>> kind_of(b"timestamp,open") is None
    True
    """
    return next((name for magic, name in MAGIC if data.startswith(magic)), None)


def describe(data: bytes) -> str:
    """What a file starting with ``data`` is, for a message: its kind by magic, else
    ``"a text file"`` or ``"binary data"`` (control characters beside tab, newline, carriage
    return and form feed).

    Examples
    --------
    >>> describe(b"PK\\x03\\x04..."), describe(b"my notes\\n"), describe(b"\\x00\\x01")
    ('a zip file (an Excel .xlsx workbook is one)', 'a text file', 'binary data')
    """
    if not data:
        return "an empty file"
    if any(b < 32 and b not in b"\t\n\r\f" for b in data):
        return kind_of(data) or "binary data"
    return kind_of(data) or "a text file"


# -- a file given as CSV: refuse what is not CSV text, before pandas reads it -------------------

#: Compressed kinds pandas reads when the name says so: (suffix, how to decompress).
_COMPRESSED = {
    "a gzip file": (".gz", "gunzip -c"),
    "a bzip2 file": (".bz2", "bunzip2 -c"),
    "an xz file": (".xz", "unxz -c"),
    "a zstd file": (".zst", "unzstd -c"),
}
_OPENERS = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}
_SHEET = "save the sheet as CSV (in Excel: File > Save As > CSV UTF-8)"
_CHUNK = 1 << 20


def is_parquet(path: Path) -> bool:
    """Whether ``path`` starts with Parquet's magic ``PAR1`` (whatever its name says)."""
    try:
        return head(path).startswith(b"PAR1")
    except OSError as exc:
        raise ParseError(f"{path}: cannot be read ({exc.strerror or exc})") from None


def check_csv_bytes(path: Path) -> None:
    """Refuse a file that is not CSV text before pandas reads it: say what it is (gzip, an
    Excel workbook, an image, UTF-16 text) and how to make it CSV, and blame a NUL byte or
    bytes that are not UTF-8 on their own line.

    A ``.gz``, ``.bz2``, ``.xz``, ``.zst`` or ``.zip`` name says the CSV inside is compressed:
    such a file is read through, and its text checked where Python can decompress it.

    Raises
    ------
    ParseError
        Naming the file, what it is (or the line) and the fix.
    """
    try:
        data = head(path)
    except OSError as exc:
        raise ParseError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if not data:
        raise ParseError(f"{path}: the file is empty (0 bytes); give a CSV file with a header row")
    suffixes = [s.lower() for s in path.suffixes]
    kind = kind_of(data)
    if kind is not None and not _named_compressed(kind, suffixes):
        raise ParseError(_not_csv(path, kind))
    if kind is None or suffixes[-1] in _OPENERS:
        _scan_text(path, _OPENERS.get(suffixes[-1], open) if kind else open)


def _named_compressed(kind: str, suffixes: list[str]) -> bool:
    if kind in _COMPRESSED:
        return _COMPRESSED[kind][0] in suffixes
    return kind.startswith("a zip file") and ".zip" in suffixes


def _not_csv(path: Path, kind: str) -> str:
    if kind in _COMPRESSED:
        ext, tool = _COMPRESSED[kind]
        return (
            f"{path} is {kind}, not CSV; decompress it first ({tool} {path} > plain.csv), or "
            f"name it {path.name}{ext} to import it as it is"
        )
    if kind.startswith("a zip file"):
        return f"{path} is {kind}, not CSV; unzip it, or {_SHEET}"
    if "Excel" in kind:
        return f"{path} is {kind}, not CSV; {_SHEET}"
    if kind == "UTF-16 text":
        return (
            f"{path} is UTF-16 text, not UTF-8; save it as UTF-8 "
            f"(iconv -f UTF-16 -t UTF-8 {path} > utf8.csv)"
        )
    return f"{path} is {kind}, not a CSV or Parquet file of candles"


def _scan_text(path: Path, opener: Callable[..., BinaryIO]) -> None:
    """Read ``path`` once in chunks: the first NUL byte, or the first bytes that are not
    UTF-8, raise a ParseError naming their line."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    line = 1
    try:
        with opener(path, "rb") as f:
            for chunk in iter(lambda: f.read(_CHUNK), b""):
                _check_chunk(path, chunk, line, decoder)
                line += chunk.count(b"\n")
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise ParseError(_not_utf8(path, line, "its last character is cut short")) from None
    except (OSError, EOFError, lzma.LZMAError) as exc:
        raise ParseError(f"{path}: cannot be decompressed ({exc})") from None


def _check_chunk(path: Path, chunk: bytes, line: int, decoder: codecs.IncrementalDecoder) -> None:
    nul = chunk.find(b"\x00")
    try:
        decoder.decode(chunk if nul < 0 else chunk[:nul])
    except UnicodeDecodeError as exc:
        at = max(exc.start - (len(exc.object) - len(chunk)), 0)
        byte = f"byte 0x{exc.object[exc.start]:02x}"
        raise ParseError(_not_utf8(path, line + chunk.count(b"\n", 0, at), byte)) from None
    if nul >= 0:
        if line == 1 and nul <= 1 and chunk[:64].count(0) >= 16:
            raise ParseError(_not_csv(path, "UTF-16 text"))
        at = line + chunk.count(b"\n", 0, nul)
        raise ParseError(
            f"{path}: line {at} holds a NUL byte (\\x00), which no CSV text has; remove it, "
            "or export the file again"
        )


def _not_utf8(path: Path, line: int, what: str) -> str:
    return (
        f"{path}: line {line} is not UTF-8 text ({what}); save the file as UTF-8, e.g. "
        f"iconv -f latin1 -t UTF-8 {path} > utf8.csv"
    )
