"""Shared fixtures: every op test runs on each backend (cpu, the strict test backend, cuda if present)."""
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

import scratchgan as sg
from tests import strict_backend

strict_backend.register()

settings.register_profile("default", max_examples=20, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                 HealthCheck.function_scoped_fixture])
settings.register_profile("thorough", parent=settings.get_profile("default"), max_examples=300)
# CI: the same examples on every run, so a red CI always names a reproducible failure (explore with "thorough")
settings.register_profile("ci", parent=settings.get_profile("default"), derandomize=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "default"))

DEVICES = [
    "cpu",
    "strict",
    pytest.param("cuda", marks=pytest.mark.skipif(not sg.cuda.is_available(),
                                                  reason="CuPy with a visible GPU is not available")),
]


@pytest.fixture(params=DEVICES)
def device(request):
    return request.param


@pytest.fixture(autouse=True)
def _seed():
    sg.manual_seed(0)
    np.random.seed(0)
