"""scratchgan.utils.data: batching, shuffling, drop_last, collation, samplers, random_split."""
import collections

import numpy as np
import pytest

import scratchgan as sg
from scratchgan.utils.data import (BatchSampler, ConcatDataset, DataLoader, Dataset, IterableDataset, RandomSampler,
                                   SequentialSampler, Subset, TensorDataset, default_collate, random_split)


class Squares(Dataset):
    """A plain map-style dataset (the general, per-item path)."""

    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return np.full(2, i, dtype=np.float32), i * i


def _ids(loader):
    return [b[1].tolist() for b in loader]


@pytest.mark.parametrize("n, bs, drop_last", [(10, 3, False), (10, 3, True), (9, 3, False), (9, 3, True),
                                              (2, 5, False), (2, 5, True)])
def test_batches_and_len_with_and_without_drop_last(n, bs, drop_last):
    ds = TensorDataset(sg.randn(n, 4), sg.arange(n))
    loader = DataLoader(ds, batch_size=bs, drop_last=drop_last)
    batches = list(loader)
    assert len(loader) == len(batches) == (n // bs if drop_last else -(-n // bs))
    sizes = [x.shape[0] for x, _ in batches]
    assert all(s == bs for s in sizes[:-1]) and (not drop_last or all(s == bs for s in sizes))
    assert sum(_ids(loader), []) == list(range(sum(sizes)))
    for x, y in batches:
        np.testing.assert_array_equal(x.numpy(), ds.tensors[0].numpy()[y.numpy()])


def test_tensor_fast_path_equals_the_general_path():
    x, y = sg.randn(23, 3, 2), sg.randint(0, 5, (23,))
    fast = DataLoader(TensorDataset(x, y), batch_size=5, shuffle=True, generator=sg.Generator().manual_seed(4))
    slow = DataLoader(TensorDataset(x, y), batch_size=5, shuffle=True, generator=sg.Generator().manual_seed(4),
                      collate_fn=default_collate)  # an explicit collate_fn takes the per-item path
    for (a, b), (c, d) in zip(fast, slow, strict=True):
        assert isinstance(a, sg.Tensor) and a.dtype == c.dtype and b.dtype == d.dtype == np.int64
        np.testing.assert_array_equal(a.numpy(), c.numpy())
        np.testing.assert_array_equal(b.numpy(), d.numpy())
    sub = Subset(TensorDataset(x, y), [22, 0, 7, 7])
    (a, b), = DataLoader(sub, batch_size=4)
    np.testing.assert_array_equal(b.numpy(), y.numpy()[[22, 0, 7, 7]])


def test_shuffle_is_a_permutation_new_each_pass_and_seeded():
    ds = TensorDataset(sg.arange(20))
    loader = DataLoader(ds, batch_size=6, shuffle=True, generator=sg.Generator().manual_seed(1))
    first, second = sum(([int(v) for v in b[0].tolist()] for b in loader), []), sum((b[0].tolist() for b in loader), [])
    assert sorted(first) == sorted(second) == list(range(20))
    assert first != second and first != list(range(20))
    again = DataLoader(ds, batch_size=6, shuffle=True, generator=sg.Generator().manual_seed(1))
    assert sum((b[0].tolist() for b in again), []) == first
    sg.manual_seed(7)  # without a generator: the global seed
    a = sum((b[0].tolist() for b in DataLoader(ds, batch_size=6, shuffle=True)), [])
    sg.manual_seed(7)
    b = sum((b[0].tolist() for b in DataLoader(ds, batch_size=6, shuffle=True)), [])
    assert a == b and sorted(a) == list(range(20))


def test_general_dataset_collation_types():
    loader = DataLoader(Squares(5), batch_size=2)
    x, y = next(iter(loader))
    assert x.dtype == np.float32 and x.shape == (2, 2) and y.dtype == np.int64 and y.tolist() == [0, 1]
    assert len(loader) == 3 and [b[1].tolist() for b in loader] == [[0, 1], [4, 9], [16]]


def test_default_collate_rules():
    Point = collections.namedtuple("Point", "x y")
    out = default_collate([{"f": 1.5, "i": 2, "b": True, "s": "a", "t": (sg.ones(2), np.zeros(3, np.float32)),
                            "p": Point(1, 2.0), "o": collections.OrderedDict(k=np.float64(3))}] * 4)
    assert out["f"].dtype == np.float64 and out["f"].shape == (4,)
    assert out["i"].dtype == np.int64 and out["b"].dtype == np.bool_
    assert out["s"] == ["a"] * 4
    assert isinstance(out["t"], list) and out["t"][0].shape == (4, 2) and out["t"][1].dtype == np.float32
    assert isinstance(out["p"], Point) and out["p"].x.dtype == np.int64 and out["p"].y.dtype == np.float64
    assert isinstance(out["o"], collections.OrderedDict) and out["o"]["k"].shape == (4,)
    with pytest.raises(TypeError, match="found <class 'NoneType'>"):
        default_collate([None, None])
    with pytest.raises(RuntimeError, match="equal size"):
        default_collate([[1, 2], [1]])
    with pytest.raises(RuntimeError, match="equal size"):
        default_collate([sg.ones(2), sg.ones(3)])


def test_collating_tensors_that_require_grad_keeps_the_graph():
    w = sg.ones(3, requires_grad=True)
    batch = default_collate([w * 2, w * 3])
    batch.sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), [5.0, 5.0, 5.0])


