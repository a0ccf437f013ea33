"""scratchgan.save / scratchgan.load: round trips of nested structures, state_dicts and optimizer states;
atomic writes; clear errors for files that are not scratchgan saves."""
import collections
import io
import json
import math
import zipfile

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import scratchgan as sg
from scratchgan import backend as B
from scratchgan import nn, optim


def round_trip(obj, **load_kw):
    buf = io.BytesIO()
    sg.save(obj, buf)
    buf.seek(0)
    return sg.load(buf, **load_kw)


def assert_same(a, b, where="obj"):
    assert type(a) is type(b), f"{where}: {type(a)} != {type(b)}"
    if isinstance(a, sg.Tensor):
        assert a.dtype == b.dtype and a.shape == b.shape and a.requires_grad == b.requires_grad, where
        assert a.device == b.device, where
        np.testing.assert_array_equal(B.to_numpy(a.array), B.to_numpy(b.array), err_msg=where)
    elif isinstance(a, (np.ndarray, np.generic)):
        assert a.dtype == b.dtype and np.shape(a) == np.shape(b), where
        np.testing.assert_array_equal(a, b, err_msg=where)
    elif isinstance(a, dict):
        assert list(a) == list(b), where
        for k in a:
            assert_same(a[k], b[k], f"{where}[{k!r}]")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{where}[{i}]")
    elif isinstance(a, float) and math.isnan(a):
        assert math.isnan(b), where
    else:
        assert a == b, where


def test_nested_structures_round_trip_with_types_and_dtypes():
    obj = {
        "tensors": [sg.randn(2, 3), sg.randn(4, dtype=sg.float64), sg.arange(5), sg.tensor([True, False]),
                    sg.zeros(2, 2, dtype=sg.uint8), sg.tensor(3.5), sg.randn(0, 3)],
        "grad": sg.randn(3, requires_grad=True),
        "param": nn.Parameter(sg.ones(2)),
        "arrays": (np.arange(6, dtype=np.int32).reshape(2, 3), np.eye(2)[:, ::-1], np.float32(1.5), np.int64(7)),
        "numbers": [0, -1, 2 ** 80, 1.0, 0.1, float("inf"), float("-inf"), float("nan"), True, False, None],
        "text": ["", "ünï", b"\x00\xff"],
        7: "int key", (1, "a"): "tuple key", None: "none key", 2.5: "float key",
        "ordered": collections.OrderedDict([("b", 1), ("a", 2)]),
        "meta": (sg.float32, B.device("cpu"), ()),
        "empty": [{}, [], ()],
    }
    back = round_trip(obj)
    assert_same(obj, back)
    assert isinstance(back["param"], nn.Parameter) and back["param"].requires_grad
    assert back["grad"].is_leaf and back["grad"].grad is None


def test_a_tensor_saved_twice_loads_as_one_object():
    t = sg.randn(3)
    back = round_trip({"a": t, "b": [t]})
    assert back["a"] is back["b"][0]


def test_state_dict_into_a_fresh_module():
    sg.manual_seed(1)
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.LeakyReLU(0.2), nn.Linear(8, 2))
    model.train()
    model(sg.randn(16, 4))  # moves the BatchNorm running statistics
    fresh = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.LeakyReLU(0.2), nn.Linear(8, 2))
    fresh.load_state_dict(round_trip(model.state_dict()))
    model.eval()
    fresh.eval()
    x = sg.randn(5, 4)
    np.testing.assert_array_equal(fresh(x).detach().numpy(), model(x).detach().numpy())


def test_training_snapshot_resumes_exactly(tmp_path):
    def build():
        sg.manual_seed(0)
        m = nn.Sequential(nn.Linear(3, 6), nn.Tanh(), nn.Linear(6, 1))
        return m, optim.AdamW(m.parameters(), lr=1e-2, amsgrad=True)

    def train(m, opt, steps):
        for _ in range(steps):
            opt.zero_grad()
            (m(sg.randn(8, 3)) ** 2).mean().backward()
            opt.step()

    m, opt = build()
    sched = optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    train(m, opt, 3)
    sched.step()
    sg.save({"model": m.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(), "step": 3,
             "rng": B.get_rng_state()}, tmp_path / "snap.pt")
    train(m, opt, 4)

    m2, opt2 = build()
    snap = sg.load(tmp_path / "snap.pt")
    m2.load_state_dict(snap["model"])
    opt2.load_state_dict(snap["opt"])
    sched2 = optim.lr_scheduler.StepLR(opt2, step_size=2, gamma=0.5)
    sched2.load_state_dict(snap["sched"])
    B.set_rng_state(snap["rng"])
    assert snap["step"] == 3 and sched2.last_epoch == sched.last_epoch
    train(m2, opt2, 4)
    for (k, a), b in zip(m.named_parameters(), m2.parameters()):
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy(), err_msg=k)


