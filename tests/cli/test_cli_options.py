"""The shared options: every LSTMConfig field is a flag of ``train`` and ``backtest``, the
old flag names stay, and the flags make the config they say (without training anything)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from pydantic import Field
from typer.main import get_command
from typer.testing import CliRunner

from coincast.cli import app
from coincast.cli.common import handles_errors
from coincast.cli.lazy import loaded
from coincast.cli.options import NOT_FLAGS, gather, lstm_flags, lstm_options
from coincast.models.config import LSTMConfig

runner = CliRunner()

#: The fields whose flag is not ``--`` + the field name with dashes.
RENAMED = {"target": "--learn", "target_coin": "--target", "on_short": "--skip-short"}


def flag_of(field: str) -> str:
    return RENAMED.get(field, "--" + field.replace("_", "-"))


def options_of(command: str) -> set[str]:
    params = loaded(get_command(app))[command].params  # type: ignore[attr-defined]
    return {o for p in params for o in (*p.opts, *p.secondary_opts)}


@pytest.mark.parametrize("command", ["train", "backtest"])
def test_every_config_field_is_a_flag(command):
    have = options_of(command)
    missing = [f for f in LSTMConfig.model_fields if f not in NOT_FLAGS and flag_of(f) not in have]
    assert not missing, f"{command} has no flag for {missing}; add one or list it in NOT_FLAGS"
    assert all(reason.strip() for reason in NOT_FLAGS.values())


# The flags (and short forms) train and backtest had before they were generated.
TRAIN = (
    "--interval -i --source -s --quote -q --horizon --lookback --hidden --layers --dropout "
    "--epochs --batch --lr --learn --head --target --exog --coin-embedding --no-coin-embedding "
    "--skip-short --features --recursive --direct --val-fraction --patience --seed --threads "
    "--log-every --until --out -o --config -c --resume --force --json"
)
BACKTEST = (
    "--models -m --interval -i --source -s --quote -q --horizon --test --start --end "
    "--refit-every --window --window-size --refit-epochs --warm-start --scratch --lookback "
    "--hidden --layers --epochs --batch --lr --learn --head --target --exog --compare-training "
    "--coin-embedding --no-coin-embedding --skip-short --features --seed --threads --config -c "
    "--out -o --json"
)


@pytest.mark.parametrize(("command", "flags"), [("train", TRAIN), ("backtest", BACKTEST)])
def test_the_old_flags_stay(command, flags):
    assert set(flags.split()) <= options_of(command)


@pytest.mark.parametrize("command", ["train", "backtest"])
def test_help_shows_each_field_description_and_default(command):
    params = {p.opts[0]: p for p in loaded(get_command(app))[command].params}  # type: ignore[attr-defined]
    for name, flag in lstm_flags().items():
        field = LSTMConfig.model_fields[name]
        if name in ("horizon", "target_coin") and command == "backtest":
            continue  # backtest's own --horizon and --target (the coin to backtest)
        param = params[flag.decls[0].split("/")[0]]
        if field.description and name not in ("features", "on_short"):
            assert field.description.lower() in param.help.lower(), (name, param.help)
        if field.default not in (None, [], ()) and name != "on_short":  # --skip-short: off
            assert param.show_default, name


# -- the decorator on a command of its own -----------------------------------------------------


def lstm_app(**kw) -> typer.Typer:
    """An app whose one command prints the config it receives as JSON."""
    one = typer.Typer()

    @one.command()
    @handles_errors
    @lstm_options(**kw)
    def show(name: str = typer.Argument("x"), *, lstm: LSTMConfig) -> None:
        print(json.dumps({"name": name, **lstm.model_dump()}))

    return one


def config_of(*args: str, **kw) -> dict:
    result = runner.invoke(lstm_app(**kw), [*args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_no_flags_give_the_default_config():
    got = config_of()
    assert got.pop("name") == "x"
    assert got == json.loads(LSTMConfig().model_dump_json())


def test_flags_become_settings():
    got = config_of(
        *("--lookback", "12", "--lr", "0.01", "--learn", "price", "--recursive"),
        *("--no-coin-embedding", "--skip-short", "--quantiles", "0.1,0.9", "--head", "quantile"),
    )
    assert (got["lookback"], got["lr"], got["target"], got["recursive"]) == (
        12,
        0.01,
        "price",
        True,
    )
    assert got["coin_embedding"] is False and got["on_short"] == "skip"
    assert got["quantiles"] == [0.1, 0.9] and got["features"] == ["close"]


def test_exog_coins_are_resolved():
    assert config_of("--exog", "BTC, eth,")["exog"] == ["bitcoin", "ethereum"]
    assert config_of("--exog", "")["exog"] == []  # empty: not given


def test_flags_override_the_config_file_which_overrides_defaults(tmp_path: Path):
    (tmp_path / "c.toml").write_text("hidden = 8\nlog_every = 3\nepochs = 7\n")
    got = config_of(
        "--config",
        str(tmp_path / "c.toml"),
        "--epochs",
        "2",
        defaults={"log_every": 0, "layers": 1},
    )
    assert (got["hidden"], got["log_every"], got["epochs"], got["layers"]) == (8, 3, 2, 1)
    assert config_of(defaults={"log_every": 0})["log_every"] == 0


def test_a_bad_value_is_a_one_line_error():
    result = runner.invoke(lstm_app(), ["--head", "median"])
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: --head is 'median'; it must be point, quantile or gaussian, e.g. --head point\n"
    )


def test_own_fields_get_no_flag():
    assert "--horizon" not in runner.invoke(lstm_app(own=["horizon"]), ["--help"]).stdout


def test_a_new_field_gets_a_flag_by_itself():
    class Bigger(LSTMConfig):
        warmup_epochs: int = Field(3, ge=0, description="epochs at a low learning rate")
        schedule_names: list[str] = Field(["a"], description="names of the schedules")

    flags = lstm_flags(config=Bigger)
    warm, names = flags["warmup_epochs"], flags["schedule_names"]
    assert warm.decls == ("--warmup-epochs",) and warm.help == "Epochs at a low learning rate."
    assert warm.show_default == "3" and warm.annotation == int | None
    assert names.decls == ("--schedule-names",) and names.convert("b, c") == ["b", "c"]
    assert names.help == "Names of the schedules (comma-separated)."


def test_gather_needs_a_keyword_only_parameter():
    def command(lstm: LSTMConfig) -> None: ...

    with pytest.raises(TypeError, match="lstm must be keyword-only"):
        gather("lstm", [], dict)(command)


# -- every bounded setting, through its flag ---------------------------------------------------


def _bounded() -> list[tuple[str, str, str]]:
    """(field, a value past its bound, the rule) for every LSTMConfig number with bounds."""
    from annotated_types import Ge, Gt, Le, Lt

    from coincast.models.config import rule_text

    cases = []
    for name, field in LSTMConfig.model_fields.items():
        bounds = {type(m): m for m in field.metadata if isinstance(m, Ge | Gt | Le | Lt)}
        if Le in bounds:
            over = bounds[Le].le + (1 if isinstance(bounds[Le].le, int) else 0.5)
            cases.append((name, str(over), rule_text(name)))
        if Lt in bounds:  # the bound itself is out
            cases.append((name, str(bounds[Lt].lt), rule_text(name)))
        if Ge in bounds or Gt in bounds:
            low = bounds[Ge].ge - 1 if Ge in bounds else bounds[Gt].gt
            cases.append((name, str(low), rule_text(name)))
        if field.annotation is float:
            cases += [(name, "nan", rule_text(name)), (name, "inf", rule_text(name))]
    return cases


BOUNDED = _bounded()


def test_every_number_setting_is_bounded():
    numbers = {n for n, f in LSTMConfig.model_fields.items()
               if f.annotation in (int, float, int | None)}  # fmt: skip
    assert numbers == {n for n, _, _ in BOUNDED}
    tops = {n for n, v, _ in BOUNDED if v not in ("nan", "inf") and float(v) > 0}
    assert numbers - {"clip"} <= tops  # clip: any finite spread > 0 is a clip


@pytest.mark.parametrize(
    ("name", "value", "rule"), BOUNDED, ids=[f"{n}={v}" for n, v, _ in BOUNDED]
)
def test_a_value_past_a_bound_is_refused_in_the_flags_words(name, value, rule):
    flag = flag_of(name)
    result = runner.invoke(lstm_app(), [flag, value])
    assert result.exit_code == 1, result.output
    line = result.stderr.strip()
    assert line.startswith(f"Error: {flag} is ") and f"; it must be {rule}" in line, line
    assert "\n" not in line and "unexpected" not in line
