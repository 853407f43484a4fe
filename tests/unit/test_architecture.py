"""Guard rails of the layout: which layer may import what (README "Layout", tests/README.md).

* importing the library core (everything but ``api/`` and ``cli/``) loads neither FastAPI nor typer;
* only ``encoding/`` imports the model libraries (sentence-transformers, transformers, tokenizers, torch,
  onnxruntime), only ``index.py`` imports FAISS, only ``api/`` imports FastAPI/Starlette/uvicorn and only
  ``cli/`` imports typer and rich;
* the stages import one way: a stage never imports a later one at run time (type-only imports may look ahead).
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "skillmatch"

#: Third-party packages and the only part of ``src/skillmatch`` that may import them.
OWNERS = {
    "sentence_transformers": "encoding/",
    "transformers": "encoding/",
    "tokenizers": "encoding/",
    "torch": "encoding/",
    "onnxruntime": "encoding/",
    "onnx": "encoding/",
    "faiss": "index.py",
    "fastapi": "api/",
    "starlette": "api/",
    "uvicorn": "api/",
    "typer": "cli/",
    "rich": "cli/",
}

#: The stages in flow order; a module may import its own stage and earlier ones only.
STAGES = [
    ("config", "schema", "currencies", "deadline", "nowait", "cpu"),
    ("readers", "encoding", "index"),
    ("bundle",),
    ("linking",),
    ("matching",),
    ("build",),
    ("batch",),
    ("evaluation",),
    ("facade",),
    ("api", "cli"),
]


def _stage(module: str) -> int:
    """Position in :data:`STAGES` of ``skillmatch.<part>...``."""
    part = module.split(".")[1] if "." in module else ""
    for i, names in enumerate(STAGES):
        if part in names:
            return i
    raise AssertionError(f"module {module} belongs to no stage; add it to STAGES")


def _imports(path: Path, *, runtime_only: bool = False) -> list[tuple[str, int]]:
    """``(module, line)`` of every absolute import; ``runtime_only`` skips ``if TYPE_CHECKING:`` blocks."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped: set[int] = set()
    if runtime_only:
        for node in ast.walk(tree):
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                skipped.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    found = []
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found.extend((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module, node.lineno))
    return found


def _modules() -> list[tuple[Path, str]]:
    out = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC)
        parts = [*rel.parts[:-1], rel.stem] if rel.stem != "__init__" else list(rel.parts[:-1])
        out.append((path, ".".join(["skillmatch", *parts])))
    return out


def test_heavy_packages_are_imported_only_by_their_owner() -> None:
    wrong = []
    for path, _module in _modules():
        rel = path.relative_to(SRC).as_posix()
        for name, line in _imports(path):
            owner = OWNERS.get(name.split(".")[0])
            if owner and not rel.startswith(owner):
                wrong.append(f"src/skillmatch/{rel}:{line} imports {name} (only {owner} may)")
    assert wrong == []


def test_stages_import_only_earlier_stages() -> None:
    wrong = []
    for path, module in _modules():
        if module == "skillmatch" or module.endswith("__main__"):
            continue  # the package's front door and entry points may reach any stage
        for name, line in _imports(path, runtime_only=True):
            if name.startswith("skillmatch.") and _stage(name) > _stage(module):
                wrong.append(f"{module}:{line} imports the later stage {name}")
    assert wrong == []


def test_every_module_belongs_to_a_stage() -> None:
    for _path, module in _modules():
        if module != "skillmatch" and not module.endswith("__main__"):
            _stage(module)


def test_the_core_loads_no_web_or_cli_framework() -> None:
    core = [
        "skillmatch",
        "skillmatch.facade",
        "skillmatch.build",
        "skillmatch.bundle",
        "skillmatch.matching.recommend",
        "skillmatch.matching.cohort",
        "skillmatch.matching.catalogue",
        "skillmatch.linking.linker",
        "skillmatch.evaluation.runner",
        "skillmatch.evaluation.finetune",
        "skillmatch.readers",
        "skillmatch.encoding.factory",
    ]
    code = (
        f"import importlib, json, sys\nfor m in {core!r}: importlib.import_module(m)\n"
        "print(json.dumps(sorted(k for k in sys.modules if k.split('.')[0] in "
        "{'fastapi', 'starlette', 'typer', 'uvicorn', 'torch', 'sentence_transformers', 'onnxruntime'})))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = json.loads(out.stdout)
    assert loaded == [], f"importing the core loaded {loaded}"


@pytest.mark.parametrize("name", ["torch", "sentence_transformers", "fastapi"])
def test_the_check_sees_a_violation(tmp_path: Path, name: str) -> None:
    """The owner check can fail: a module outside the owner that imports the package is reported."""
    bad = tmp_path / "bad.py"
    bad.write_text(f"import {name}\n")
    assert _imports(bad) == [(name, 1)] and not "matching/bad.py".startswith(OWNERS[name])
