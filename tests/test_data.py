import dataclasses
import gzip
import hashlib
import io
import json
import struct
import urllib.error
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

from scratchgan.gan import datasets as data
from scratchgan.gan.datasets import (
    IMAGE_DATASETS,
    BatchIterator,
    DatasetNotFoundError,
    IDXError,
    load_dataset,
    load_idx_images,
    read_idx,
    resolve_dataset_dir,
    to_unit_range,
    toy_dataset,
    write_idx,
)

MNIST_5K = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist-5k"
IDX_DTYPES = [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64]

# ----------------------------------------------------------------------------- toy distributions


def test_toy_registry_and_shapes():
    assert set(data.TOY_DATASETS) == {"gauss1d", "ring8", "grid25"}
    g, r, q = toy_dataset("gauss1d"), toy_dataset("ring8"), toy_dataset("grid25")
    np.testing.assert_array_equal(g.centers, [[10.0]])
    assert g.std == 2.0 and r.std == 0.01 and q.std == 0.05
    np.testing.assert_allclose(np.linalg.norm(r.centers, axis=1), 1.0)
    np.testing.assert_allclose(r.centers[2], [0.0, 1.0], atol=1e-12)  # angle 2*pi*2/8 = pi/2
    assert q.centers.shape == (25, 2)
    assert {tuple(c) for c in q.centers} == {(a, b) for a in (-4, -2, 0, 2, 4) for b in (-4, -2, 0, 2, 4)}
    for dist, d in ((g, 1), (r, 2), (q, 2)):
        x = dist.sample(100, np.random.default_rng(0))
        assert x.shape == (100, d) and x.dtype == np.float32
    with pytest.raises(ValueError, match="unknown toy"):
        toy_dataset("ring9")


def test_toy_sampling_is_seeded_and_matches_moments():
    g = toy_dataset("gauss1d")
    np.testing.assert_array_equal(g.sample(50, 3), g.sample(50, np.random.default_rng(3)))
    x = g.sample(20000, 1)
    assert abs(x.mean() - 10) < 0.1 and abs(x.std() - 2) < 0.1


# ----------------------------------------------------------------------------- IDX


def _arrays():
    return st.sampled_from(IDX_DTYPES).flatmap(
        lambda dt: hnp.arrays(dt, hnp.array_shapes(min_dims=1, max_dims=4, min_side=0, max_side=5))
    )


@settings(max_examples=60, deadline=None)
@given(arr=_arrays(), gz=st.booleans())
def test_idx_roundtrip(tmp_path_factory, arr, gz):
    path = tmp_path_factory.mktemp("idx") / ("a.idx.gz" if gz else "a.idx")
    write_idx(path, arr)
    back = read_idx(path)
    assert back.dtype == arr.dtype.newbyteorder("=") and back.shape == arr.shape
    assert back.tobytes() == arr.tobytes()  # bitwise, so NaN payloads and -0.0 count too
    assert back.flags.writeable


def test_idx_header_layout(tmp_path):
    write_idx(tmp_path / "x", np.arange(6, dtype=">i2").reshape(2, 3))
    raw = (tmp_path / "x").read_bytes()
    assert raw[:4] == b"\x00\x00\x0b\x02" and struct.unpack(">2I", raw[4:12]) == (2, 3)
    assert raw[12:] == np.arange(6, dtype=">i2").tobytes()
    with pytest.raises(ValueError, match="cannot store dtype"):
        write_idx(tmp_path / "y", np.zeros(3, dtype=np.int64))


def _valid_idx(draw_shape=(3, 4, 2), dtype=np.uint8):
    buf = io.BytesIO()
    arr = np.arange(np.prod(draw_shape)).astype(dtype).reshape(draw_shape)
    code = {np.uint8: 8, np.float32: 0x0D}[dtype]
    buf.write(struct.pack(f">BBBB{len(draw_shape)}I", 0, 0, code, len(draw_shape), *draw_shape))
    buf.write(arr.astype(np.dtype(dtype).newbyteorder(">")).tobytes())
    return buf.getvalue()


