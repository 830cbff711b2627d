"""The package layout shows the flow, and imports run one way along it.

vocabulary (errors, intervals, coins, series) <- data <- dataset <- models <- evaluation
<- reporting <- explain <- cli. A module may import its own stage and the stages before it,
never one after it: that keeps the data layer free of torch, the models free of the report,
and the CLI the only place Typer and Rich live. Function-level imports count too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "coincast"

STAGES = ["vocabulary", "data", "dataset", "models", "evaluation", "reporting", "explain", "cli"]
VOCABULARY = {"errors", "intervals", "coins", "series", "_version"}
# Third-party packages a stage may not import (they belong to a later one).
ONLY_IN = {"typer": "cli", "rich": "cli", "torch": "dataset", "matplotlib": "reporting"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def stage_of(module: str) -> str | None:
    """The stage of a coincast module; None for the package root and ``__main__``."""
    parts = module.split(".")
    if len(parts) == 1 or parts[1] in ("__main__", "_version"):
        return None
    if parts[1] in VOCABULARY:
        return "vocabulary"
    assert parts[1] in STAGES, f"{module}: a module outside every stage; add it to a folder"
    return parts[1]


def imports_of(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module) for every import in ``path``, relative ones resolved."""
    module = module_name(path)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            # `from pkg import submodule` imports the submodule
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                exists = (SRC / Path(*sub.split("."))).with_suffix(".py").exists() or (
                    SRC / Path(*sub.split(".")) / "__init__.py"
                ).exists()
                found.append((node.lineno, sub if exists else target))
    return found


def violations(path: Path) -> list[str]:
    here = stage_of(module_name(path))
    if here is None:
        return []
    rank = STAGES.index(here)
    bad = []
    for line, target in imports_of(path):
        top = target.split(".")[0]
        if top == "coincast":
            # the package root is the public API over every stage: only the CLI may use it
            there = stage_of(target) or "cli"
            if STAGES.index(there) > rank:
                bad.append(f"{path.relative_to(SRC)}:{line} ({here}) imports {target} ({there})")
        elif top in ONLY_IN and STAGES.index(ONLY_IN[top]) > rank:
            bad.append(f"{path.relative_to(SRC)}:{line} ({here}) imports {top}")
    return bad


MODULES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_run_one_way(path):
    assert violations(path) == []


def test_the_checker_catches_an_import_against_the_flow(tmp_path, monkeypatch):
    fake = tmp_path / "coincast"
    (fake / "data").mkdir(parents=True)
    (fake / "models").mkdir()
    for p in (fake / "__init__.py", fake / "data" / "__init__.py", fake / "models" / "lstm.py"):
        p.write_text("")
    bad = fake / "data" / "fetch.py"
    bad.write_text("def f():\n    from ..models import lstm\n    import typer\n")
    monkeypatch.setattr(f"{__name__}.SRC", tmp_path)
    assert violations(bad) == [
        "coincast/data/fetch.py:2 (data) imports coincast.models.lstm (models)",
        "coincast/data/fetch.py:3 (data) imports typer",
    ]


def test_every_top_level_module_is_vocabulary():
    flat = {p.stem for p in PACKAGE.glob("*.py")} - {"__init__", "__main__"}
    assert flat == VOCABULARY
    folders = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    assert folders == set(STAGES) - {"vocabulary"}


def test_the_readme_draws_every_module():
    readme = (SRC.parent / "README.md").read_text(encoding="utf-8")
    tree = readme[readme.index("## Development") :].split("```text", 1)[1].split("```", 1)[0]
    for c in "/(),:;":
        tree = tree.replace(c, " ")
    words = {w.removesuffix(".py") for w in tree.split()}
    missing = [
        str(p.relative_to(PACKAGE))
        for p in MODULES
        if p.stem not in ("__init__", "__main__") and p.stem not in words
    ]
    stages = [s for s in STAGES if s != "vocabulary" and s not in words]
    assert missing == [] and stages == [], "README's Development tree lacks these"
