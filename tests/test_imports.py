"""The import graph of the package, read from the source with ``ast``: no cycles among module-level
imports, and function-level (lazy) imports close a cycle only where listed below with the reason;
and ``tensor.py`` says where its operators come from."""
import ast
import functools
import importlib
import re
from pathlib import Path

import scratchgan

PACKAGE = Path(scratchgan.__file__).parent

# Lazy imports that point back up the graph, each a deliberate break of a cycle.
ALLOWED_LAZY = {
    ("scratchgan.tensor", "scratchgan.ops"): "Tensor.to and backward's ones need ops, which is built on Tensor",
}


def _name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_name(p): p for p in PACKAGE.rglob("*.py")}


def _targets(module: str, node) -> set:
    """The scratchgan modules an import statement loads, with the packages above each target that
    are not above ``module`` (importing a.b.c runs a/b/__init__.py first, unless already running)."""
    package = module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names]
    elif node.level == 0:
        names = [f"{node.module}.{a.name}" for a in node.names]
    else:
        base = package
        for _ in range(node.level - 1):
            base = base.rpartition(".")[0]
        if node.module:
            base = f"{base}.{node.module}"
        names = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
    found = set()
    for name in names:
        while name not in MODULES and "." in name:  # from pkg.mod import function -> pkg.mod
            name = name.rpartition(".")[0]
        if name not in MODULES:
            continue
        found.add(name)
        parent = name.rpartition(".")[0]
        while parent and not (module == parent or module.startswith(parent + ".")):
            found.add(parent)
            parent = parent.rpartition(".")[0]
    return found - {module}


def import_graph(lazy: bool) -> dict:
    """module -> the modules it imports at module level (lazy=False) or inside functions (lazy=True)."""
    return {module: set(targets) for module, targets in _parsed_graph(lazy).items()}


@functools.lru_cache(maxsize=2)
def _parsed_graph(lazy: bool) -> dict:
    graph = {}
    for module, path in MODULES.items():
        edges = set()

        def visit(node, in_function):
            for child in ast.iter_child_nodes(node):
                inside = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
                if isinstance(child, (ast.Import, ast.ImportFrom)) and inside == lazy:
                    edges.update(_targets(module, child))
                visit(child, inside)

        visit(ast.parse(path.read_text(encoding="utf-8")), False)
        graph[module] = frozenset(edges)
    return graph


def find_cycle(graph: dict):
    """One cycle as a list of modules [a, b, ..., a], or None (iterative depth-first search)."""
    state = {}  # 1: on the current path, 2: finished
    for start in sorted(graph):
        if start in state:
            continue
        path, stack = [], [(start, iter(sorted(graph[start])))]
        state[start] = 1
        path.append(start)
        while stack:
            node, children = stack[-1]
            nxt = next(children, None)
            if nxt is None:
                state[node] = 2
                path.pop()
                stack.pop()
            elif state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            elif nxt not in state:
                state[nxt] = 1
                path.append(nxt)
                stack.append((nxt, iter(sorted(graph.get(nxt, ())))))
    return None


def test_module_level_imports_have_no_cycles():
    cycle = find_cycle(import_graph(lazy=False))
    assert cycle is None, "import cycle at module level: " + " -> ".join(cycle)


def test_lazy_imports_close_no_cycle_except_the_listed_ones():
    graph = import_graph(lazy=False)
    for module, targets in import_graph(lazy=True).items():
        graph[module] |= {t for t in targets if (module, t) not in ALLOWED_LAZY}
    cycle = find_cycle(graph)
    assert cycle is None, ("a function-level import closes a cycle: " + " -> ".join(cycle)
                           + " (break it, or list the edge in ALLOWED_LAZY with the reason)")


def test_the_allowed_lazy_imports_still_exist():
    lazy = import_graph(lazy=True)
    for module, target in ALLOWED_LAZY:
        assert target in lazy[module], f"{module} no longer imports {target} lazily: drop it from ALLOWED_LAZY"


def test_norm_and_conv_share_the_kernels_module_without_importing_each_other_back():
    graph = import_graph(lazy=False)
    lazy = import_graph(lazy=True)
    assert "scratchgan.conv" not in graph["scratchgan.norm"] | lazy["scratchgan.norm"]
    assert "scratchgan.kernels" in graph["scratchgan.norm"] and "scratchgan.kernels" in graph["scratchgan.conv"]
    # the kernels work on raw arrays: below autograd, below every op module
    assert graph["scratchgan.kernels"] <= {"scratchgan.backend"}


def test_the_checker_finds_cycles_and_reads_relative_imports():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None
    graph = import_graph(lazy=False)
    assert {"scratchgan.ops", "scratchgan.tensor"} <= graph["scratchgan.conv"]
    assert "scratchgan.optim.optimizer" in graph["scratchgan.optim.adam"]  # from .optimizer import Optimizer


def test_tensor_docstring_says_where_the_operators_are_attached():
    doc = importlib.import_module("scratchgan.tensor").__doc__  # scratchgan.tensor is also the function
    assert "ops._bind()" in doc and "operators" in doc


def test_the_engine_never_imports_the_training_app():
    """The product (scratchgan.gan) is built on the engine; no engine module imports it, not even lazily.
    ``__main__`` is not part of the engine: ``python -m scratchgan`` is the app's command."""
    module_level, lazy = import_graph(lazy=False), import_graph(lazy=True)
    for module in MODULES:
        if module in ("scratchgan.gan", "scratchgan.__main__") or module.startswith("scratchgan.gan."):
            continue
        into_gan = {t for t in module_level[module] | lazy[module]
                    if t == "scratchgan.gan" or t.startswith("scratchgan.gan.")}
        assert not into_gan, f"engine module {module} imports the training app: {sorted(into_gan)}"


def test_no_two_modules_share_a_file_name():
    """A reader never meets two files of one name on different layers (conv.py and nn/conv.py,
    utils/data.py and a data.py): every module file name but __init__.py occurs once in the package."""
    seen = {}
    for path in PACKAGE.rglob("*.py"):
        if path.name != "__init__.py" and path.name != "__main__.py":
            seen.setdefault(path.name, []).append(str(path.relative_to(PACKAGE)))
    shared = {name: paths for name, paths in seen.items() if len(paths) > 1}
    assert not shared, f"module file names used more than once: {shared}"


def test_the_checker_sees_a_lazy_import_into_the_app():
    graph = import_graph(lazy=True)
    assert "scratchgan.gan.cli" in graph["scratchgan.__main__"] | import_graph(lazy=False)["scratchgan.__main__"]
    assert "scratchgan.gan.train" in graph["scratchgan.gan.cli"]  # cli imports train inside main


def test_the_command_and_the_old_names_still_resolve():
    """pyproject's ``scratchgan`` command names a real function; ``scratchgan.functional`` (F's old
    place) is ``scratchgan.nn.functional``; the engine still offers every F loss."""
    pyproject = (PACKAGE.parent / "pyproject.toml").read_text(encoding="utf-8")  # tomllib needs Python 3.11
    module, function = re.search(r'^scratchgan = "([\w.]+):(\w+)"$', pyproject, re.M).groups()
    assert callable(getattr(importlib.import_module(module), function))
    assert scratchgan.functional is importlib.import_module("scratchgan.nn.functional")
    for name in ("binary_cross_entropy_with_logits", "cross_entropy", "nll_loss", "l1_loss", "mse_loss"):
        assert callable(getattr(scratchgan.nn.functional, name))
