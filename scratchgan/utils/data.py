"""``scratchgan.utils.data``: PyTorch's map-style data pipeline.

    Dataset[i] → sample;  Sampler → indices;  BatchSampler → lists of indices;
    DataLoader: for each index list, collate_fn([dataset[i] for i in indices]) → batch

with PyTorch's names, arguments and rules (``default_collate`` stacks tensors and arrays, turns Python
ints into int64 and floats into float64 tensors, recurses through tuples, lists and dicts).

Fast path: a ``TensorDataset`` (or a ``Subset`` of one) under the default collation is batched by
indexing each tensor once with the whole index array — what stacking the per-item samples would give,
without a Python loop over the batch.  Any other dataset takes the general per-item path.

``num_workers > 0`` is accepted and the data are loaded in the main process, in the same order
(scratchgan has no worker processes: GAN datasets here live in memory, where workers only add
start-up cost).  ``worker_init_fn``, if given, is called with worker id 0 at the start of each pass.
``pin_memory`` is accepted and does nothing (batches are in host memory; ``.to(device)`` copies).
"""
from __future__ import annotations

import collections.abc
import math
import numbers
import warnings

import numpy as np

from .. import backend as B
from ..generator import default_generator_rng
from ..ops import stack
from ..tensor import Tensor

__all__ = ["Dataset", "IterableDataset", "TensorDataset", "Subset", "ConcatDataset", "Sampler", "SequentialSampler",
           "RandomSampler", "SubsetRandomSampler", "BatchSampler", "DataLoader", "default_collate",
           "default_convert", "random_split", "get_worker_info"]


# ---- datasets -------------------------------------------------------------------------------------
class Dataset:
    """A map-style dataset: subclasses define ``__getitem__(index)`` and ``__len__``."""

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")

    def __add__(self, other):
        return ConcatDataset([self, other])


class IterableDataset(Dataset):
    """A stream of samples: subclasses define ``__iter__``.  No sampler, no shuffle (the stream decides)."""

    def __iter__(self):
        raise NotImplementedError(f"{type(self).__name__} must define __iter__")


class TensorDataset(Dataset):
    """Sample i is ``tuple(t[i] for t in tensors)``; all tensors share their first dimension."""

    def __init__(self, *tensors):
        if not tensors:
            raise ValueError("TensorDataset needs at least one tensor")
        sizes = [t.shape[0] if t.ndim else None for t in tensors]
        if any(s != sizes[0] for s in sizes) or sizes[0] is None:
            raise ValueError(f"TensorDataset: size mismatch between tensors: first dimensions {sizes}")
        self.tensors = tensors

    def __getitem__(self, index):
        return tuple(t[index] for t in self.tensors)

    def __len__(self):
        return self.tensors[0].shape[0]

    def _gather(self, indices: np.ndarray) -> list:
        """The default-collated batch of ``indices``: each tensor indexed once with the index array."""
        out = []
        for t in self.tensors:
            if isinstance(t, Tensor) and not t.requires_grad:
                out.append(Tensor(t.array[B.to_device(indices, t.device)]))
            elif isinstance(t, Tensor):
                out.append(t[Tensor(B.to_device(indices, t.device))])  # keeps the graph, as stacking t[i] would
            else:  # anything else indexable (NumPy arrays, lists): the general rule
                out.append(default_collate([t[i] for i in indices.tolist()]))
        return out


class Subset(Dataset):
    """The items of ``dataset`` at ``indices``, in that order."""

    def __init__(self, dataset, indices):
        self.dataset = dataset
        self.indices = indices

    def __getitem__(self, idx):
        if isinstance(idx, list):
            return self.dataset[[self.indices[i] for i in idx]]
        return self.dataset[self.indices[idx]]

    def __len__(self):
        return len(self.indices)

    @property
    def _gather(self):
        inner = getattr(self.dataset, "_gather", None)
        if inner is None:
            raise AttributeError("_gather")
        table = np.asarray(self.indices, dtype=np.int64)
        return lambda indices: inner(table[indices])


