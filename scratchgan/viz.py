"""See the graph behind a tensor: ``graph_text`` (an indented tree) and ``draw_graph`` (a PNG).

Every Tensor made by an op remembers its op name (``_op``) and its parents (``_parents``): the
graph that ``backward()`` walks in reverse.  These two functions walk it forwards from the output
and show each node's op, shape and dtype, and what each leaf is: a parameter (an ``nn.Parameter``
or a tensor named in ``params``; named when a module or a ``named_parameters`` dict is given), an input that requires grad, or a constant (data,
labels, ``detach()``-ed values).  A graph that ``backward()`` has already freed shows as such.

    loss = bce_with_logits(D(G(z)), 1.0)
    print(graph_text(loss, {"G": G, "D": D}))
    draw_graph(loss, "graph.png", {"G": G, "D": D})

``params`` may be a module, a dict {name: parameter} (``dict(m.named_parameters())``), a dict
{prefix: module}, or a list of (name, parameter) pairs.  Drawing uses matplotlib's Agg canvas
directly (no pyplot, no display, no new dependency).
"""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from .nn.module import Parameter
from .tensor import Tensor, _freed, _route

__all__ = ["graph_text", "draw_graph"]


# ---- the graph as data -------------------------------------------------------------------------------
def _param_names(params) -> dict:
    """id(parameter) -> its name, from a module, a dict, or (name, tensor) pairs."""
    if params is None:
        return {}
    if hasattr(params, "named_parameters"):
        pairs = params.named_parameters()
    elif isinstance(params, Mapping):
        pairs = params.items()
    else:
        pairs = params
    names = {}
    for name, v in pairs:
        if hasattr(v, "named_parameters"):  # {"G": G, "D": D}: prefixed names
            names.update({id(p): f"{name}.{sub}" for sub, p in v.named_parameters()})
        elif isinstance(v, Tensor):
            names[id(v)] = str(name)
        else:
            raise TypeError(f"graph_text/draw_graph: params must map names to parameters or modules, "
                            f"got {type(v).__name__} for {name!r}")
    return names


def _inputs(node: Tensor) -> tuple:
    """The node's parents as its backward sees them: a parent rewritten in place since (``x.mul_(2)``)
    is shown as the snapshot of it that this node read (see ``tensor.inplace``)."""
    return tuple(p if p._snaps is None else _route(p, node._seq) for p in node._parents)


def _walk(root: Tensor):
    """Every node reachable from root (each once, root first) and the number of consumers of each."""
    nodes, consumers, stack = [], {}, [root]
    seen = {id(root)}
    while stack:
        node = stack.pop()
        nodes.append(node)
        for p in _inputs(node):
            consumers[id(p)] = consumers.get(id(p), 0) + 1
            if id(p) not in seen:
                seen.add(id(p))
                stack.append(p)
    return nodes, consumers


def _kind(t: Tensor, names: dict) -> str:
    """'op', 'freed', 'parameter', 'input' (a leaf that requires grad) or 'constant'."""
    if t._backward is _freed:
        return "freed"
    if t._parents:
        return "op"
    if id(t) in names or isinstance(t, Parameter):
        return "parameter"
    return "input" if t.requires_grad else "constant"


def _describe(t: Tensor, names: dict) -> tuple[str, str]:
    """(what the node is, its shape and dtype)."""
    kind = _kind(t, names)
    what = {"op": t._op or "op", "freed": f"{t._op or 'op'} (graph freed by backward())",
            "parameter": f"parameter {names[id(t)]}" if id(t) in names else "parameter", "input": "input (requires grad)",
            "constant": "constant"}[kind]
    return what, f"{tuple(t.shape)} {t.dtype}"


# ---- text ----------------------------------------------------------------------------------------------
def graph_text(t: Tensor, params=None) -> str:
    """The graph behind ``t`` as an indented tree, output first, each node with its parents below it.

    A node with several consumers is numbered ``[k]`` where it first appears and later shown as
    ``[k] ... (see above)``, so a shared subgraph is printed once.
    """
    if not isinstance(t, Tensor):
        raise TypeError(f"graph_text: expected a Tensor, got {type(t).__name__}")
    names = _param_names(params)
    _, consumers = _walk(t)
    numbers: dict[int, int] = {}
    lines = []
    stack = [(t, "", "")]  # node, the prefix of its own line, the prefix of its parents' lines
    while stack:
        node, head, tail = stack.pop()
        what, shape = _describe(node, names)
        tag = ""
        if consumers.get(id(node), 0) > 1:
            if id(node) in numbers:
                lines.append(f"{head}[{numbers[id(node)]}] {what} (see above)")
                continue
            numbers[id(node)] = len(numbers) + 1
            tag = f"[{numbers[id(node)]}] "
        lines.append(f"{head}{tag}{what}  {shape}")
        parents = _inputs(node)
        for i in reversed(range(len(parents))):  # pushed in reverse: popped in order
            last = i == len(parents) - 1
            stack.append((parents[i], tail + ("└─ " if last else "├─ "), tail + ("   " if last else "│  ")))
    return "\n".join(lines)


# ---- picture -------------------------------------------------------------------------------------------
COLORS = {"op": "#cfe2f3", "freed": "#eeeeee", "parameter": "#f9cb9c", "input": "#fff2cc", "constant": "#d9d9d9"}


