"""Architecture rules of the source tree, checked from the source files alone (``ast``, nothing imported).

- Small modules: none in core/, plugins/ or reports/ over ``MAX_LINES`` lines.
- A private module (a name part starting with ``_``) is imported only from inside its own package:
  plugin packages share code through public modules (``recsec.plugins.sequential``), never
  through each other's ``_`` modules.
- No import cycle among ``recsec.*`` modules, counting every ``import`` / ``from`` statement,
  those inside functions included (a lazy import still ties the two modules together);
  imports under ``if TYPE_CHECKING:`` do not count (they never run).

Folders map onto package names as pyproject.toml's ``package-dir`` says.
"""

from __future__ import annotations

import ast
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MAX_LINES = 400
CHECKED_FOLDERS = ("core", "plugins", "reports")

#: Modules allowed over MAX_LINES: none. Split a module by job rather than add it here.
LONG_MODULE_ALLOWANCE: set[str] = set()


@dataclass
class Module:
    name: str
    path: Path
    is_package: bool
    imports: list[tuple[str, int]] = field(default_factory=list)  # (imported module, line)


def _package_dirs() -> dict[str, Path]:
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    return {pkg: ROOT / folder for pkg, folder in cfg["package-dir"].items()}


def _modules() -> dict[str, Module]:
    """Every ``recsec.*`` module, by dotted name, from the mapped source folders."""
    out: dict[str, Module] = {}
    for pkg, folder in _package_dirs().items():
        for path in folder.rglob("*.py"):
            rel = path.relative_to(folder).with_suffix("").parts
            if "__pycache__" in rel:
                continue
            is_package = rel[-1] == "__init__"
            parts = rel[:-1] if is_package else rel
            name = ".".join((pkg, *parts))
            out[name] = Module(name, path, is_package)
    return out


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _import_nodes(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement that can run: functions included, ``if TYPE_CHECKING:`` bodies left out."""
    found: list[ast.Import | ast.ImportFrom] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def _resolve(mod: Module, node: ast.Import | ast.ImportFrom, known: dict[str, Module]) -> list[str]:
    """The recsec modules one statement imports: ``from pkg import name`` is ``pkg.name`` when that
    is a module, else ``pkg`` itself (parent packages are not counted: they are not a dependency)."""

    def closest(name: str) -> str | None:
        parts = name.split(".")
        for n in range(len(parts), 0, -1):
            if ".".join(parts[:n]) in known:
                return ".".join(parts[:n])
        return None

    if isinstance(node, ast.Import):
        targets = [closest(a.name) for a in node.names]
    else:
        base = node.module or ""
        if node.level:
            pkg = mod.name.split(".") if mod.is_package else mod.name.split(".")[:-1]
            pkg = pkg[: len(pkg) - (node.level - 1)]
            base = ".".join(pkg + ([base] if base else []))
        targets = []
        for alias in node.names:
            sub = f"{base}.{alias.name}"
            targets.append(sub if sub in known else closest(base))
    return [t for t in targets if t is not None and t != mod.name]


@pytest.fixture(scope="module")
def modules() -> dict[str, Module]:
    known = _modules()
    for mod in known.values():
        tree = ast.parse(mod.path.read_text(), str(mod.path))
        for node in _import_nodes(tree):
            mod.imports.extend((t, node.lineno) for t in dict.fromkeys(_resolve(mod, node, known)))
    return known


def _private_owner(name: str) -> str | None:
    """The package a private module belongs to (``a.b._c`` -> ``a.b``), or None for public modules
    (``__main__`` and the like are public)."""
    parts = name.split(".")
    for i, part in enumerate(parts):
        if part.startswith("_") and not part.startswith("__"):
            return ".".join(parts[:i])
    return None


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    top = stack.pop()
                    on_stack.discard(top)
                    comp.append(top)
                    if top == node:
                        break
                if len(comp) > 1:
                    out.append(sorted(comp))
    return out


def test_the_module_map_finds_the_packages(modules):
    for name in ("recsec", "recsec.runner", "recsec.plugins", "recsec.plugins.sequential",
                 "recsec.plugins.recommenders.sasrec", "recsec.reports", "recsec.migrations.env"):
        assert name in modules, name
    assert modules["recsec.plugins"].path == ROOT / "plugins" / "__init__.py"


def test_no_module_is_too_long():
    too_long = []
    for folder in CHECKED_FOLDERS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            n = len(path.read_text().splitlines())
            if n > MAX_LINES and rel not in LONG_MODULE_ALLOWANCE:
                too_long.append(f"{rel}: {n} lines")
    assert not too_long, f"modules over {MAX_LINES} lines (split them by job):\n" + "\n".join(too_long)


def test_the_long_module_allowance_lists_only_long_modules():
    stale = [p for p in sorted(LONG_MODULE_ALLOWANCE) if len((ROOT / p).read_text().splitlines()) <= MAX_LINES]
    assert not stale, f"no longer over {MAX_LINES} lines, remove from LONG_MODULE_ALLOWANCE: {stale}"


def test_private_modules_are_imported_only_inside_their_package(modules):
    bad = []
    for mod in modules.values():
        for target, line in mod.imports:
            owner = _private_owner(target)
            inside = mod.name == owner or mod.name.startswith(f"{owner}.")
            if owner is not None and not inside:
                bad.append(f"{mod.path.relative_to(ROOT)}:{line} imports {target}")
    assert not bad, "private modules imported from outside their package:\n" + "\n".join(bad)


def test_no_import_cycles(modules):
    graph = {name: {t for t, _ in mod.imports} for name, mod in modules.items()}
    cycles = _cycles(graph)
    assert not cycles, "import cycles among recsec modules:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_imports_in_functions_count_and_type_checking_imports_do_not():
    known = {n: Module(n, Path(n), n.endswith("pkg")) for n in ("recsec.pkg", "recsec.pkg.a", "recsec.pkg._b",
                                                                 "recsec.pkg.c", "recsec.other")}
    tree = ast.parse(
        "from typing import TYPE_CHECKING\n"
        "import numpy\n"
        "from . import _b\n"
        "if TYPE_CHECKING:\n"
        "    from recsec.other import Thing\n"
        "def f():\n"
        "    from .c import g\n"
        "    import recsec.pkg.a.missing\n"
    )
    mod = known["recsec.pkg.a"]
    found = [t for node in _import_nodes(tree) for t in _resolve(mod, node, known)]
    assert found == ["recsec.pkg._b", "recsec.pkg.c"]  # recsec.pkg.a.missing resolves to the module itself
    assert _private_owner("recsec.pkg._b") == "recsec.pkg" and _private_owner("recsec.pkg.a") is None


#: Names that hold the answer key: test targets, membership labels, the undefended victim's lists.
ANSWER_KEY = {"reference_topk", "reference_top10", "target_members", "target_nonmembers", "is_member",
              "membership_partition", "eval_set", "victim_factory"}


def test_no_plugin_touches_the_answer_key():
    """Plugins never read test targets, membership labels or reference lists; attacks never see a split."""
    bad = []
    for path in sorted((ROOT / "plugins").rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        attacks = path.parent.name == "attacks"
        for node in ast.walk(tree):
            if not isinstance(node, ast.Attribute):
                continue
            chain = node.attr
            if chain in ANSWER_KEY:
                bad.append(f"{path.relative_to(ROOT)}:{node.lineno} reads .{chain}")
            if chain == "targets" and isinstance(node.value, ast.Attribute) and node.value.attr == "test":
                bad.append(f"{path.relative_to(ROOT)}:{node.lineno} reads the test targets")
            if attacks and chain == "split" and isinstance(node.value, ast.Name) and node.value.id == "ctx":
                bad.append(f"{path.relative_to(ROOT)}:{node.lineno} reads ctx.split")
    assert not bad, "the answer key crossed the plugin boundary:\n" + "\n".join(bad)


def test_the_runner_stays_small():
    assert len((ROOT / "core" / "runner.py").read_text().splitlines()) < 250
