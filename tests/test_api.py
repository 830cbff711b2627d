"""The public API at the top of the package: every documented name imports, and importing
coincast itself does not pay for PyTorch, matplotlib or the statistics stack."""

from __future__ import annotations

import subprocess
import sys

import coincast


def test_every_exported_name_resolves():
    for name in coincast.__all__:
        assert getattr(coincast, name) is not None, name


def test_an_unknown_name_is_an_attribute_error():
    try:
        coincast.no_such_thing  # noqa: B018
    except AttributeError as exc:
        assert "no_such_thing" in str(exc)
    else:
        raise AssertionError("coincast.no_such_thing did not raise")


def test_import_coincast_stays_light():
    code = (
        "import sys, coincast; "
        "print(','.join(m for m in ('torch', 'matplotlib', 'scipy', 'statsmodels') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