def test_batch_size_none_and_samplers():
    ds = TensorDataset(sg.arange(4))
    assert [b[0].item() for b in DataLoader(ds, batch_size=None)] == [0, 1, 2, 3]
    bs = BatchSampler(SequentialSampler(range(7)), 3, drop_last=False)
    assert list(bs) == [[0, 1, 2], [3, 4, 5], [6]]
    loader = DataLoader(ds, batch_sampler=[[3, 0], [1]])
    assert [b[0].tolist() for b in loader] == [[3, 0], [1]] and len(loader) == 2
    rs = RandomSampler(range(5), replacement=True, num_samples=12, generator=sg.Generator().manual_seed(0))
    assert len(list(rs)) == 12 and set(rs) <= set(range(5))
    drawn = list(RandomSampler(range(3), num_samples=7))  # whole permutations, then part of one more
    assert len(drawn) == 7 and sorted(drawn[:6]) == [0, 0, 1, 1, 2, 2]


def test_argument_errors_are_pytorchs():
    ds = TensorDataset(sg.arange(4))
    with pytest.raises(ValueError, match="mutually exclusive with shuffle"):
        DataLoader(ds, shuffle=True, sampler=SequentialSampler(ds))
    with pytest.raises(ValueError, match="batch_sampler option is mutually exclusive"):
        DataLoader(ds, batch_size=2, batch_sampler=[[0]])
    with pytest.raises(ValueError, match="batch_size should be a positive integer"):
        DataLoader(ds, batch_size=0)
    with pytest.raises(ValueError, match="size mismatch"):
        TensorDataset(sg.zeros(3), sg.zeros(4))


def test_num_workers_runs_in_process_with_the_same_batches():
    seen = []
    ds = TensorDataset(sg.arange(9))
    a = [b[0].tolist() for b in DataLoader(ds, batch_size=4, num_workers=2, worker_init_fn=seen.append,
                                           pin_memory=True, persistent_workers=True)]
    assert a == [b[0].tolist() for b in DataLoader(ds, batch_size=4)] and seen == [0]


def test_iterable_dataset_is_batched_as_a_stream():
    class Stream(IterableDataset):
        def __iter__(self):
            return iter(range(7))

    assert [b.tolist() for b in DataLoader(Stream(), batch_size=3)] == [[0, 1, 2], [3, 4, 5], [6]]
    assert [b.tolist() for b in DataLoader(Stream(), batch_size=3, drop_last=True)] == [[0, 1, 2], [3, 4, 5]]
    with pytest.raises(ValueError, match="shuffle"):
        DataLoader(Stream(), shuffle=True)


def test_random_split_lengths_fractions_and_seed():
    parts = random_split(range(10), [3, 7], generator=sg.Generator().manual_seed(0))
    assert [len(p) for p in parts] == [3, 7]
    assert sorted(list(parts[0]) + list(parts[1])) == list(range(10))
    same = random_split(range(10), [3, 7], generator=sg.Generator().manual_seed(0))
    assert list(same[0]) == list(parts[0])
    # fractions: ⌊n·f⌋ each, the remainder one by one from the first split (PyTorch's rule)
    assert [len(p) for p in random_split(range(11), [0.5, 0.3, 0.2])] == [6, 3, 2]
    assert [len(p) for p in random_split(range(10), [0.25, 0.25, 0.5])] == [3, 2, 5]
    with pytest.raises(ValueError, match="sum of input lengths"):
        random_split(range(10), [3, 3])
    with pytest.raises(ValueError, match="not between 0 and 1"):
        random_split(range(10), [1.5, -0.5])


def test_concat_dataset_and_generator_api():
    ds = TensorDataset(sg.arange(3)) + TensorDataset(sg.arange(10, 12))
    assert isinstance(ds, ConcatDataset) and len(ds) == 5 and [int(ds[i][0]) for i in range(5)] == [0, 1, 2, 10, 11]
    g = sg.Generator().manual_seed(5)
    assert g.initial_seed() == 5
    state = g.get_state()
    a = sg.randn(3, generator=g).numpy().copy()
    g.set_state(state)
    np.testing.assert_array_equal(sg.randn(3, generator=g).numpy(), a)


def test_batches_stay_on_the_datasets_device(device):
    x, y = sg.randn(10, 3, device=device), sg.arange(10, device=device)
    for fast in (True, False):
        loader = DataLoader(TensorDataset(x, y), batch_size=4, shuffle=True,
                            collate_fn=None if fast else default_collate)
        for a, b in loader:
            assert a.device == sg.device(device) and b.device == sg.device(device)
            np.testing.assert_array_equal(sg.backend.to_numpy(a.array),
                                          sg.backend.to_numpy(x.array)[sg.backend.to_numpy(b.array)])
