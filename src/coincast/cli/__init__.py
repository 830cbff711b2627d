"""The ``coincast`` command line: a thin layer over the library (see :mod:`coincast.cli.app`)."""

from __future__ import annotations

from .app import app, main

__all__ = ["app", "main"]
