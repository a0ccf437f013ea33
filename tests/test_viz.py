"""graph_text and draw_graph: what the tree says about ops, shapes, dtypes and leaves (parameters by
name, inputs, constants, freed graphs), shared nodes printed once, deep graphs, the PNG and its
layout, and the demo that draws one G and one D loss."""
import numpy as np
import pytest
from matplotlib.image import imread

import scratchgan as sg
from scratchgan import nn
from scratchgan.viz import _layout, _walk, draw_graph, graph_text
from tests.test_cli import _demo


def small_graph():
    lin = nn.Linear(3, 2)
    x = sg.randn(4, 3)
    return lin, (lin(x).relu() * 2.0).sum()


def test_graph_text_shows_ops_shapes_dtypes_and_named_parameters():
    lin, loss = small_graph()
    # each node's parents one level deeper, in argument order, the last behind └─
    assert graph_text(loss, lin).splitlines() == [
        "sum  () float32",
        "└─ mul  (4, 2) float32",
        "   ├─ relu  (4, 2) float32",
        "   │  └─ linear  (4, 2) float32",
        "   │     ├─ constant  (4, 3) float32",
        "   │     ├─ parameter weight  (2, 3) float32",
        "   │     └─ parameter bias  (2,) float32",
        "   └─ constant  () float32",
    ]


@pytest.mark.parametrize("how", ["module", "dict", "pairs", "prefixed modules"])
def test_parameter_names_from_a_module_a_dict_pairs_or_prefixed_modules(how):
    lin, loss = small_graph()
    params = {"module": lin, "dict": dict(lin.named_parameters()), "pairs": list(lin.named_parameters()),
              "prefixed modules": {"D": lin}}[how]
    prefix = "D." if how == "prefixed modules" else ""
    assert f"parameter {prefix}weight" in graph_text(loss, params)
    assert "├─ parameter  (2, 3) float32" in graph_text(loss)  # without names: still a parameter


def test_unnamed_leaves_are_inputs_or_constants_and_bad_params_are_refused():
    x = sg.tensor([1.0, 2.0], requires_grad=True)
    text = graph_text(x * sg.tensor([3.0, 4.0]))
    assert "input (requires grad)" in text and "constant  (2,) float32" in text
    with pytest.raises(TypeError, match="params must map names"):
        graph_text(x * 2.0, {"w": 3})
    with pytest.raises(TypeError, match="expected a Tensor"):
        graph_text(np.ones(2))


def test_a_shared_node_is_printed_once_and_numbered():
    x = sg.tensor([1.0, 2.0], requires_grad=True)
    h = x.exp()
    text = graph_text(h * h + h)
    assert text.count("exp  (2,) float32") == 1
    assert text.count("[1] exp (see above)") == 2
    assert "[1] exp  (2,) float32" in text


def test_a_freed_graph_says_so():
    x = sg.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()
    assert graph_text(y) == "sum (graph freed by backward())  () float32"


def test_deep_graphs_need_no_recursion():
    x = sg.tensor([1.0], requires_grad=True)
    y = x
    for _ in range(1500):
        y = y + 1.0
    lines = graph_text(y).splitlines()
    assert len(lines) == 1 + 2 * 1500 and lines[1500].endswith("├─ input (requires grad)  (1,) float32")


def test_layout_levels_point_one_way_and_boxes_do_not_overlap():
    lin, loss = small_graph()
    nodes, _ = _walk(loss)
    level, place, n_levels = _layout(loss, nodes)
    assert level[id(loss)] == 0 and n_levels == max(level.values()) + 1
    for n in nodes:
        for p in n._parents:
            assert level[id(p)] > level[id(n)]
    for lv in range(n_levels):
        xs = sorted(place[i] for i, v in level.items() if v == lv)
        assert all(b - a >= 1.0 - 1e-9 for a, b in zip(xs, xs[1:]))


def test_draw_graph_writes_a_png_that_grows_with_the_graph(tmp_path):
    lin, loss = small_graph()
    small = imread(draw_graph(loss, tmp_path / "small.png", lin, title="a loss"))
    deeper = loss
    for _ in range(5):
        deeper = deeper.tanh()
    big = imread(draw_graph(deeper, tmp_path / "sub" / "big.png"))
    assert small.ndim == 3 and small.shape[0] > 100 and small.shape[1] > 100
    assert big.shape[0] > small.shape[0]  # five more levels, a taller picture
    assert (small[..., :3] < 0.99).any()  # something was drawn


def test_demo_prints_and_draws_one_d_loss_and_one_g_loss(tmp_path, capsys):
    drawn = _demo("graph").main(["--out", str(tmp_path)])
    text_d, png_d = drawn["loss_D"]
    text_g, png_g = drawn["loss_G"]
    assert png_d.is_file() and png_g.is_file()
    # D's loss reaches D's parameters only (the fake batch is detached); G's runs through D into G
    assert "parameter D.0.weight" in text_d and "parameter G." not in text_d
    assert "parameter G.0.weight" in text_g and "parameter D.2.bias" in text_g
    assert "bce_with_logits" in capsys.readouterr().out


def test_a_tensor_changed_in_place_shows_the_value_each_op_read():
    a = sg.tensor([1.0, 2.0], requires_grad=True)
    x = a * 1.0
    y = x * 2.0  # reads x before the in-place multiplication
    x.mul_(3.0)
    text = graph_text(y + x)
    # y's branch reads the old x (a * 1, numbered [1]); x itself is now 3 times that old x
    assert text.splitlines() == [
        "add  (2,) float32",
        "├─ mul  (2,) float32",
        "│  ├─ [1] mul  (2,) float32",
        "│  │  ├─ input (requires grad)  (2,) float32",
        "│  │  └─ constant  () float32",
        "│  └─ constant  () float32",
        "└─ mul  (2,) float32",
        "   ├─ [1] mul (see above)",
        "   └─ constant  () float32",
    ]
