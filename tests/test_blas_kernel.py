"""Which OpenBLAS kernel set the engine runs (kernels.py, "which OpenBLAS kernels").

On an AMD Zen 4 CPU the engine asks OpenBLAS at import to use its Haswell (AVX2) kernels instead of
its AVX-512 ones, which are slower there.  These tests check the rule on CPU descriptions written
here, that a user's OPENBLAS_CORETYPE is obeyed, and, with the real library, that the switch works
and that GEMMs under either kernel set agree to float32 rounding.
"""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import scratchgan.kernels as K

ROOT = Path(__file__).resolve().parents[1]


def cpuinfo(vendor, family, flags):
    one = f"processor\t: 0\nvendor_id\t: {vendor}\ncpu family\t: {family}\nmodel\t\t: 17\nflags\t\t: {flags}\n"
    return one + "\n" + one.replace("processor\t: 0", "processor\t: 1")


ZEN4 = cpuinfo("AuthenticAMD", 25, "fpu sse2 avx2 fma avx512f avx512bw avx512vl")
ZEN3 = cpuinfo("AuthenticAMD", 25, "fpu sse2 avx2 fma")
ZEN5 = cpuinfo("AuthenticAMD", 26, "fpu sse2 avx2 fma avx512f avx512bw avx512vl")
ICELAKE = cpuinfo("GenuineIntel", 6, "fpu sse2 avx2 fma avx512f avx512bw avx512vl")


def test_cpu_identity_reads_the_first_processor():
    cpu = K.cpu_identity(ZEN4)
    assert cpu["vendor_id"] == "AuthenticAMD" and cpu["cpu family"] == "25" and "avx512f" in cpu["flags"].split()
    assert K.cpu_identity("") == {}


@pytest.mark.parametrize("core", K.AVX512_CORES)
def test_zen4_with_avx512_kernels_switches_to_haswell(core):
    assert K.preferred_blas_core(core, ZEN4, None) == "Haswell"
    assert K.preferred_blas_core(core, ZEN4, "") == "Haswell"  # an empty variable is no choice


@pytest.mark.parametrize("core, info", [
    ("SkylakeX", ICELAKE),   # Intel runs 512-bit FMAs at full width
    ("SkylakeX", ZEN5),      # so does Zen 5
    ("Haswell", ZEN3),       # no AVX-512: OpenBLAS already runs AVX2 kernels
    ("Haswell", ZEN4),       # already the Haswell set
    ("Zen", ZEN4),
    ("SkylakeX", "garbage without fields"),
])
def test_other_cpus_and_kernels_keep_openblas_choice(core, info):
    assert K.preferred_blas_core(core, info, None) is None


def test_a_users_coretype_is_obeyed():
    assert K.preferred_blas_core("SkylakeX", ZEN4, "SkylakeX") is None
    assert K.preferred_blas_core("SkylakeX", ZEN4, "Haswell") is None


live = pytest.mark.skipif(K.blas_kernel() is None, reason="needs an OpenBLAS built for many CPUs (NumPy's wheels)")


@pytest.fixture
def own_choice():
    """OpenBLAS's own kernel set for this CPU; the import-time one is restored afterwards."""
    at_import = K.blas_kernel()
    try:
        yield K.set_blas_kernel(None)
    finally:
        assert K.set_blas_kernel(at_import) == at_import


@live
def test_import_applies_the_rule_to_this_machine(own_choice):
    with open("/proc/cpuinfo") as f:
        info = f.read()
    expected = K.preferred_blas_core(own_choice, info, None) or own_choice
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_CORETYPE"}
    env["PYTHONPATH"] = str(ROOT)
    code = "import os, scratchgan.kernels as K; print(K.blas_kernel(), os.environ.get('OPENBLAS_CORETYPE'))"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert out.split() == [expected, "None"]  # and the variable is not left behind for child processes
    env["OPENBLAS_CORETYPE"] = own_choice
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert out.split() == [own_choice, own_choice]


@live
def test_switching_kernels_changes_only_rounding(own_choice):
    with open("/proc/cpuinfo") as f:
        if "avx2" not in K.cpu_identity(f.read()).get("flags", "").split():
            pytest.skip("the Haswell kernels need AVX2")
    env_before = os.environ.get("OPENBLAS_CORETYPE")
    rng = np.random.default_rng(0)
    a = rng.standard_normal((300, 700)).astype(np.float32)
    b = rng.standard_normal((700, 200)).astype(np.float32)
    exact = a.astype(np.float64) @ b.astype(np.float64)
    results = {}
    for core in (own_choice, "Haswell"):
        assert K.set_blas_kernel(core) == core
        results[core] = a @ b
        assert os.environ.get("OPENBLAS_CORETYPE") == env_before
    for got in results.values():
        np.testing.assert_allclose(got, exact, rtol=1e-4, atol=1e-4 * np.abs(exact).max())
    np.testing.assert_allclose(results["Haswell"], results[own_choice], rtol=1e-5, atol=1e-5 * np.abs(exact).max())


# ---- how long OpenBLAS's idle threads spin (kernels.py, BLAS_THREAD_TIMEOUT) ----------------------
spin_live = pytest.mark.skipif(K.blas_thread_timeout() is None, reason="needs NumPy's OpenBLAS (its thread server)")


def fresh(code, **env_changes):
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_THREAD_TIMEOUT", "GOTO_THREAD_TIMEOUT",
                                                           "SCRATCHGAN_NUM_THREADS")}
    env.update(PYTHONPATH=str(ROOT), **env_changes)
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout.split()


@spin_live
def test_import_shortens_the_spin_and_leaves_no_variable_behind():
    code = "import os, scratchgan.kernels as K; print(K.blas_thread_timeout(), os.environ.get('OPENBLAS_THREAD_TIMEOUT'))"
    assert fresh(code, SCRATCHGAN_NUM_THREADS="2") == [str(K.BLAS_THREAD_TIMEOUT), "None"]
    assert fresh(code, SCRATCHGAN_NUM_THREADS="2", OPENBLAS_THREAD_TIMEOUT="24") == ["24", "24"]  # the user's
    assert fresh(code, SCRATCHGAN_NUM_THREADS="1") == ["0", "None"]  # lanes off: OpenBLAS as it started


@spin_live
def test_idle_blas_threads_stop_spinning_soon_after_a_product():
    # CPU time of the whole process while it sleeps 300 ms right after a 2-thread GEMM: OpenBLAS's default
    # spin burns about 100 ms of it (measured), the engine's ~0.4 ms almost none
    code = ("import resource, time, numpy as np, scratchgan\n"
            "a = np.ones((512, 512), np.float32)\n"
            "def cpu(): r = resource.getrusage(resource.RUSAGE_SELF); return r.ru_utime + r.ru_stime\n"
            "spent = []\n"
            "for _ in range(3):\n"
            "    a @ a; c = cpu(); time.sleep(0.3); spent.append(cpu() - c)\n"
            "print(min(spent))")
    short = float(fresh(code, SCRATCHGAN_NUM_THREADS="2", OPENBLAS_NUM_THREADS="2")[0])
    default = float(fresh(code, SCRATCHGAN_NUM_THREADS="2", OPENBLAS_NUM_THREADS="2", OPENBLAS_THREAD_TIMEOUT="28")[0])
    assert short < 0.02 and default > 2 * short + 0.02, (short, default)
