"""scratchgan.utils.data against torch.utils.data: the same datasets give batches of the same structure,
shapes, dtypes and (unshuffled) values.  Skipped unless PyTorch is importable."""
import collections

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import scratchgan as sg  # noqa: E402
import scratchgan.utils.data as sdata  # noqa: E402

tdata = torch.utils.data
DTYPES = {torch.float32: np.float32, torch.float64: np.float64, torch.int64: np.int64, torch.bool: np.bool_,
          torch.uint8: np.uint8, torch.int32: np.int32}
Pair = collections.namedtuple("Pair", "a b")


def assert_same_batch(s, t, where="batch"):
    if isinstance(t, torch.Tensor):
        assert isinstance(s, sg.Tensor), f"{where}: {type(s)} is not a Tensor"
        assert s.shape == tuple(t.shape), f"{where}: shape {s.shape} != {tuple(t.shape)}"
        assert s.dtype == DTYPES[t.dtype], f"{where}: dtype {s.dtype} != {t.dtype}"
        np.testing.assert_array_equal(s.array, t.numpy(), err_msg=where)
    elif isinstance(t, dict):
        assert type(s) is type(t) and list(s) == list(t), where
        for k in t:
            assert_same_batch(s[k], t[k], f"{where}[{k!r}]")
    elif isinstance(t, (list, tuple)):
        assert type(s) is type(t) and len(s) == len(t), f"{where}: {type(s)} != {type(t)}"
        for i, (a, b) in enumerate(zip(s, t)):
            assert_same_batch(a, b, f"{where}[{i}]")
    else:
        assert s == t, where


def make_items(i):
    return {"img": np.full((1, 2, 2), i, dtype=np.float32), "label": i % 3, "w": 0.5 * i, "flag": i % 2 == 0,
            "name": f"item{i}", "u8": np.uint8(i), "pair": Pair(np.arange(3, dtype=np.int32) + i, float(i)),
            "seq": [i, (np.float64(i), i + 1)]}


def dataset_classes(data):
    class Items(data.Dataset):
        def __len__(self):
            return 7

        def __getitem__(self, i):
            return make_items(i)

    return Items


@pytest.mark.parametrize("bs, drop_last", [(3, False), (3, True), (7, False), (1, False)])
def test_general_dataset_batches_match_torch(bs, drop_last):
    tl = tdata.DataLoader(dataset_classes(tdata)(), batch_size=bs, drop_last=drop_last)
    sl = sdata.DataLoader(dataset_classes(sdata)(), batch_size=bs, drop_last=drop_last)
    assert len(sl) == len(tl)
    tb, sb = list(tl), list(sl)
    assert len(sb) == len(tb)
    for i, (s, t) in enumerate(zip(sb, tb)):
        assert_same_batch(s, t, f"batch {i}")


@pytest.mark.parametrize("bs, drop_last", [(4, False), (4, True), (10, False)])
def test_tensor_dataset_batches_match_torch(bs, drop_last):
    rng = np.random.default_rng(0)
    x, y, m = rng.standard_normal((10, 3, 4)).astype(np.float32), rng.integers(0, 9, 10), rng.random(10) < 0.5
    tl = tdata.DataLoader(tdata.TensorDataset(torch.from_numpy(x), torch.from_numpy(y), torch.from_numpy(m)),
                          batch_size=bs, drop_last=drop_last)
    sl = sdata.DataLoader(sdata.TensorDataset(sg.from_numpy(x), sg.from_numpy(y), sg.from_numpy(m)),
                          batch_size=bs, drop_last=drop_last)
    assert len(sl) == len(tl)
    for i, (s, t) in enumerate(zip(list(sl), list(tl), strict=True)):
        assert_same_batch(s, t, f"batch {i}")


def test_shuffled_batches_have_torchs_shapes_and_cover_the_data():
    x = np.arange(30, dtype=np.float64).reshape(15, 2)
    tl = tdata.DataLoader(tdata.TensorDataset(torch.from_numpy(x)), batch_size=4, shuffle=True)
    sl = sdata.DataLoader(sdata.TensorDataset(sg.from_numpy(x)), batch_size=4, shuffle=True,
                          generator=sg.Generator().manual_seed(0))
    tb, sb = list(tl), list(sl)
    assert [tuple(b[0].shape) for b in tb] == [b[0].shape for b in sb]
    assert all(b[0].dtype == np.float64 for b in sb)
    np.testing.assert_array_equal(np.sort(np.concatenate([b[0].array for b in sb]), axis=0), x)


