"""The architecture as the imports draw it (docs/architecture.md, "Layers").

import-linter checks the layers (`lint-imports`, pyproject.toml); these tests check what it
does not: that no module imports itself back through others (a cycle that a function-level
import used to hide), and that every part of ``opsn`` sits in a layer, so a new app cannot
escape the contract by being forgotten in it.
"""

import tomllib
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[2]


def graph() -> grimp.ImportGraph:
    return grimp.build_graph("opsn", cache_dir=None, exclude_type_checking_imports=True)


def cycles(imports: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for start in sorted(imports):
        if start in index:
            continue
        work = [(start, iter(sorted(imports[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(imports[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_module_of_opsn_imports_itself_back():
    imported = graph()
    modules = {m for m in imported.modules if ".migrations" not in m}
    imports = {m: imported.find_modules_directly_imported_by(m) & modules for m in modules}
    assert cycles(imports) == []


def test_every_part_of_opsn_sits_in_a_layer():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    [layers] = [c for c in config["tool"]["importlinter"]["contracts"] if c["type"] == "layers"]
    listed = {name.strip() for layer in layers["layers"]
              for name in layer.replace("|", ":").split(":")}
    parts = {".".join(m.split(".")[:2]) for m in graph().modules if m != "opsn"}
    assert parts - listed == set()
    assert listed - parts == set()  # nothing listed that is gone