@settings(max_examples=40, deadline=None)
@given(cut=st.integers(0, len(_valid_idx()) - 1), gz=st.booleans())
def test_truncated_idx_always_raises(tmp_path_factory, cut, gz):
    full = _valid_idx()
    blob = gzip.compress(full, mtime=0) if gz else full
    cut = cut * len(blob) // len(full)  # spread over the compressed length too
    path = tmp_path_factory.mktemp("t") / ("f.gz" if gz else "f")
    path.write_bytes(blob[:cut])
    with pytest.raises(IDXError, match=str(path.name)):
        read_idx(path)


@settings(max_examples=30, deadline=None)
@given(extra=st.binary(min_size=1, max_size=20))
def test_trailing_bytes_raise(tmp_path_factory, extra):
    path = tmp_path_factory.mktemp("t") / "f"
    path.write_bytes(_valid_idx() + extra)
    with pytest.raises(IDXError, match=f"{len(extra)} trailing bytes"):
        read_idx(path)


@settings(max_examples=40, deadline=None)
@given(dim=st.integers(0, 2), grow=st.integers(1, 1000))
def test_corrupt_dimension_raises_with_byte_counts(tmp_path_factory, dim, grow):
    raw = bytearray(_valid_idx())
    offset = 4 + 4 * dim
    (size,) = struct.unpack(">I", raw[offset:offset + 4])
    raw[offset:offset + 4] = struct.pack(">I", size + grow)
    path = tmp_path_factory.mktemp("t") / "f"
    path.write_bytes(bytes(raw))
    with pytest.raises(IDXError, match=r"needs \d+ data bytes .* found 24 \(truncated\)"):
        read_idx(path)


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda r: b"\x01" + r[1:], "bad magic"),
        (lambda r: r[:2] + b"\x07" + r[3:], "unknown IDX type code 0x07"),
        (lambda r: r[:3] + b"\x00" + r[4:], "0 dimensions"),
        (lambda r: r[:3] + b"\x09", "header needs 40 bytes"),
        (lambda r: b"\x00\x00", "too short"),
    ],
)
def test_corrupt_header_raises(tmp_path, mutate, message):
    path = tmp_path / "f"
    path.write_bytes(mutate(_valid_idx()))
    with pytest.raises(IDXError, match=message):
        read_idx(path)


def test_corrupt_gzip_raises(tmp_path):
    blob = bytearray(gzip.compress(_valid_idx(dtype=np.float32), mtime=0))
    blob[-8] ^= 0xFF  # CRC32 of the payload
    (tmp_path / "crc.gz").write_bytes(bytes(blob))
    with pytest.raises(IDXError, match="corrupt gzip"):
        read_idx(tmp_path / "crc.gz")
    (tmp_path / "plain.gz").write_bytes(_valid_idx())
    with pytest.raises(IDXError, match="gzip magic"):
        read_idx(tmp_path / "plain.gz")
    (tmp_path / "tail.gz").write_bytes(gzip.compress(_valid_idx()) + b"junk")
    with pytest.raises(IDXError, match="corrupt gzip"):
        read_idx(tmp_path / "tail.gz")


def _write_set(folder, n=12, h=5, w=4, prefix="train", gz=True, labels=True, seed=0):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, h, w), dtype=np.uint8)
    ext = ".gz" if gz else ""
    write_idx(folder / f"{prefix}-images-idx3-ubyte{ext}", images)
    lab = rng.integers(0, 10, size=n).astype(np.uint8)
    if labels:
        write_idx(folder / f"{prefix}-labels-idx1-ubyte{ext}", lab)
    return images, lab


