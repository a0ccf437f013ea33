"""Training data: toy Gaussian mixtures, IDX image files (MNIST, Fashion-MNIST), a resumable batch iterator.

Host-side only (NumPy). Image sets load as float32 (N, 1, H, W) in [-1, 1].
"""
from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import struct
import tempfile
import urllib.error
import urllib.request
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

# ----------------------------------------------------------------------------- toy distributions


@dataclass(frozen=True, eq=False)
class GaussianMixture:
    """Equal-weight isotropic Gaussian mixture: p(x) = (1/k) sum_j N(x; centers[j], std^2 I)."""

    name: str
    centers: np.ndarray  # (k, d)
    std: float

    @property
    def n_modes(self) -> int:
        return self.centers.shape[0]

    @property
    def dim(self) -> int:
        return self.centers.shape[1]

    def sample(self, n: int, rng: np.random.Generator | int | None = None) -> np.ndarray:
        """n samples, float32 (n, dim). `rng` is a Generator or a seed."""
        rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        mode = rng.integers(self.n_modes, size=n)
        x = self.centers[mode] + self.std * rng.standard_normal((n, self.dim))
        return x.astype(np.float32)


def _ring(k: int = 8, radius: float = 1.0) -> np.ndarray:
    theta = 2.0 * np.pi * np.arange(k) / k
    return radius * np.stack([np.cos(theta), np.sin(theta)], axis=1)


def _grid(values=(-4.0, -2.0, 0.0, 2.0, 4.0)) -> np.ndarray:
    gx, gy = np.meshgrid(values, values, indexing="ij")
    return np.stack([gx.ravel(), gy.ravel()], axis=1)


TOY_DATASETS: dict[str, GaussianMixture] = {
    "gauss1d": GaussianMixture("gauss1d", np.array([[10.0]]), 2.0),
    "ring8": GaussianMixture("ring8", _ring(8), 0.01),
    "grid25": GaussianMixture("grid25", _grid(), 0.05),
}


def toy_dataset(name: str) -> GaussianMixture:
    try:
        return TOY_DATASETS[name]
    except KeyError:
        raise ValueError(f"unknown toy dataset {name!r}; known: {', '.join(TOY_DATASETS)}") from None


# ----------------------------------------------------------------------------- IDX files


class IDXError(ValueError):
    """A file that is not a complete, well-formed IDX file (optionally gzip-compressed)."""


