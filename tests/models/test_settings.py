"""``coincast.models.settings``: a settings file under explicit values, one-line errors."""

from __future__ import annotations

import re

import pytest

from coincast.errors import CoincastError
from coincast.models.settings import lstm_config, read_settings


def test_values_override_the_file_which_overrides_defaults(tmp_path):
    (tmp_path / "c.yaml").write_text("hidden: 8\nlog_every: 3\n")
    cfg = lstm_config(tmp_path / "c.yaml", {"hidden": 16}, {"log_every": 0, "layers": 1})
    assert (cfg.hidden, cfg.log_every, cfg.layers, cfg.epochs) == (16, 3, 1, 50)


def test_no_file_no_settings():
    assert read_settings(None) == {}
    assert lstm_config() == lstm_config(None, {}, {})


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("c.toml", "hiden = 8\n", "unknown setting(s) hiden; known: lookback, horizon"),
        ("c.ini", "epochs = 1\n", "must be a .toml, .yaml or .yml file"),
        ("c.toml", "epochs = = 1\n", "cannot be parsed"),
        ("c.yml", "- 1\n", "must hold a table of settings"),
    ],
)
def test_bad_files(tmp_path, name, text, message):
    (tmp_path / name).write_text(text)
    with pytest.raises(CoincastError, match=re.escape(message)) as caught:
        read_settings(tmp_path / name)
    assert str(caught.value).startswith(f"settings file {tmp_path / name}")
    assert caught.value.cli.startswith(f"--config {tmp_path / name}")  # the CLI's words


def test_a_bad_value_names_the_setting():
    with pytest.raises(CoincastError, match=r"^lookback is 0; it must be a whole number from 1 "):
        lstm_config(values={"lookback": 0})


def test_a_bad_value_from_the_file_names_the_file_and_spells_it_as_the_file_does(tmp_path):
    (tmp_path / "c.toml").write_text("lr = inf\nhidden = 8\n")
    tail = f"{tmp_path / 'c.toml'}: lr is inf; it must be a finite number > 0 and <= 10, "
    tail += "e.g. lr = 0.001"
    with pytest.raises(CoincastError, match=f"^{re.escape('settings file ' + tail)}$") as caught:
        lstm_config(tmp_path / "c.toml")
    assert caught.value.cli == f"--config {tail}"
    # the same value given explicitly is the caller's, not the file's
    with pytest.raises(CoincastError, match=r"^lr is nan; it must be a finite number"):
        lstm_config(tmp_path / "c.toml", {"lr": float("nan")})


def test_a_missing_file_is_named_in_both_wordings(tmp_path):
    # In Python the message says "settings file"; the CLI's wording names --config (.cli).
    with pytest.raises(CoincastError) as caught:
        read_settings(tmp_path / "nope.toml")
    assert str(caught.value) == f"settings file {tmp_path / 'nope.toml'}: no such file"
    assert caught.value.cli == f"--config {tmp_path / 'nope.toml'}: no such file"