class ConcatDataset(Dataset):
    """Several datasets one after another."""

    def __init__(self, datasets):
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: datasets should not be an empty iterable")
        for d in self.datasets:
            if isinstance(d, IterableDataset):
                raise TypeError("ConcatDataset does not support IterableDataset")
        self.cumulative_sizes = list(np.cumsum([len(d) for d in self.datasets]))

    def __len__(self):
        return int(self.cumulative_sizes[-1])

    def __getitem__(self, idx):
        if idx < 0:
            if -idx > len(self):
                raise ValueError("absolute value of index should not exceed dataset length")
            idx += len(self)
        k = int(np.searchsorted(self.cumulative_sizes, idx, side="right"))
        return self.datasets[k][idx - (int(self.cumulative_sizes[k - 1]) if k else 0)]


def random_split(dataset, lengths, generator=None) -> list:
    """Split ``dataset`` into non-overlapping random ``Subset``\\ s of the given lengths — or fractions summing
    to 1: ⌊n·f⌋ each, the remainder handed out one by one from the first split on (PyTorch's rule)."""
    n = len(dataset)
    lengths = list(lengths)
    if math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        for i, frac in enumerate(lengths):
            if frac < 0 or frac > 1:
                raise ValueError(f"random_split: fraction at index {i} is not between 0 and 1 ({frac})")
        sizes = [int(math.floor(n * frac)) for frac in lengths]
        for i in range(n - sum(sizes)):
            sizes[i % len(sizes)] += 1
        for i, s in enumerate(sizes):
            if s == 0:
                warnings.warn(f"Length of split at index {i} is 0. This might result in an empty dataset.",
                              stacklevel=2)
        lengths = sizes
    if sum(lengths) != n:
        raise ValueError(f"random_split: sum of input lengths {sum(lengths)} does not equal the length of the "
                         f"input dataset ({n})")
    perm = default_generator_rng(generator).permutation(n).tolist()
    out, start = [], 0
    for length in lengths:
        out.append(Subset(dataset, perm[start:start + length]))
        start += length
    return out


# ---- samplers -------------------------------------------------------------------------------------
class Sampler:
    """Yields dataset indices (or, for a batch sampler, lists of them)."""

    def __init__(self, data_source=None):
        pass

    def __iter__(self):
        raise NotImplementedError


class SequentialSampler(Sampler):
    def __init__(self, data_source):
        self.data_source = data_source

    def __iter__(self):
        return iter(range(len(self.data_source)))

    def __len__(self):
        return len(self.data_source)


class RandomSampler(Sampler):
    """A fresh permutation each pass (or ``num_samples`` draws with replacement), from ``generator`` or
    the global generator of ``manual_seed``."""

    def __init__(self, data_source, replacement: bool = False, num_samples: int | None = None, generator=None):
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = generator
        if not isinstance(self.num_samples, int) or self.num_samples <= 0:
            raise ValueError(f"num_samples should be a positive integer value, but got num_samples={self.num_samples}")

    @property
    def num_samples(self) -> int:
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def _indices(self) -> np.ndarray:
        rng, n = default_generator_rng(self.generator), len(self.data_source)
        if self.replacement:
            return rng.integers(0, n, size=self.num_samples, dtype=np.int64)
        reps = -(-self.num_samples // n)
        return np.concatenate([rng.permutation(n) for _ in range(reps)])[:self.num_samples]

    def __iter__(self):
        return iter(self._indices().tolist())

    def __len__(self):
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given indices in a random order, each pass."""

    def __init__(self, indices, generator=None):
        self.indices = indices
        self.generator = generator

    def _indices(self) -> np.ndarray:
        table = np.asarray(self.indices, dtype=np.int64)
        return table[default_generator_rng(self.generator).permutation(len(table))]

    def __iter__(self):
        return iter(self._indices().tolist())

    def __len__(self):
        return len(self.indices)


class BatchSampler(Sampler):
    """Groups the sampler's indices into lists of ``batch_size`` (the last one shorter unless ``drop_last``)."""

    def __init__(self, sampler, batch_size: int, drop_last: bool):
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0:
            raise ValueError(f"batch_size should be a positive integer value, but got batch_size={batch_size}")
        if not isinstance(drop_last, bool):
            raise ValueError(f"drop_last should be a boolean value, but got drop_last={drop_last}")
        self.sampler, self.batch_size, self.drop_last = sampler, batch_size, drop_last

    def _index_arrays(self):
        """The batches as int64 arrays: one vectorised split for our own samplers, a Python pass otherwise."""
        if isinstance(self.sampler, (RandomSampler, SubsetRandomSampler)):
            order = self.sampler._indices()
        elif isinstance(self.sampler, SequentialSampler):
            order = np.arange(len(self.sampler), dtype=np.int64)
        else:
            yield from (np.asarray(b, dtype=np.int64) for b in self)
            return
        n = len(order) - len(order) % self.batch_size if self.drop_last else len(order)
        for start in range(0, n, self.batch_size):
            yield order[start:start + self.batch_size]

    def __iter__(self):
        batch = []
        for idx in self.sampler:
            batch.append(idx)
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self):
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)