def test_default_collate_and_convert_match_torch():
    samples = [make_items(i) for i in range(4)]
    assert_same_batch(sdata.default_collate(samples), tdata.default_collate(samples))
    for i in range(2):
        assert_same_batch(sdata.default_convert(make_items(i)), tdata.default_convert(make_items(i)))
    sl = list(sdata.DataLoader(dataset_classes(sdata)(), batch_size=None))
    tl = list(tdata.DataLoader(dataset_classes(tdata)(), batch_size=None))
    for s, t in zip(sl, tl, strict=True):
        assert_same_batch(s, t)


def test_random_split_lengths_match_torch():
    for lengths in ([0.5, 0.3, 0.2], [0.1, 0.9], [1 / 3] * 3, [3, 8]):
        t = [len(p) for p in tdata.random_split(range(11), lengths)]
        s = [len(p) for p in sdata.random_split(range(11), lengths)]
        assert s == t, lengths


# ---- save / load next to torch.save / torch.load ----------------------------------------------------------
def test_a_torch_file_is_named_as_such(tmp_path):
    torch.save({"w": torch.ones(2)}, tmp_path / "t.pt")
    with pytest.raises(ValueError, match="t.pt is not a file saved by scratchgan.save: it is a PyTorch file"):
        sg.load(tmp_path / "t.pt")


def test_saved_state_dict_loads_into_torch_and_back(tmp_path):
    """A scratchgan save of a state_dict carries what torch needs: same keys, shapes, dtypes, values."""
    sg.manual_seed(0)
    smodel = sg.nn.Sequential(sg.nn.Linear(3, 4), sg.nn.BatchNorm1d(4), sg.nn.Linear(4, 1))
    tmodel = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.Linear(4, 1))
    sg.save(smodel.state_dict(), tmp_path / "m.pt")
    loaded = sg.load(tmp_path / "m.pt")
    assert list(loaded) == list(tmodel.state_dict())
    tmodel.load_state_dict({k: torch.from_numpy(np.array(v.array if isinstance(v, sg.Tensor) else v))
                            for k, v in loaded.items()})
    x = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    smodel.eval()
    tmodel.eval()
    np.testing.assert_allclose(smodel(sg.from_numpy(x)).detach().numpy(),
                               tmodel(torch.from_numpy(x)).detach().numpy(), rtol=1e-5, atol=1e-6)


# ---- torchvision's make_grid and save_image (its utils.py loaded alone: the package's C ops need not match torch) ----
def _torchvision_utils():
    import importlib.util
    import sys

    for root in sys.path:
        path = f"{root}/torchvision/utils.py"
        try:
            spec = importlib.util.spec_from_file_location("torchvision_utils_alone", path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            return module
        except (FileNotFoundError, ImportError):
            continue
    pytest.skip("torchvision is not installed beside torch")


@pytest.mark.parametrize("shape, kw", [
    ((25, 1, 6, 5), dict(nrow=5, normalize=True)), ((7, 3, 4, 4), dict(nrow=3, padding=1, pad_value=0.5)),
    ((6, 3, 4, 4), dict(normalize=True, value_range=(-1, 1))), ((5, 3, 3, 3), dict(normalize=True, scale_each=True)),
    ((1, 1, 4, 4), dict()), ((3, 4, 4), dict()), ((1, 4, 4), dict()), ((4, 4), dict()), ((2, 2, 3, 3), dict(nrow=1)),
])
def test_make_grid_and_save_image_match_torchvision(shape, kw, tmp_path):
    tv = _torchvision_utils()
    from scratchgan.utils import make_grid, save_image

    x = np.random.default_rng(20).standard_normal(shape).astype(np.float32)
    want = tv.make_grid(torch.tensor(x), **kw).numpy()
    got = make_grid(sg.tensor(x), **kw).numpy()
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
    if len(shape) == 4 and shape[1] in (1, 3):
        from PIL import Image

        tv.save_image(torch.tensor(x), tmp_path / "torch.png", **kw)
        save_image(sg.tensor(x), tmp_path / "scratchgan.png", **kw)
        a, b = Image.open(tmp_path / "torch.png"), Image.open(tmp_path / "scratchgan.png")
        assert a.mode == b.mode and np.array_equal(np.asarray(a), np.asarray(b))
