"""benchmarks/bench_gpu.py without a GPU: one line and status 1; its step loop checked on the CPU."""
import importlib.util
from pathlib import Path

import pytest

import scratchgan as sg

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def bench(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))  # bench_gpu reuses bench_step's models
    spec = importlib.util.spec_from_file_location("script_bench_gpu", ROOT / "benchmarks" / "bench_gpu.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(sg.cuda.is_available(), reason="a GPU is present: the benchmark would run")
def test_without_a_gpu_it_says_so_in_one_line(bench, capsys):
    assert bench.main(["--no-torch"]) == 1
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and out[0].startswith("bench_gpu: no GPU for scratchgan")


def test_the_step_loop_runs_on_the_cpu_check_path(bench, capsys):
    assert bench.main(["dcgan", "--cpu-check", "--no-torch", "--batch", "2", "--steps", "1", "--warmup", "1"]) == 0
    out = capsys.readouterr().out
    assert "not GPU results" in out and "\ndcgan         2 " in out


def test_unknown_workloads_are_refused(bench):
    with pytest.raises(SystemExit, match="unknown workload"):
        bench.main(["dcgan128"])