def test_devices_and_map_location(device):
    t = sg.randn(2, 3, device=device)
    back = round_trip({"t": t})
    assert back["t"].device == t.device
    assert round_trip(t, map_location="cpu").device == B.device("cpu")
    assert round_trip(t, map_location={device: "cpu"}).device == B.device("cpu")


def test_path_writes_are_atomic(tmp_path, monkeypatch):
    path = tmp_path / "model.pt"
    sg.save({"v": sg.ones(3)}, path)
    with pytest.raises(TypeError):
        sg.save({"v": object()}, path)

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(np.lib.format, "write_array", boom)
    with pytest.raises(OSError, match="disk full"):
        sg.save({"v": sg.zeros(3)}, path)
    monkeypatch.undo()
    np.testing.assert_array_equal(sg.load(path)["v"].numpy(), np.ones(3, np.float32))
    assert [p.name for p in tmp_path.iterdir()] == ["model.pt"]  # no temporary file left behind


def test_file_objects_including_unseekable_ones(tmp_path):
    with open(tmp_path / "a.pt", "wb") as f:
        sg.save([1, sg.ones(2)], f)

    class Stream(io.RawIOBase):
        def __init__(self, data):
            self.data = io.BytesIO(data)

        def readable(self):
            return True

        def read(self, n=-1):
            return self.data.read(n)

        def seekable(self):
            return False

    back = sg.load(Stream((tmp_path / "a.pt").read_bytes()))
    assert back[0] == 1 and back[1].tolist() == [1.0, 1.0]


def test_unsavable_objects_are_refused_by_name():
    with pytest.raises(TypeError, match=r"whole nn.Module \(Linear\).*state_dict\(\)"):
        sg.save({"G": nn.Linear(2, 2)}, io.BytesIO())
    with pytest.raises(TypeError, match="optimizer.state_dict"):
        sg.save(optim.SGD(nn.Linear(2, 2).parameters(), lr=0.1), io.BytesIO())
    with pytest.raises(TypeError, match=r"obj\['x'\]\[1\] of type builtins.set"):
        sg.save({"x": [1, {2}]}, io.BytesIO())
    with pytest.raises(TypeError, match="dtype <U"):
        sg.save(np.array(["a"]), io.BytesIO())


def _write_bytes(path, data):
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("make, match", [
    (lambda p: _write_bytes(p / "t.pt", b"hello, world"), "not a zip archive"),
    (lambda p: _write_bytes(p / "e.pt", b""), "it is empty"),
    (lambda p: _write_bytes(p / "old.pt", b"\x80\x02}q\x00."), "pre-1.6"),
    (lambda p: (np.savez(p / "a.npz", x=np.zeros(2)), p / "a.npz")[1], "NumPy .npz archive"),
    (lambda p: (zipfile.ZipFile(p / "z.zip", "w").close(), p / "z.zip")[1], "without scratchgan.json"),
])
def test_files_that_are_not_saves_raise_naming_the_file(tmp_path, make, match):
    path = make(tmp_path)
    with pytest.raises(ValueError, match=match) as e:
        sg.load(path)
    assert str(path) in str(e.value)


def test_truncated_foreign_and_missing_files(tmp_path):
    good = tmp_path / "good.pt"
    sg.save({"w": sg.randn(100, 100)}, good)
    cut = _write_bytes(tmp_path / "cut.pt", good.read_bytes()[:5000])
    with pytest.raises(ValueError, match="cut.pt.*(truncated|damaged)"):
        sg.load(cut)
    with zipfile.ZipFile(tmp_path / "wrong.pt", "w") as z:
        z.writestr("scratchgan.json", json.dumps({"format": "something-else", "tree": None}))
    with pytest.raises(ValueError, match="format tag 'something-else'"):
        sg.load(tmp_path / "wrong.pt")
    with pytest.raises(FileNotFoundError, match="no such file"):
        sg.load(tmp_path / "missing.pt")
    with pytest.raises(IsADirectoryError):
        sg.load(tmp_path)
    from scratchgan.gan.checkpoint import save_checkpoint  # noqa: PLC0415

    save_checkpoint(tmp_path / "ck.npz", {"G": nn.Linear(2, 2)}, {}, {"config": {}, "step": 0})
    with pytest.raises(ValueError, match="training checkpoint.*load_checkpoint"):
        sg.load(tmp_path / "ck.npz")


_leaves = st.one_of(st.none(), st.booleans(), st.integers(-2 ** 70, 2 ** 70), st.floats(allow_nan=False),
                    st.text(max_size=5), st.binary(max_size=5),
                    st.sampled_from(["float32", "float64", "int64", "bool", "uint8"]).map(
                        lambda d: np.arange(6).reshape(2, 3).astype(d)))
_trees = st.recursive(_leaves, lambda kids: st.one_of(
    st.lists(kids, max_size=3), st.lists(kids, max_size=3).map(tuple),
    st.dictionaries(st.one_of(st.text(max_size=3), st.integers(0, 9)), kids, max_size=3)), max_leaves=12)


@given(_trees)
def test_any_nested_structure_round_trips(tree):
    assert_same(tree, round_trip(tree))
