"""The engine's rooms import only downward (README, "Layout"): a test reads every module's imports.

Each module of `kubespray_verify` belongs to a room (a folder, or one of the plain-value modules), each
room stands on a floor, and a module may import only from its own room or from rooms on lower floors.
Imports made inside functions count too: a lazy import is still an arrow.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from kubespray_verify.nodes.probe.script import SHIPPED_MODULES

PACKAGE = Path(__file__).resolve().parents[1] / "kubespray_verify"

# room → floor. A room is the dotted path under kubespray_verify; the longest matching prefix wins.
FLOORS = {
    "__init__": 0, "errors": 0, "redact": 0, "digests": 0, "model": 0, "defaults": 0, "oci": 0,
    "http.rules": 0,
    "refs": 1, "kubespray": 1, "cache": 1, "http": 1, "nodes.probe": 1, "nodes.probe.command": 2,
    "runtimes": 2, "http.policy": 2,
    "verdicts": 3,
    "resolve": 4, "http.transport": 4,
    "nodes": 5,
    "registry": 6,
    "mirrors": 7,
    "fix": 8,
    "lab": 9,
    "cli": 10, "__main__": 11,
}
PURE = ("resolve", "verdicts", "refs", "digests", "model", "kubespray", "runtimes", "http.policy")
PURE_MODULES = ("fix.plan",)  # pure modules inside a room that does I/O
IO_ROOMS = ("nodes", "http.transport", "registry", "mirrors", "fix", "cli", "lab")
IO_MODULES = ("subprocess", "requests", "paramiko", "testinfra", "socket", "docker")
# Run on nodes, where the suite is not installed: the standard library and the modules the probe ships only.
STANDALONE = ("nodes.probe.script", "nodes.probe.http_prober", "http.rules", "fix.file_script_body")
SHIPPED = SHIPPED_MODULES


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(p for p in parts if p != "__init__") or "__init__"


def room_of(name: str) -> str:
    best = ""
    for room in FLOORS:
        if (name == room or name.startswith(room + ".")) and len(room) > len(best):
            best = room
    assert best, f"kubespray_verify.{name} is in no room of the layout: give it one in FLOORS"
    return best


def imports_of(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
            if node.module == "kubespray_verify":  # `from kubespray_verify import errors`
                found += [(node.lineno, f"kubespray_verify.{a.name}") for a in node.names
                          if not a.name.startswith("__")]
    return found


MODULES = sorted(PACKAGE.rglob("*.py"))


def engine_imports(path: Path) -> list[tuple[int, str]]:
    return [(line, name[len("kubespray_verify."):]) for line, name in imports_of(path)
            if name.startswith("kubespray_verify.")]


@pytest.mark.parametrize("path", MODULES, ids=lambda p: module_name(p))
def test_imports_point_down(path):
    name = module_name(path)
    room = room_of(name)
    upward = []
    for line, target in engine_imports(path):
        other = room_of(target)
        if other != room and FLOORS[other] >= FLOORS[room]:
            upward.append(f"line {line}: {target} (room {other}, floor {FLOORS[other]})")
    assert not upward, f"{name} (room {room}, floor {FLOORS[room]}) imports upward: " + "; ".join(upward)


@pytest.mark.parametrize("path", [p for p in MODULES if room_of(module_name(p)).startswith(PURE)
                                  or module_name(p) in PURE_MODULES],
                         ids=lambda p: module_name(p))
def test_pure_rooms_import_no_io(path):
    name = module_name(path)
    bad = [f"line {line}: {target}" for line, target in imports_of(path)
           if target.split(".")[0] in IO_MODULES
           or (target.startswith("kubespray_verify.") and room_of(target[17:]).startswith(IO_ROOMS))]
    assert not bad, f"{name} is pure but imports I/O: " + "; ".join(bad)


@pytest.mark.parametrize("name", STANDALONE)
def test_node_side_modules_import_nothing_of_the_suite(name):
    path = PACKAGE.joinpath(*name.split(".")).with_suffix(".py")
    suite = [f"line {line}: {target}" for line, target in imports_of(path)
             if target.startswith("kubespray_verify") and target not in SHIPPED]
    assert not suite, f"{name} runs on nodes without the suite installed, yet imports " + "; ".join(suite)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: module_name(p))
def test_no_private_name_is_imported_across_modules(path):
    tree = ast.parse(path.read_text(), str(path))
    private = [f"line {node.lineno}: {alias.name} from {node.module}"
               for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
               and node.module.startswith("kubespray_verify")
               for alias in node.names if alias.name.startswith("_") and not alias.name.startswith("__")]
    assert not private, f"{module_name(path)} imports private names: " + "; ".join(private)


def test_a_test_that_sees_an_upward_import(tmp_path):
    """The rule itself: a module of a low floor importing a higher one is caught."""
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from kubespray_verify.nodes.connection import Node\n")
    targets = [t for _, t in imports_of(bad) if t.startswith("kubespray_verify.")]
    assert targets == ["kubespray_verify.nodes.connection"]
    assert FLOORS[room_of("nodes.connection")] > FLOORS[room_of("verdicts.node")]