# ---- collation ------------------------------------------------------------------------------------
_COLLATE_ERROR = "default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; found {}"


def _is_namedtuple(x) -> bool:
    return isinstance(x, tuple) and hasattr(x, "_fields")


def default_collate(batch):
    """Stack a list of samples into a batch, by the type of the first sample (PyTorch's rules):

    Tensor → stacked on a new dim 0;  NumPy array → stacked Tensor of its dtype (0-d: a 1-d Tensor);
    float → float64 Tensor;  int (and bool) → int64 (bool) Tensor;  str/bytes → the list as is;
    dict → dict of collated values;  namedtuple → namedtuple of collated fields;
    tuple/list → a *list* of collated positions (``x, y = batch`` for a TensorDataset).
    """
    elem = batch[0]
    if isinstance(elem, Tensor):
        if all(not t.requires_grad for t in batch):
            xp = B.get_array_module(*(t.array for t in batch))
            shapes = {t.shape for t in batch}
            if len(shapes) > 1:
                raise RuntimeError(f"default_collate: stack expects each tensor to be equal size, got {sorted(shapes)}")
            return Tensor(xp.stack([t.array for t in batch]))
        return stack(batch, 0)
    if isinstance(elem, np.ndarray) or isinstance(elem, np.generic) and not isinstance(elem, (np.str_, np.bytes_)):
        if np.asarray(elem).dtype.kind in "OSUV":
            raise TypeError(_COLLATE_ERROR.format(np.asarray(elem).dtype))
        shapes = {np.shape(b) for b in batch}
        if len(shapes) > 1:
            raise RuntimeError(f"default_collate: stack expects each array to be equal size, got {sorted(shapes)}")
        return Tensor(np.stack([np.asarray(b) for b in batch]))
    if isinstance(elem, float):
        return Tensor(np.array(batch, dtype=np.float64))
    if isinstance(elem, bool):
        return Tensor(np.array(batch, dtype=np.bool_))
    if isinstance(elem, int):
        return Tensor(np.array(batch, dtype=np.int64))
    if isinstance(elem, numbers.Number):  # e.g. complex
        return Tensor(np.array(batch))
    if isinstance(elem, (str, bytes)):
        return batch
    if isinstance(elem, collections.abc.Mapping):
        collated = {key: default_collate([d[key] for d in batch]) for key in elem}
        try:
            return type(elem)(collated)
        except TypeError:  # a Mapping whose constructor takes something else
            return collated
    if _is_namedtuple(elem):
        return type(elem)(*(default_collate(list(s)) for s in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        if any(len(b) != len(elem) for b in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        transposed = [default_collate(list(s)) for s in zip(*batch)]
        if isinstance(elem, tuple):
            return transposed  # PyTorch returns a list for tuples too
        try:
            return type(elem)(transposed)
        except TypeError:
            return transposed
    raise TypeError(_COLLATE_ERROR.format(type(elem)))


def default_convert(data):
    """What the loader yields with ``batch_size=None``: arrays and numbers become Tensors, nothing is stacked."""
    if isinstance(data, (np.ndarray, np.generic)) and np.asarray(data).dtype.kind not in "OSUV":
        return Tensor(np.asarray(data))
    if isinstance(data, collections.abc.Mapping):
        return type(data)({k: default_convert(v) for k, v in data.items()})
    if _is_namedtuple(data):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, list):
        return [default_convert(d) for d in data]
    return data


def get_worker_info():
    """None: data always load in the main process here (see the module docstring)."""
    return None


# ---- the loader -----------------------------------------------------------------------------------
class _LoaderIter:
    """``iter(loader)``: an iterator that also has ``len()`` (scripts write ``len(data_iter) // n_critic``)."""

    def __init__(self, batches, loader):
        self._batches, self._loader = batches, loader

    def __iter__(self):
        return self

    def __next__(self):
        return next(self._batches)

    def __len__(self) -> int:
        return len(self._loader)


class DataLoader:
    """Batches of ``dataset`` (PyTorch's signature and argument rules).  Iterating it again starts a new
    pass (a new shuffle); ``len()`` is the number of batches per pass."""

    def __init__(self, dataset, batch_size: int | None = 1, shuffle: bool | None = None, sampler=None,
                 batch_sampler=None, num_workers: int = 0, collate_fn=None, pin_memory: bool = False,
                 drop_last: bool = False, timeout: float = 0, worker_init_fn=None, multiprocessing_context=None,
                 generator=None, *, prefetch_factor: int | None = None, persistent_workers: bool = False,
                 pin_memory_device: str = "", in_order: bool = True):
        if num_workers < 0:
            raise ValueError("num_workers option should be non-negative; use num_workers=0 to disable "
                             "multiprocessing.")
        if timeout < 0:
            raise ValueError("timeout option should be non-negative")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError("prefetch_factor option could only be specified in multiprocessing. let num_workers > 0 "
                             "to enable multiprocessing, otherwise set prefetch_factor to None.")
        if persistent_workers and num_workers == 0:
            raise ValueError("persistent_workers option needs num_workers > 0")
        self.dataset = dataset
        self.num_workers, self.prefetch_factor, self.pin_memory = num_workers, prefetch_factor, pin_memory
        self.timeout, self.worker_init_fn, self.generator = timeout, worker_init_fn, generator
        self.persistent_workers, self.multiprocessing_context = persistent_workers, multiprocessing_context
        self._iterable = isinstance(dataset, IterableDataset)

        if self._iterable:
            if shuffle not in (None, False):
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified shuffle option, "
                                 f"but got shuffle={shuffle}")
            if sampler is not None or batch_sampler is not None:
                raise ValueError("DataLoader with IterableDataset: expected unspecified sampler/batch_sampler option")
        elif shuffle not in (None, False) and sampler is not None:
            raise ValueError("sampler option is mutually exclusive with shuffle")

        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, shuffle, sampler, "
                                 "and drop_last")
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError("batch_size=None option disables auto-batching and is mutually exclusive with "
                             "drop_last")

        if sampler is None and not self._iterable:
            sampler = RandomSampler(dataset, generator=generator) if shuffle else SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None and not self._iterable:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)

        self.batch_size, self.drop_last = batch_size, drop_last
        self.sampler, self.batch_sampler = sampler, batch_sampler
        self._auto_collation = batch_sampler is not None or (self._iterable and batch_size is not None)
        self._default_collate = collate_fn is None
        self.collate_fn = collate_fn if collate_fn is not None else (
            default_collate if self._auto_collation else default_convert)

    @property
    def _index_sampler(self):
        return self.batch_sampler if self._auto_collation else self.sampler

    def __len__(self) -> int:
        if self._iterable:
            n = len(self.dataset)  # a TypeError, as in PyTorch, for a stream without __len__
            if self.batch_size is not None:
                n = n // self.batch_size if self.drop_last else -(-n // self.batch_size)
            return n
        return len(self._index_sampler)

    def __iter__(self):
        return _LoaderIter(self._batches(), self)

    def _batches(self):
        if self.num_workers > 0 and self.worker_init_fn is not None:
            self.worker_init_fn(0)
        if self._iterable:
            return self._iter_stream()
        gather = getattr(self.dataset, "_gather", None) if self._default_collate else None
        if gather is not None and isinstance(self.batch_sampler, BatchSampler):
            return (gather(idx) for idx in self.batch_sampler._index_arrays())
        if self._auto_collation:
            return (self.collate_fn([self.dataset[i] for i in idx]) for idx in self.batch_sampler)
        return (self.collate_fn(self.dataset[i]) for i in self.sampler)

    def _iter_stream(self):
        if self.batch_size is None:
            yield from (self.collate_fn(x) for x in self.dataset)
            return
        batch = []
        for x in self.dataset:
            batch.append(x)
            if len(batch) == self.batch_size:
                yield self.collate_fn(batch)
                batch = []
        if batch and not self.drop_last:
            yield self.collate_fn(batch)