def _layout(root: Tensor, nodes):
    """Level and place of each node.  Level: counted from the output (0) towards the inputs, one more
    than the node's farthest consumer, so every edge runs from a higher level to a lower one and a
    leaf sits just before the op that first needs it.  Place (in box steps): each node wants to sit
    above its consumers: an op's inputs that are ops themselves straight above it (the main chain
    stays a vertical line), its leaves (weights, biases, data) fanned out to the right in argument
    order.  On a level the wishes are sorted and pushed apart to one step, then the level is shifted
    back onto the mean of its wishes.  Returns (level, place, number of levels)."""
    offsets = {}  # id -> [offset above each consumer]
    for n in nodes:
        parents = _inputs(n)
        ops = [p for p in parents if p._parents]
        k_op = k_leaf = 0
        for p in parents:
            if p._parents:
                off, k_op = k_op - (len(ops) - 1) / 2, k_op + 1
            else:  # leaves after the ops, or centred when there are no ops
                off = ((len(ops) - 1) / 2 + 1 + k_leaf if ops else k_leaf - (len(parents) - 1) / 2)
                k_leaf += 1
            offsets.setdefault(id(p), []).append((id(n), off))
    # longest path from the root, visiting a node only after all of its consumers (Kahn's order)
    level, waiting, ready = {id(root): 0}, {id(n): len(offsets.get(id(n), ())) for n in nodes}, [root]
    while ready:
        node = ready.pop()
        for p in _inputs(node):
            level[id(p)] = max(level.get(id(p), 0), level[id(node)] + 1)
            waiting[id(p)] -= 1
            if waiting[id(p)] == 0:
                ready.append(p)
    levels = [[] for _ in range(max(level.values()) + 1)]
    for n in nodes:
        levels[level[id(n)]].append(id(n))
    place = {id(root): 0.0}
    for ids in levels[1:]:
        wish = {i: sum(place[c] + off for c, off in offsets[i]) / len(offsets[i]) for i in ids}
        ids.sort(key=lambda i: wish[i])
        for a, b in zip(ids, ids[1:]):
            place.setdefault(a, wish[a])
            place[b] = max(wish[b], place[a] + 1.0)
        place.setdefault(ids[0], wish[ids[0]])
        shift = sum(wish[i] - place[i] for i in ids) / len(ids)
        place.update({i: place[i] + shift for i in ids})
    return level, place, len(levels)


BOX_W, BOX_H = 1.9, 0.55  # inches: every node is a box of the same size
STEP_X, STEP_Y = 2.15, 0.95  # inches between box centres, across a level and from level to level


def draw_graph(t: Tensor, path, params=None, title: str | None = None) -> Path:
    """Draw the graph behind ``t`` into a PNG at ``path`` and return the path.

    Data flows down the page: inputs and parameters at the top, the output (framed in black) at the
    bottom, one level per step of the longest path.  Each box shows the node's op (or the
    parameter's name) over its shape and dtype; colours tell ops, parameters, inputs and constants
    apart; an arrow goes from each parent to each op that uses it.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: PLC0415 - only when drawing
    from matplotlib.figure import Figure  # noqa: PLC0415
    from matplotlib.patches import FancyBboxPatch, Patch  # noqa: PLC0415

    if not isinstance(t, Tensor):
        raise TypeError(f"draw_graph: expected a Tensor, got {type(t).__name__}")
    names = _param_names(params)
    nodes, _ = _walk(t)
    by_id = {id(n): n for n in nodes}
    level, place, n_levels = _layout(t, nodes)
    pos = {i: (place[i] * STEP_X, lv * STEP_Y) for i, lv in level.items()}  # level 0, the output, at the bottom
    left, right = min(x for x, _ in pos.values()) - BOX_W / 2 - 0.2, max(x for x, _ in pos.values()) + BOX_W / 2 + 0.2
    # one data unit = one inch: the boxes keep their size whatever the graph's shape
    width, height = max(4.0, right - left), n_levels * STEP_Y + (0.9 if title else 0.5)
    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_axis_off()
    middle = (left + right) / 2
    ax.set_xlim(middle - width / 2, middle + width / 2)
    ax.set_ylim(-0.45, height - 0.45)
    for i, (x0, y0) in pos.items():  # edges under the boxes: from the bottom of a parent to the top of its op
        for p in _inputs(by_id[i]):
            px, py = pos[id(p)]
            ax.annotate("", xy=(x0, y0 + BOX_H / 2), xytext=(px, py - BOX_H / 2),
                        arrowprops=dict(arrowstyle="-|>", color="#666666", lw=0.8, shrinkA=0, shrinkB=0))
    for i, (x0, y0) in pos.items():
        node = by_id[i]
        what, shape = _describe(node, names)
        root = i == id(t)
        ax.add_patch(FancyBboxPatch((x0 - BOX_W / 2, y0 - BOX_H / 2), BOX_W, BOX_H, boxstyle="round,pad=0,rounding_size=0.06",
                                    fc=COLORS[_kind(node, names)], ec="#000000" if root else "#888888",
                                    lw=1.5 if root else 0.6))
        longest = max(len(what), len(shape))
        ax.text(x0, y0, f"{what}\n{shape}", ha="center", va="center", family="monospace",
                fontsize=min(8.0, 8.0 * 26 / longest))  # long names shrink to fit the box
    kinds = sorted({_kind(by_id[i], names) for i in pos}, key=list(COLORS).index)
    fig.legend(handles=[Patch(fc=COLORS[k], ec="#888888", label=k) for k in kinds], loc="lower left",
               fontsize=7, frameon=False, ncol=1)
    if title:
        fig.suptitle(title, fontsize=10, y=1 - 0.25 / height)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return path
