"""Every third-party package the code imports is declared in pyproject.toml, for the code that imports it.

A package that happens to be installed on the machine hides a missing declaration (``bm25s`` once did: CI stayed
green, a fresh install failed at the first command). This test reads the imports (AST), maps each top-level
module to the distribution that provides it (``importlib.metadata.packages_distributions``) and checks it against
``pyproject.toml``:

* ``src/``: ``[project].dependencies``; a module imported only inside ``try: ... except ImportError`` may come
  from an optional extra instead;
* ``tests/``, ``bench/``, ``notebooks/``: the runtime dependencies plus the ``dev`` extra (guarded imports: any
  extra);
* every declared distribution is imported somewhere or named in :data:`INDIRECT` with the reason it is needed,
  so removing any declared dependency fails the test.
"""

from __future__ import annotations

import ast
import json
import re
import sys
import tomllib
from dataclasses import dataclass
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

#: Declared distributions that no module imports by name, and why each is needed.
INDIRECT: dict[str, str] = {
    "onnx": "torch.onnx.export writes the ONNX model that the onnx backends run",
    "onnx-ir": "onnxruntime's block-wise int8 (MatMulNBits) quantiser imports it",
    "pyarrow": "pandas' Parquet engine (bundle tables, batch output)",
    "aiohttp": "Ray Data resolves paths through fsspec, whose HTTP filesystem imports it (the ray extra)",
    "ray": "the ray engine of link-postings loads it with importlib.import_module (batch/run.py): an optional extra",
    "uvloop": "uvicorn's fast event loop (docs/performance.md)",
    "httptools": "uvicorn's fast HTTP parser (docs/performance.md)",
    "ipykernel": "nbclient runs the notebooks in the python3 kernel",
    "mypy": "run by tests/unit/test_code_quality.py",
    "ruff": "run by tests/unit/test_code_quality.py",
    "jinja2": "the template engine under jinja2-fragments (api/web.py's pages)",
    "python-multipart": "Starlette parses the web pages' forms and file uploads with it",
    "pytest-playwright": "the page/browser fixtures of tests/web/test_web_browser.py",
}


@dataclass(frozen=True)
class Import:
    """One import statement's top-level module."""

    module: str
    file: str
    line: int
    guarded: bool  # inside ``try:`` with an ``except ImportError`` (or ModuleNotFoundError) handler


def norm(name: str) -> str:
    """PEP 503 normalised distribution name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_names(specs: list[str]) -> set[str]:
    """Distribution names of requirement strings (``"faiss-cpu>=1.8"`` -> ``faiss-cpu``)."""
    return {norm(re.split(r"[\s<>=!~;\[(]", spec.strip(), maxsplit=1)[0]) for spec in specs}


def _catches_import_error(handler: ast.ExceptHandler) -> bool:
    names: list[ast.expr] = []
    if isinstance(handler.type, ast.Tuple):
        names = list(handler.type.elts)
    elif handler.type is not None:
        names = [handler.type]
    return any(isinstance(n, ast.Name) and n.id in {"ImportError", "ModuleNotFoundError"} for n in names)


def _source(path: Path) -> str:
    if path.suffix != ".ipynb":
        return path.read_text(encoding="utf-8")
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    code = "\n".join("".join(c["source"]) for c in cells if c.get("cell_type") == "code")
    return "\n".join(line for line in code.splitlines() if not line.lstrip().startswith(("%", "!")))


def imports_of(path: Path, root: Path) -> list[Import]:
    """The absolute imports of one Python file or notebook."""
    tree = ast.parse(_source(path), filename=str(path))
    guarded_nodes: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Try) and any(_catches_import_error(h) for h in node.handlers):
            for stmt in node.body:
                guarded_nodes.update(id(n) for n in ast.walk(stmt))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules = [node.module]
        else:
            continue
        for module in modules:
            found.append(
                Import(
                    module.split(".")[0], str(path.relative_to(root)), node.lineno, id(node) in guarded_nodes
                )
            )
    return found


def local_modules(root: Path) -> set[str]:
    """Top-level names that are the project's own (the package, test helpers, bench helpers)."""
    own = {p.name for p in (root / "src").iterdir() if p.is_dir()}
    for folder in ("tests", "bench"):
        base = root / folder
        if base.is_dir():
            own |= {p.stem for p in base.rglob("*.py")} | {p.name for p in base.rglob("*") if p.is_dir()}
    return own


