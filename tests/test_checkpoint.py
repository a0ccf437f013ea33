"""checkpoint.npz: round trip, atomic writes, and clear errors for damaged files."""
import json
import os
import zipfile

import numpy as np
import pytest

import scratchgan as sg
import scratchgan.nn as nn
import scratchgan.optim as optim
from scratchgan.gan import checkpoint as C
from scratchgan.gan.checkpoint import CheckpointError, load_checkpoint, save_checkpoint


def _setup(seed=0):
    sg.manual_seed(seed)
    G = nn.Sequential(nn.Linear(3, 5), nn.ReLU(), nn.Linear(5, 2))
    D = nn.Sequential(nn.Linear(2, 4), nn.LeakyReLU(0.2), nn.Linear(4, 1))
    optG = optim.Adam(G.parameters(), lr=1e-3, betas=(0.5, 0.999))
    optD = optim.Adam(D.parameters(), lr=2e-3)
    for _ in range(3):  # give the optimizers some state
        for net, opt, x in ((G, optG, sg.randn(6, 3)), (D, optD, sg.randn(6, 2))):
            opt.zero_grad()
            (net(x) ** 2).mean().backward()
            opt.step()
    return G, D, optG, optD


def _save(path, G, D, optG, optD, **meta):
    meta = {"config": {"data": "ring8", "seed": 1}, "step": 3, "epoch": 0.5,
            "rng": {"host": sg.backend.get_rng_state()}, **meta}
    return save_checkpoint(path, {"G": G, "D": D}, {"optG": optG, "optD": optD}, meta)


def test_round_trip_restores_models_and_optimizers(tmp_path):
    G, D, optG, optD = _setup(0)
    rng_state = sg.backend.get_rng_state()
    path = _save(tmp_path / "checkpoint.npz", G, D, optG, optD)
    G2, D2, optG2, optD2 = _setup(1)  # different weights and optimizer state
    ckpt = load_checkpoint(path)
    assert ckpt.step == 3 and ckpt.config["data"] == "ring8" and ckpt.rng["host"] == rng_state
    ckpt.load_into({"G": G2, "D": D2}, {"optG": optG2, "optD": optD2})
    for a, b in ((G, G2), (D, D2)):
        sa, sb = a.state_dict(), b.state_dict()
        assert sa.keys() == sb.keys() and all(np.array_equal(sa[k], sb[k]) for k in sa)
    for a, b in ((optG, optG2), (optD, optD2)):
        sa, sb = a.state_dict(), b.state_dict()
        assert sa["param_groups"] == sb["param_groups"]
        for i in sa["state"]:
            assert sa["state"][i]["step"] == sb["state"][i]["step"] == 3
            assert isinstance(sb["state"][i]["step"], int)
            for k in ("exp_avg", "exp_avg_sq"):
                assert np.array_equal(sa["state"][i][k], sb["state"][i][k])
    assert optG2.param_groups[0]["betas"] == (0.5, 0.999)


def test_file_is_plain_npz_with_documented_layout(tmp_path):
    G, D, optG, optD = _setup()
    path = _save(tmp_path / "c.npz", G, D, optG, optD)
    with np.load(path, allow_pickle=False) as z:
        keys = set(z.files)
        meta = json.loads(str(z["meta"]))
    assert {"G/0.weight", "D/2.bias", "optG/state/0/exp_avg", "optD/state/3/exp_avg_sq", "meta"} <= keys
    assert meta["format"] == C.FORMAT and meta["optimizers"]["optG"]["scalars"]["0"]["step"] == 3


def test_write_is_atomic_and_leaves_no_temp_files(tmp_path, monkeypatch):
    G, D, optG, optD = _setup()
    path = _save(tmp_path / "checkpoint.npz", G, D, optG, optD)
    before = path.read_bytes()

    def broken_savez(f, **arrays):
        f.write(b"half a zip file")
        raise OSError("disk full")

    monkeypatch.setattr(C.np, "savez", broken_savez)
    with pytest.raises(OSError, match="disk full"):
        _save(path, G, D, optG, optD, step=4)
    assert path.read_bytes() == before  # the old checkpoint is untouched
    assert os.listdir(tmp_path) == ["checkpoint.npz"]  # and the temp file is gone
    assert load_checkpoint(path).step == 3


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty", "missing-entry", "bad-meta", "not-ours"])
def test_damaged_files_raise_checkpoint_error_naming_the_file(tmp_path, damage):
    G, D, optG, optD = _setup()
    path = _save(tmp_path / "checkpoint.npz", G, D, optG, optD)
    raw = path.read_bytes()
    if damage == "truncated":
        path.write_bytes(raw[: len(raw) // 2])
    elif damage == "garbage":
        path.write_bytes(os.urandom(2000))
    elif damage == "empty":
        path.write_bytes(b"")
    else:
        with np.load(path) as z:
            arrays = {k: z[k] for k in z.files}
        if damage == "missing-entry":
            del arrays["G/0.weight"]
        elif damage == "bad-meta":
            arrays["meta"] = np.array("{not json")
        else:
            arrays["meta"] = np.array(json.dumps({"format": "something-else"}))
        np.savez(path, **arrays)
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(path)
    assert str(path) in str(err.value)
    assert isinstance(err.value, ValueError)
    if damage == "missing-entry":
        assert "G/0.weight" in str(err.value)


def test_missing_file_and_wrong_architecture(tmp_path):
    with pytest.raises(CheckpointError, match="no such checkpoint file"):
        load_checkpoint(tmp_path / "nope.npz")
    G, D, optG, optD = _setup()
    path = _save(tmp_path / "c.npz", G, D, optG, optD)
    other = nn.Sequential(nn.Linear(3, 7), nn.ReLU(), nn.Linear(7, 2))
    with pytest.raises(CheckpointError, match=str(path)):
        load_checkpoint(path).load_into({"G": other})


def test_zip_crc_error_is_reported(tmp_path):
    G, D, optG, optD = _setup()
    path = _save(tmp_path / "c.npz", G, D, optG, optD)
    raw = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as z:
        info = z.getinfo("G/0.weight.npy")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra) + 200  # inside the array data
    raw[start] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match="c.npz"):
        load_checkpoint(path)
