"""The package's imports follow the layer order, and no two modules import each other in a cycle.

Layers, lowest first (a module may import its own layer and the ones below):

    0  tfhash.errors, tfhash.atomic, tfhash.version     (helpers every layer uses)
    1  tfhash.data, .layers, .losses, .eval, .index
    2  tfhash.methods
    3  tfhash.training
    4  tfhash.export, .search, .benchmark, .serve, .cli, tfhash.__main__

Every import counts, also those inside functions. The package root
(`tfhash/__init__.py`, which registers the methods for `import tfhash`) is
the facade above them all.
"""

import ast
import os

import pytest

import tfhash

ROOT = os.path.dirname(os.path.abspath(tfhash.__file__))
LAYERS = {
    "errors": 0, "atomic": 0, "version": 0,
    "data": 1, "layers": 1, "losses": 1, "eval": 1, "index": 1,
    "methods": 2,
    "training": 3,
    "export": 4, "search": 4, "benchmark": 4, "serve": 4, "cli": 4, "__main__": 4,
}


def _modules():
    """{dotted module name: path} of every module under tfhash/ except the package root."""
    out = {}
    for folder, _, files in os.walk(ROOT):
        for name in files:
            if name.endswith(".py"):
                rel = os.path.relpath(os.path.join(folder, name), os.path.dirname(ROOT))[:-3].replace(os.sep, ".")
                rel = rel[: -len(".__init__")] if rel.endswith(".__init__") else rel
                if rel != "tfhash":
                    out[rel] = os.path.join(folder, name)
    return out


def _imports(path, module):
    """tfhash modules imported anywhere in the file (absolute and relative), as dotted names."""
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), filename=path)
    package = module if path.endswith("__init__.py") else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return {name for name in found if name == "tfhash" or name.startswith("tfhash.")}


def _layer(module):
    top = module.split(".")[1]
    assert top in LAYERS, f"{module}: tfhash.{top} has no place in the layer order (add it to LAYERS)"
    return LAYERS[top]


MODULES = _modules()


def _graph():
    """module -> the tfhash modules it imports (only names that are modules)."""
    return {m: {i for i in _imports(p, m) if i in MODULES} for m, p in MODULES.items()}


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_only_its_own_layer_and_below(module):
    for imported in _imports(MODULES[module], module):
        assert imported != "tfhash", f"{module} imports the package root (import the module it needs)"
        if imported in MODULES:
            assert _layer(imported) <= _layer(module), \
                f"{module} (layer {_layer(module)}) imports {imported} (layer {_layer(imported)})"


def test_no_import_cycle():
    graph = _graph()
    state = {}  # module -> "open" while on the DFS path, "done" after

    def visit(module, path):
        state[module] = "open"
        for nxt in sorted(graph[module]):
            if state.get(nxt) == "open":
                cycle = path[path.index(nxt):] + [nxt]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt, path + [nxt])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])


def test_the_checker_sees_a_violation_and_a_cycle(tmp_path):
    """The checks above can fail: an upward import and a two-module cycle, hand-made."""
    low = tmp_path / "low.py"
    low.write_text("def f():\n    from tfhash.training.run import train\n")
    imported = _imports(str(low), "tfhash.data.low")
    assert "tfhash.training.run" in imported and _layer("tfhash.training.run") > _layer("tfhash.data.low")
    rel = tmp_path / "rel.py"
    rel.write_text("from ..methods import base\n")
    assert "tfhash.methods.base" in _imports(str(rel), "tfhash.data.rel")


def test_the_settings_table_in_docs_is_current():
    """docs/settings.md is what `python scripts/settings_table.py` writes from the config dataclasses."""
    import sys

    sys.path.insert(0, os.path.join(os.path.dirname(ROOT), "scripts"))
    from settings_table import PATH, shipped_configs

    from tfhash.methods.config import settings_markdown

    with open(PATH, encoding="utf-8") as f:
        assert f.read() == settings_markdown(shipped_configs()), "rerun: python scripts/settings_table.py"