# IDX type byte -> big-endian element type (http://yann.lecun.com/exdb/mnist/, "THE IDX FILE FORMAT").
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_IDX_CODES = {np.dtype(v).newbyteorder("="): k for k, v in _IDX_DTYPES.items()}
_GZIP_MAGIC = b"\x1f\x8b"


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (gzip-compressed if its bytes start with the gzip magic) into a native-endian array."""
    path = Path(path)
    raw = path.read_bytes()
    if raw[:2] == _GZIP_MAGIC:
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as e:  # BadGzipFile is an OSError; truncation is EOFError
            raise IDXError(f"{path}: corrupt gzip data ({e})") from None
    elif path.suffix == ".gz":
        raise IDXError(f"{path}: named .gz but does not start with the gzip magic 1f 8b")
    # Header: 0x00 0x00, type byte, ndim byte, then ndim big-endian uint32 sizes.
    if len(raw) < 4:
        raise IDXError(f"{path}: {len(raw)} bytes, too short for the 4-byte IDX magic number")
    zero, code, ndim = raw[:2], raw[2], raw[3]
    if zero != b"\x00\x00":
        raise IDXError(f"{path}: bad magic number {raw[:4].hex()} (must start with 00 00)")
    if code not in _IDX_DTYPES:
        raise IDXError(f"{path}: unknown IDX type code 0x{code:02x}")
    if ndim == 0:
        raise IDXError(f"{path}: IDX header declares 0 dimensions")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise IDXError(f"{path}: header needs {header} bytes for {ndim} dimensions, file has {len(raw)}")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = np.dtype(_IDX_DTYPES[code])
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    actual = len(raw) - header
    if actual != expected:
        what = "truncated" if actual < expected else f"{actual - expected} trailing bytes"
        raise IDXError(
            f"{path}: shape {shape} of {dtype.name} needs {expected} data bytes after the "
            f"{header}-byte header, found {actual} ({what})"
        )
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def write_idx(path: str | os.PathLike, array: np.ndarray) -> None:
    """Write `array` as IDX; gzip-compressed (mtime 0, so reproducible) when the name ends with .gz."""
    array = np.asarray(array)
    code = _IDX_CODES.get(array.dtype.newbyteorder("="))
    if code is None:
        raise ValueError(f"IDX cannot store dtype {array.dtype}; use one of uint8 int8 int16 int32 float32 float64")
    if not 1 <= array.ndim <= 255 or any(s >= 2**32 for s in array.shape):
        raise ValueError(f"IDX cannot store shape {array.shape}")
    body = struct.pack(f">BBBB{array.ndim}I", 0, 0, code, array.ndim, *array.shape)
    body += np.ascontiguousarray(array, dtype=_IDX_DTYPES[code]).tobytes()
    path = Path(path)
    path.write_bytes(gzip.compress(body, mtime=0) if path.suffix == ".gz" else body)


def _split_prefixes(split: str) -> tuple[str, ...]:
    if split == "train":
        return ("train",)
    if split in ("test", "t10k"):
        return ("t10k", "test")
    raise ValueError(f"split must be 'train' or 'test', got {split!r}")


def _find_idx(folder: Path, split: str, kind: str) -> Path | None:
    """First existing file of the usual spellings, e.g. t10k-images-idx3-ubyte[.gz] or t10k-images.idx3-ubyte."""
    idx = "idx3" if kind == "images" else "idx1"
    for prefix in _split_prefixes(split):
        for sep in ("-", "."):
            for ext in (".gz", ""):
                p = folder / f"{prefix}-{kind}{sep}{idx}-ubyte{ext}"
                if p.is_file():
                    return p
    return None


def load_idx_images(folder: str | os.PathLike, split: str = "train") -> tuple[np.ndarray, np.ndarray | None]:
    """(images uint8 (N, H, W), labels (N,) or None when the folder has no label file)."""
    folder = Path(folder)
    img_path = _find_idx(folder, split, "images")
    if img_path is None:
        raise FileNotFoundError(f"no {split}-images-idx3-ubyte[.gz] in {folder}")
    images = read_idx(img_path)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise IDXError(f"{img_path}: expected uint8 images (N, H, W), got {images.dtype} {images.shape}")
    lbl_path = _find_idx(folder, split, "labels")
    labels = None if lbl_path is None else read_idx(lbl_path)
    if labels is not None and labels.shape != images.shape[:1]:
        raise IDXError(f"{lbl_path}: {labels.shape} labels for {images.shape[0]} images in {img_path.name}")
    return images, labels


def to_unit_range(images: np.ndarray) -> np.ndarray:
    """uint8 [0, 255] -> float32 [-1, 1] via x/127.5 - 1 (the range of a tanh generator)."""
    return (images.astype(np.float32) / np.float32(127.5) - np.float32(1.0)).astype(np.float32)


# ----------------------------------------------------------------------------- named image sets


@dataclass(frozen=True, eq=False)
class ImageDataset:
    """Where a named IDX set comes from. `sha256` holds digests of the .gz files exactly as the mirrors serve them."""

    name: str
    mirrors: tuple[str, ...]
    sha256: dict[str, str]
    system_dirs: tuple[Path, ...] = ()
    apt_package: str | None = None
    files: tuple[str, ...] = field(init=False)

    def __post_init__(self):
        object.__setattr__(self, "files", tuple(self.sha256))

    def split_files(self, split: str) -> tuple[str, ...]:
        prefix = _split_prefixes(split)[0]
        return tuple(f for f in self.files if f.startswith(prefix + "-"))


# Fashion-MNIST digests: Debian's dataset-fashion-mnist ships the same deflate streams re-wrapped in a gzip
# header without file name; re-adding the upstream header (name, mtime 2017-08-31) reproduces the MD5s the
# upstream README publishes, and these SHA-256 values are of those reconstructed, served files.
IMAGE_DATASETS: dict[str, ImageDataset] = {
    "mnist": ImageDataset(
        "mnist",
        ("https://ossci-datasets.s3.amazonaws.com/mnist/", "https://storage.googleapis.com/cvdf-datasets/mnist/"),
        {
            "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
            "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
            "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
            "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
        },
    ),
    "fashion-mnist": ImageDataset(
        "fashion-mnist",
        ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
        {
            "train-images-idx3-ubyte.gz": "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
            "train-labels-idx1-ubyte.gz": "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
            "t10k-images-idx3-ubyte.gz": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
            "t10k-labels-idx1-ubyte.gz": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
        },
        system_dirs=(Path("/usr/share/datasets/fashion-mnist"),),
        apt_package="dataset-fashion-mnist",
    ),
}


class DatasetNotFoundError(FileNotFoundError):
    """A named image set is neither on disk nor downloadable; the message says how to get it."""


def cache_root() -> Path:
    """$SCRATCHGAN_CACHE, else ~/.cache/scratchgan."""
    env = os.environ.get("SCRATCHGAN_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "scratchgan"


def _has_split(folder: Path, split: str) -> bool:
    return folder.is_dir() and _find_idx(folder, split, "images") is not None


def _instructions(ds: ImageDataset, split: str) -> str:
    dest = cache_root() / ds.name
    lines = [f"To use {ds.name} offline, download these files into {dest} (or any folder given as --data-dir):"]
    lines += [f"  {ds.mirrors[0]}{f}" for f in ds.split_files(split)]
    if len(ds.mirrors) > 1:
        lines.append("  (alternative mirrors: " + ", ".join(ds.mirrors[1:]) + ")")
    if ds.apt_package:
        lines.append(f"or on Debian/Ubuntu: apt-get install {ds.apt_package} (installs into {ds.system_dirs[0]})")
    return "\n".join(lines)


def _fetch_verified(url: str, dest: Path, sha256: str, urlopen, timeout: float) -> None:
    """Stream `url` into a temp file beside `dest`, check SHA-256, then os.replace: `dest` is whole or absent."""
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    try:
        digest = hashlib.sha256()
        with os.fdopen(fd, "wb") as out, urlopen(url, timeout=timeout) as resp:
            while chunk := resp.read(1 << 20):
                digest.update(chunk)
                out.write(chunk)
        if digest.hexdigest() != sha256:
            raise ValueError(f"SHA-256 mismatch: expected {sha256}, got {digest.hexdigest()}")
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def download_dataset(name: str, dest: str | os.PathLike | None = None, split: str = "train",
                     urlopen=urllib.request.urlopen, timeout: float = 60.0) -> Path:
    """Fetch the .gz files of `split` into `dest` (default cache_root()/name), trying each mirror in turn.

    `urlopen(url, timeout=...)` must return a context manager with .read(n); tests inject a fake.
    """
    ds = IMAGE_DATASETS[name]
    dest = Path(dest) if dest is not None else cache_root() / name
    dest.mkdir(parents=True, exist_ok=True)
    for fname in ds.split_files(split):
        target = dest / fname
        if target.is_file():
            continue
        errors = []
        for mirror in ds.mirrors:
            try:
                _fetch_verified(mirror + fname, target, ds.sha256[fname], urlopen, timeout)
                break
            except (OSError, http.client.HTTPException, ValueError) as e:  # URLError, timeouts: OSError
                errors.append(f"  {mirror}{fname}: {e}")
        else:
            raise DatasetNotFoundError(
                f"could not download {name} ({split} split):\n" + "\n".join(errors) + "\n" + _instructions(ds, split)
            )
    return dest


def resolve_dataset_dir(name: str, data_dir: str | os.PathLike | None = None, split: str = "train",
                        download: bool = True, urlopen=urllib.request.urlopen) -> Path:
    """Folder holding `split` of a named set: data_dir (or data_dir/name) when given, else the cache, the
    system dirs, then a download."""
    if name not in IMAGE_DATASETS:
        raise ValueError(f"unknown image dataset {name!r}; known: {', '.join(IMAGE_DATASETS)}")
    ds = IMAGE_DATASETS[name]
    if data_dir is not None:  # asked for by name: that folder or none (never another copy found elsewhere)
        for folder in (Path(data_dir), Path(data_dir) / name):
            if _has_split(folder, split):
                return folder
        raise DatasetNotFoundError(
            f"--data-dir {data_dir}: no {name} {split} images there (looked for {ds.split_files(split)[0]} "
            f"in {data_dir} and {Path(data_dir) / name}); give the folder that holds them, or leave out "
            f"--data-dir to use {cache_root() / name}\n" + _instructions(ds, split))
    candidates = [cache_root() / name, *ds.system_dirs]
    for folder in candidates:
        if _has_split(folder, split):
            return folder
    if not download:
        looked = ", ".join(str(c) for c in candidates)
        raise DatasetNotFoundError(f"{name} ({split} split) not found in {looked}\n" + _instructions(ds, split))
    return download_dataset(name, split=split, urlopen=urlopen)


def load_dataset(name_or_path: str | os.PathLike, data_dir: str | os.PathLike | None = None, split: str = "train",
                 download: bool = True, urlopen=urllib.request.urlopen) -> tuple[np.ndarray, np.ndarray | None]:
    """(images float32 (N, 1, H, W) in [-1, 1], labels or None) for a named image set or a folder of IDX files.

    Toy names raise ValueError: they are sampled, not loaded (use toy_dataset(name).sample(n, rng)).
    """
    key = str(name_or_path)
    if key in TOY_DATASETS:
        raise ValueError(f"{key!r} is a toy distribution with nothing to load; use toy_dataset({key!r})")
    if key in IMAGE_DATASETS:
        folder = resolve_dataset_dir(key, data_dir, split=split, download=download, urlopen=urlopen)
    elif Path(key).is_dir():
        folder = Path(key)
    else:
        known = ", ".join([*IMAGE_DATASETS, *TOY_DATASETS])
        raise ValueError(f"{key!r} is neither a known dataset ({known}) nor a folder of IDX files")
    images, labels = load_idx_images(folder, split)
    return to_unit_range(images)[:, None], labels


# ----------------------------------------------------------------------------- batches


class BatchIterator:
    """Endless stream of shuffled mini-batches of `data` (first axis), reshuffled every epoch.

    Epoch e uses the permutation drawn from Generator(PCG64(seed)) after e earlier draws, so the stream is a
    function of (seed, n, batch_size) alone. state_dict() keeps the generator state from *before* the current
    epoch's draw plus the position in it: restoring redraws the same permutation and resumes bit-for-bit.
    With drop_last, the n mod batch_size leftovers of each epoch are skipped; otherwise they form a short batch.
    """

    def __init__(self, data: np.ndarray, batch_size: int, seed: int, drop_last: bool = True):
        self.data = data
        self.n = len(data)
        self.batch_size = int(batch_size)
        self.seed = int(seed)
        self.drop_last = drop_last
        if self.batch_size < 1 or (drop_last and self.batch_size > self.n) or self.n == 0:
            raise ValueError(f"batch_size {batch_size} impossible for {self.n} samples (drop_last={drop_last})")
        self._rng = np.random.Generator(np.random.PCG64(self.seed))
        self.epoch = 0
        self._new_epoch()

    def _new_epoch(self) -> None:
        self._epoch_rng_state = self._rng.bit_generator.state
        self._perm = self._rng.permutation(self.n)
        self.position = 0

    @property
    def steps_per_epoch(self) -> int:
        return self.n // self.batch_size if self.drop_last else -(-self.n // self.batch_size)

    def next_indices(self) -> np.ndarray:
        left = self.n - self.position
        if left == 0 or (self.drop_last and left < self.batch_size):
            self.epoch += 1
            self._new_epoch()
        idx = self._perm[self.position:self.position + self.batch_size]
        self.position += len(idx)
        return idx

    def __iter__(self):
        return self

    def __next__(self) -> np.ndarray:
        return self.data[self.next_indices()]

    def state_dict(self) -> dict:
        """JSON-serialisable state (Python ints and strings only)."""
        return {"seed": self.seed, "n": self.n, "batch_size": self.batch_size, "drop_last": self.drop_last,
                "epoch": self.epoch, "position": self.position, "rng_state": self._epoch_rng_state}

    def load_state_dict(self, state: dict) -> None:
        mine = (self.n, self.batch_size, self.drop_last)
        theirs = (state["n"], state["batch_size"], state["drop_last"])
        if mine != theirs:
            raise ValueError(f"state is for (n, batch_size, drop_last)={theirs}, iterator has {mine}")
        self._rng.bit_generator.state = state["rng_state"]
        self._new_epoch()
        self.seed, self.epoch, self.position = int(state["seed"]), int(state["epoch"]), int(state["position"])
