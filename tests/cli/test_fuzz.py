"""Fuzzing the command line: hostile flags, files, environments and run folders.

Every case must end in exit code 0, or 1 with one ``Error:`` line, or 2 (Click's usage
error): never an exception, never the ``unexpected`` catch-all; and a command that failed
leaves the store's content as it was. ``benchmarks/bench_reliability.py`` runs the same
cases many more times and records the counts in BENCHMARKS.md.
"""

from __future__ import annotations

import pytest
from fakes.coingecko import FakeCoinGecko
from fuzzing import (
    World,
    config_cases,
    env_cases,
    file_cases,
    flag_cases,
    make_world,
    run_case,
    run_cases,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

SETTINGS = dict(
    deadline=None,
    derandomize=True,  # the same cases on every run: CI never fails on a new random draw
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> World:
    return make_world(tmp_path_factory.mktemp("fuzz") / "world")


def _check(case, world: World) -> None:
    outcome = run_case(case, world)
    assert outcome.kind in ("ok", "error"), f"{outcome.kind}: {case.describe()}\n{outcome.detail}"


@settings(max_examples=100, **SETTINGS)
@given(data=st.data())
def test_hostile_flags(world, data):
    _check(data.draw(flag_cases()), world)


@settings(max_examples=10, **SETTINGS)
@given(data=st.data())
def test_hostile_config_files(world, data):
    _check(data.draw(config_cases()), world)


@settings(max_examples=60, **SETTINGS)
@given(data=st.data())
def test_hostile_files(world, data):
    _check(data.draw(file_cases(world.csv)), world)


@settings(max_examples=40, **SETTINGS)
@given(data=st.data())
def test_damaged_run_folders(world, data):
    _check(data.draw(run_cases()), world)


@settings(max_examples=20, **SETTINGS)
@given(data=st.data())
def test_hostile_environment(world, data):
    with FakeCoinGecko() as api:
        world.base_url = api.url
        try:
            _check(data.draw(env_cases()), world)
        finally:
            world.base_url = "http://127.0.0.1:9"


def test_the_harness_sees_a_crash(world, monkeypatch):
    """A command that raises must be judged a crash, and one that changes the store and then
    fails must be judged lost: the harness can fail."""
    from fuzzing import Case

    import coincast.cli.data as data_cmds

    def boom(*args, **kwargs):
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(data_cmds, "read_frame", boom, raising=False)
    out = run_case(Case(["data", "show", "demo"]), world)
    assert out.kind == "crash" and "ZeroDivisionError" in out.detail


def test_the_harness_sees_data_lost(world, monkeypatch):
    from fuzzing import Case

    from coincast.data.store import Store
    from coincast.errors import StoreError

    def fails(self, key):
        raise StoreError("failed after the write")

    monkeypatch.setattr(Store, "info", fails)
    case = Case(
        ["import", "{dir}/f.csv", "--coin", "other"], files={"f.csv": world.csv}, writes=True
    )
    out = run_case(case, world)
    assert out.kind == "lost" and "store changed" in out.detail