def check(root: Path, distributions: dict[str, list[str]]) -> tuple[list[str], set[str]]:
    """Problems found under ``root``, and the distributions that the code imports."""
    project = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    runtime = requirement_names(project.get("dependencies", []))
    extras = {
        name: requirement_names(specs) for name, specs in project.get("optional-dependencies", {}).items()
    }
    any_extra = set().union(*extras.values()) if extras else set()
    dev = extras.get("dev", set())
    skip = set(sys.stdlib_module_names) | local_modules(root) | {"__future__"}
    groups = [
        ("runtime", sorted((root / "src").rglob("*.py")), runtime, runtime | any_extra),
        (
            "dev",
            sorted(
                p
                for folder in ("tests", "bench", "notebooks")
                if (root / folder).is_dir()
                for p in (root / folder).rglob("*")
                if p.suffix in {".py", ".ipynb"} and ".ipynb_checkpoints" not in p.parts
            ),
            runtime | dev,
            runtime | any_extra,
        ),
    ]
    problems: list[str] = []
    used: set[str] = set()
    for kind, paths, plain_ok, guarded_ok in groups:
        for path in paths:
            for imp in imports_of(path, root):
                if imp.module in skip:
                    continue
                dists = {norm(d) for d in distributions.get(imp.module, [])}
                if not dists and imp.guarded and norm(imp.module) in any_extra:
                    # an optional extra that is not installed here (e.g. `peer`): declared under its own name
                    used.add(norm(imp.module))
                    continue
                if not dists:
                    problems.append(
                        f"{imp.file}:{imp.line}: imports {imp.module!r}, which no installed package provides"
                    )
                    continue
                used |= dists
                allowed = guarded_ok if imp.guarded else plain_ok
                if not dists & allowed:
                    where = (
                        "an optional extra"
                        if imp.guarded
                        else ("[project].dependencies" if kind == "runtime" else "the dev extra")
                    )
                    problems.append(
                        f"{imp.file}:{imp.line}: imports {imp.module!r} from {'/'.join(sorted(dists))}, "
                        f"not declared in {where} of pyproject.toml"
                    )
    return problems, used


def test_every_import_is_declared() -> None:
    problems, _ = check(REPO, packages_distributions())
    assert not problems, "undeclared dependencies:\n" + "\n".join(problems)


def test_every_declaration_is_used() -> None:
    """A declared dependency that nothing imports and INDIRECT does not explain is dead weight (or a typo)."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = requirement_names(project["dependencies"]).union(
        *(requirement_names(v) for v in project["optional-dependencies"].values())
    )
    _, used = check(REPO, packages_distributions())
    assert declared - used - set(INDIRECT) == set()


def _tree(tmp_path: Path, pyproject: str, files: dict[str, str]) -> Path:
    (tmp_path / "pyproject.toml").write_text(pyproject)
    (tmp_path / "src" / "pkg").mkdir(parents=True)
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    return tmp_path


DISTS = {"numpy": ["numpy"], "yaml": ["PyYAML"], "pytest": ["pytest"]}
PYPROJECT = '[project]\nname = "pkg"\ndependencies = ["numpy>=1"]\n[project.optional-dependencies]\ndev = ["pytest"]\nx = ["pyyaml"]\n'


def test_check_names_file_and_module_of_an_undeclared_import(tmp_path: Path) -> None:
    root = _tree(tmp_path, PYPROJECT, {"src/pkg/a.py": "import numpy\nimport yaml\n"})
    problems, _ = check(root, DISTS)
    assert problems == [
        "src/pkg/a.py:2: imports 'yaml' from pyyaml, not declared in [project].dependencies of pyproject.toml"
    ]


def test_guarded_import_may_come_from_an_extra(tmp_path: Path) -> None:
    code = "try:\n    import yaml\nexcept ImportError:\n    yaml = None\n"
    problems, _ = check(_tree(tmp_path, PYPROJECT, {"src/pkg/a.py": code}), DISTS)
    assert problems == []


def test_test_code_needs_the_dev_extra(tmp_path: Path) -> None:
    root = _tree(
        tmp_path, PYPROJECT.replace('dev = ["pytest"]', "dev = []"), {"tests/test_a.py": "import pytest\n"}
    )
    problems, _ = check(root, DISTS)
    assert len(problems) == 1 and "tests/test_a.py:1" in problems[0] and "dev extra" in problems[0]


def test_guarded_import_of_an_extra_that_is_not_installed(tmp_path: Path) -> None:
    code = "try:\n    import some_peer\nexcept ImportError:\n    some_peer = None\n"
    declared = PYPROJECT.replace('x = ["pyyaml"]', 'x = ["pyyaml"]\npeer = ["some-peer>=1"]')
    problems, used = check(_tree(tmp_path, declared, {"bench/run.py": code}), DISTS)
    assert problems == [] and "some-peer" in used
    # not guarded: a missing package is a problem even when an extra names it
    (tmp_path / "bench/run.py").write_text("import some_peer\n")
    problems, _ = check(tmp_path, DISTS)
    assert problems == ["bench/run.py:1: imports 'some_peer', which no installed package provides"]


def test_module_that_nothing_provides_is_reported(tmp_path: Path) -> None:
    problems, _ = check(_tree(tmp_path, PYPROJECT, {"src/pkg/a.py": "from nosuchthing import x\n"}), DISTS)
    assert problems == ["src/pkg/a.py:1: imports 'nosuchthing', which no installed package provides"]


@pytest.mark.parametrize("name", sorted(INDIRECT))
def test_indirect_dependencies_are_declared(name: str) -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = requirement_names(project["dependencies"]).union(
        *(requirement_names(v) for v in project["optional-dependencies"].values())
    )
    assert name in declared, f"{name} is needed ({INDIRECT[name]}) but not declared in pyproject.toml"