@pytest.mark.parametrize("prefix, split", [("train", "train"), ("t10k", "test"), ("test", "test")])
@pytest.mark.parametrize("gz", [True, False])
def test_load_idx_images_names_and_gz(tmp_path, prefix, split, gz):
    images, labels = _write_set(tmp_path, prefix=prefix, gz=gz)
    got_images, got_labels = load_idx_images(tmp_path, split)
    np.testing.assert_array_equal(got_images, images)
    np.testing.assert_array_equal(got_labels, labels)


def test_load_idx_images_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="train-images"):
        load_idx_images(tmp_path)
    images, _ = _write_set(tmp_path, labels=False)
    assert load_idx_images(tmp_path)[1] is None
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.zeros(5, np.uint8))
    with pytest.raises(IDXError, match=r"\(5,\) labels for 12 images"):
        load_idx_images(tmp_path)
    write_idx(tmp_path / "t10k-images-idx3-ubyte", np.zeros((2, 3), np.uint8))
    with pytest.raises(IDXError, match="expected uint8 images"):
        load_idx_images(tmp_path, "test")
    with pytest.raises(ValueError, match="split"):
        load_idx_images(tmp_path, "valid")


def test_to_unit_range():
    x = to_unit_range(np.array([0, 127, 255], dtype=np.uint8))
    assert x.dtype == np.float32
    np.testing.assert_allclose(x, [-1.0, 127 / 127.5 - 1, 1.0], rtol=0, atol=1e-7)


# ----------------------------------------------------------------------------- resolution and download


@pytest.fixture
def env(tmp_path, monkeypatch):
    """Isolated cache, home and system folder; `fake` registers small test files as the 'mnist' set."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("SCRATCHGAN_CACHE", raising=False)
    system = tmp_path / "system"
    fm = IMAGE_DATASETS["fashion-mnist"]
    monkeypatch.setitem(IMAGE_DATASETS, "fashion-mnist", dataclasses.replace(fm, system_dirs=(system,)))
    served = {}

    def fake(name="mnist", mirrors=("https://a.test/d/", "https://b.test/d/")):
        src = tmp_path / "src"
        _write_set(src, n=7, prefix="train")
        _write_set(src, n=3, prefix="t10k", seed=1)
        sha = {}
        for f in sorted(src.iterdir()):
            sha[f.name] = hashlib.sha256(f.read_bytes()).hexdigest()
            served[mirrors[-1] + f.name] = f.read_bytes()
        old = IMAGE_DATASETS[name]
        monkeypatch.setitem(IMAGE_DATASETS, name, dataclasses.replace(old, mirrors=mirrors, sha256=sha))
        return served

    def urlopen(url, timeout=None):
        if url not in served:
            raise urllib.error.URLError("no route to host")
        return io.BytesIO(served[url])

    return dataclasses.make_dataclass("Env", ["root", "system", "fake", "urlopen"])(tmp_path, system, fake, urlopen)


def test_resolution_order(env, monkeypatch):
    cache = env.root / "home" / ".cache" / "scratchgan" / "fashion-mnist"
    mine = env.root / "mine"
    for folder in (env.system, cache, mine):
        _write_set(folder)
    kw = dict(download=False)
    assert resolve_dataset_dir("fashion-mnist", mine, **kw) == mine
    _write_set(env.root / "parent" / "fashion-mnist")
    assert resolve_dataset_dir("fashion-mnist", env.root / "parent", **kw) == env.root / "parent" / "fashion-mnist"
    with pytest.raises(DatasetNotFoundError, match="--data-dir .*empty: no fashion-mnist train images"):
        resolve_dataset_dir("fashion-mnist", env.root / "empty", **kw)  # a data_dir given is never bypassed
    assert resolve_dataset_dir("fashion-mnist", **kw) == cache
    monkeypatch.setenv("SCRATCHGAN_CACHE", str(env.root / "elsewhere"))
    assert resolve_dataset_dir("fashion-mnist", **kw) == env.system
    _write_set(env.root / "elsewhere" / "fashion-mnist")
    assert resolve_dataset_dir("fashion-mnist", **kw) == env.root / "elsewhere" / "fashion-mnist"
    with pytest.raises(DatasetNotFoundError, match="test split"):
        resolve_dataset_dir("fashion-mnist", split="test", **kw)
    with pytest.raises(ValueError, match="unknown image dataset"):
        resolve_dataset_dir("cifar10")


def test_missing_without_download_explains(env):
    with pytest.raises(DatasetNotFoundError) as e:
        resolve_dataset_dir("fashion-mnist", download=False)
    msg = str(e.value)
    assert "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/train-images-idx3-ubyte.gz" in msg
    assert str(env.root / "home" / ".cache" / "scratchgan" / "fashion-mnist") in msg
    assert "--data-dir" in msg and "apt-get install dataset-fashion-mnist" in msg


def test_download_good_hash_lands_atomically_in_cache(env):
    env.fake()
    images, labels = load_dataset("mnist", urlopen=env.urlopen)
    cache = env.root / "home" / ".cache" / "scratchgan" / "mnist"
    assert sorted(p.name for p in cache.iterdir()) == ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"]
    assert images.shape == (7, 1, 5, 4) and images.dtype == np.float32 and labels.shape == (7,)
    assert images.min() >= -1 and images.max() <= 1
    # Second call finds the cache and never touches the network.
    assert load_dataset("mnist", urlopen=None)[0].shape == (7, 1, 5, 4)
    test_images, _ = load_dataset("mnist", split="test", urlopen=env.urlopen)
    assert test_images.shape == (3, 1, 5, 4)


def test_download_bad_hash_leaves_nothing(env):
    served = env.fake()
    for url in served:
        served[url] = served[url][:-1] + bytes([served[url][-1] ^ 1])
    with pytest.raises(DatasetNotFoundError, match="SHA-256 mismatch: expected [0-9a-f]{64}, got") as e:
        load_dataset("mnist", urlopen=env.urlopen)
    assert "no route to host" in str(e.value)  # first mirror's failure is reported too
    cache = env.root / "home" / ".cache" / "scratchgan" / "mnist"
    assert list(cache.iterdir()) == []


def test_download_falls_back_to_next_mirror_after_bad_hash(env):
    served = env.fake(mirrors=("https://a.test/", "https://b.test/"))
    for url in list(served):
        served[url.replace("b.test", "a.test")] = b"not it"
    folder = resolve_dataset_dir("mnist", urlopen=env.urlopen)
    assert len(list(folder.iterdir())) == 2


def test_download_interrupted_stream_leaves_nothing(env):
    env.fake()

    class Broken(io.BytesIO):
        def read(self, n=-1):
            raise ConnectionResetError("reset mid-file")

    with pytest.raises(DatasetNotFoundError, match="reset mid-file"):
        resolve_dataset_dir("mnist", urlopen=lambda url, timeout=None: Broken())
    assert list((env.root / "home" / ".cache" / "scratchgan" / "mnist").iterdir()) == []


def test_no_network_message(env):
    with pytest.raises(DatasetNotFoundError) as e:
        load_dataset("fashion-mnist", urlopen=env.urlopen)
    msg = str(e.value)
    assert "no route to host" in msg and "--data-dir" in msg and "apt-get install dataset-fashion-mnist" in msg
    assert "train-labels-idx1-ubyte.gz" in msg and "t10k" not in msg


def test_load_dataset_paths_and_toys(tmp_path):
    _write_set(tmp_path / "d", n=4)
    x, y = load_dataset(tmp_path / "d")
    assert x.shape == (4, 1, 5, 4) and y.shape == (4,)
    with pytest.raises(ValueError, match="toy distribution"):
        load_dataset("ring8")
    with pytest.raises(ValueError, match="neither a known dataset"):
        load_dataset(tmp_path / "nope")


DEBIAN_FM = Path("/usr/share/datasets/fashion-mnist")


@pytest.mark.skipif(not DEBIAN_FM.is_dir(), reason="apt-get install dataset-fashion-mnist")
def test_fashion_hashes_match_debian_copy_rewrapped():
    """Debian's .gz files hold the upstream deflate streams under a name-less header; restoring the upstream
    header (FNAME flag, mtime, file name) must give exactly the served files whose SHA-256 we check."""
    mtimes = {"train": 1504176606, "t10k": 1504176627}  # 2017-08-31 10:50:06 / 10:50:27 UTC
    for name, sha in IMAGE_DATASETS["fashion-mnist"].sha256.items():
        raw = (DEBIAN_FM / name).read_bytes()
        assert raw[3] == 0  # no optional header fields: the deflate stream starts at byte 10
        head = b"\x1f\x8b\x08\x08" + struct.pack("<I", mtimes[name.split("-")[0]]) + b"\x00\x03"
        upstream = head + name[:-3].encode() + b"\x00" + raw[10:]
        assert hashlib.sha256(upstream).hexdigest() == sha, name


# ----------------------------------------------------------------------------- batches


def test_batches_deterministic_and_epochs_are_permutations():
    x = np.arange(10)
    a, b = BatchIterator(x, 3, seed=5), BatchIterator(x, 3, seed=5)
    stream = [next(a) for _ in range(9)]
    assert all(np.array_equal(s, next(b)) for s in stream)
    assert a.steps_per_epoch == 3 and a.epoch == 2
    for e in range(3):  # drop_last: 3 batches of 3, 1 leftover skipped, no repeats within an epoch
        ep = np.concatenate(stream[3 * e:3 * e + 3])
        assert len(set(ep.tolist())) == 9
    assert not all(np.array_equal(s, t) for s, t in zip(stream, [next(BatchIterator(x, 3, 6)) for _ in range(9)]))
    full = BatchIterator(x, 4, seed=1, drop_last=False)
    sizes = [len(next(full)) for _ in range(6)]
    assert sizes == [4, 4, 2] * 2 and full.steps_per_epoch == 3
    with pytest.raises(ValueError, match="impossible"):
        BatchIterator(x, 11, seed=0)


@pytest.mark.parametrize("drop_last", [True, False])
@pytest.mark.parametrize("steps", [0, 1, 3, 4, 7])
def test_batch_state_restore_bit_for_bit(steps, drop_last):
    x = np.random.default_rng(0).standard_normal((10, 2)).astype(np.float32)
    ref = BatchIterator(x, 3, seed=11, drop_last=drop_last)
    for _ in range(steps):
        next(ref)
    state = json.loads(json.dumps(ref.state_dict()))  # must survive a JSON checkpoint
    expected = [next(ref) for _ in range(8)]
    resumed = BatchIterator(x, 3, seed=999, drop_last=drop_last)
    next(resumed)
    resumed.load_state_dict(state)
    for e in expected:
        np.testing.assert_array_equal(next(resumed), e)
    assert resumed.state_dict() == ref.state_dict()
    with pytest.raises(ValueError, match="batch_size"):
        BatchIterator(x, 2, seed=11, drop_last=drop_last).load_state_dict(state)


# ----------------------------------------------------------------------------- real data


@pytest.mark.skipif(not MNIST_5K.is_dir(), reason="shared/data/mnist-5k not present")
def test_real_mnist_5k():
    images, labels = load_dataset(MNIST_5K)
    assert images.shape == (5000, 1, 28, 28) and images.dtype == np.float32
    assert images.min() == -1.0 and images.max() == 1.0
    assert labels.min() == 0 and labels.max() == 9
    counts = np.bincount(labels, minlength=10)
    assert counts.min() >= 400 and counts.max() <= 600
    # Digits are dark background with bright strokes: most pixels sit at -1.
    assert 0.7 < (images == -1.0).mean() < 0.9
    images2, _ = load_dataset("mnist", data_dir=MNIST_5K, download=False)
    np.testing.assert_array_equal(images, images2)
