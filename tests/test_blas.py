"""blas.gemm_update (C <- alpha A B + beta C) and blas.axpy (y <- alpha x + y) in place, through
NumPy's own BLAS where it is found and through NumPy where it is not; both paths must agree with the
formula on every layout."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chainrule import blas

LAYOUTS = {
    "C": lambda M: M,
    "F": np.asfortranarray,
    "transposed view": lambda M: np.ascontiguousarray(M.T).T,
    "strided slice": lambda M: np.repeat(M, 2, axis=1)[:, ::2],  # neither C- nor F-contiguous
}


@pytest.fixture(params=["BLAS", "matmul fallback"])
def path(request, monkeypatch):
    if request.param == "matmul fallback":
        monkeypatch.setattr(blas, "_cblas_gemm", lambda: {})
        monkeypatch.setattr(blas, "_cblas_axpy", lambda: {})
    elif not blas.available():
        pytest.skip("NumPy here does not bundle scipy-openblas; the fallback is tested on its own")
    else:
        monkeypatch.setattr(blas, "DIRECT_MIN", 0)  # the direct call even for the small examples
    return request.param


# the path fixture holds for every example of the test, which is what is wanted here
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(p=st.integers(1, 9), k=st.integers(1, 9), q=st.integers(1, 9),
       alpha=st.sampled_from([1.0, -1.0, 0.37, -2.5]), beta=st.sampled_from([1.0, 0.0, 0.999, -0.5]),
       layout_a=st.sampled_from(sorted(LAYOUTS)), layout_b=st.sampled_from(sorted(LAYOUTS)),
       dtype=st.sampled_from([np.float32, np.float64]), seed=st.integers(0, 2**16))
def test_gemm_update_is_alpha_a_b_plus_beta_c(path, p, k, q, alpha, beta, layout_a, layout_b, dtype, seed):
    rng = np.random.default_rng(seed)
    A = LAYOUTS[layout_a](rng.standard_normal((p, k)).astype(dtype))
    B = LAYOUTS[layout_b](rng.standard_normal((k, q)).astype(dtype))
    C = rng.standard_normal((p, q)).astype(dtype)
    expected = alpha * (A.astype(np.float64) @ B.astype(np.float64)) + beta * C.astype(np.float64)
    buffer = C
    blas.gemm_update(C, A, B, alpha, beta)
    assert C is buffer and C.dtype == dtype  # in place, dtype kept
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(C, expected, rtol=tol, atol=tol)


def test_beta_zero_ignores_nan_in_c(path):
    A, B = np.ones((2, 3), np.float32), np.ones((3, 4), np.float32)
    C = np.full((2, 4), np.nan, np.float32)
    blas.gemm_update(C, A, B, 2.0, 0.0)
    np.testing.assert_array_equal(C, np.full((2, 4), 6.0, np.float32))


def test_an_sgd_step_on_a_large_weight_matrix(path):
    """The case it exists for: W <- W - (eta delta)^T X with W 800 x 784 and a batch of 128, delta
    column-major as the backward pass leaves it."""
    rng = np.random.default_rng(1)
    W = rng.standard_normal((800, 784)).astype(np.float32)
    delta = np.asfortranarray(rng.standard_normal((128, 800)).astype(np.float32) * 1e-3)
    X = rng.random((128, 784), dtype=np.float32)
    expected = W.astype(np.float64) - delta.T.astype(np.float64) @ X.astype(np.float64)
    blas.gemm_update(W, delta.T, X, -1.0, 1.0)
    np.testing.assert_allclose(W, expected, rtol=1e-5, atol=1e-5)


def test_other_dtypes_and_a_non_contiguous_c_use_the_fallback():
    rng = np.random.default_rng(2)
    A, B = rng.standard_normal((3, 2)), rng.standard_normal((2, 5))
    C = np.asfortranarray(rng.standard_normal((3, 5)))
    expected = C - A @ B
    blas.gemm_update(C, A, B, -1.0, 1.0)
    np.testing.assert_allclose(C, expected, rtol=1e-12)
    Ci = np.zeros((3, 5), np.float32)
    blas.gemm_update(Ci, A.astype(np.float32), B.astype(np.float64), 1.0, 1.0)  # mixed dtypes
    np.testing.assert_allclose(Ci, A @ B, rtol=1e-6)


def test_numpy_wheels_get_the_direct_gemm():
    """Where NumPy reports its bundled scipy-openblas (its wheels on Linux, Windows and Intel Macs),
    the library must be found: a silent fallback would cost every SGD step a pass over W."""
    info = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
    if info.get("name") != "scipy-openblas":
        pytest.skip(f"NumPy here uses {info.get('name')}, not the wheels' scipy-openblas")
    assert blas.available()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(shape=st.tuples(st.integers(1, 9), st.integers(1, 9)), alpha=st.sampled_from([1.0, -0.9, 1.9, 0.0]),
       layout=st.sampled_from(sorted(LAYOUTS)), dtype=st.sampled_from([np.float32, np.float64]),
       seed=st.integers(0, 2**16))
def test_axpy_is_alpha_x_plus_y_in_place(path, shape, alpha, layout, dtype, seed):
    """y <- alpha x + y, written into y itself, on every layout of x (the direct call takes
    contiguous arrays only, the rest go through NumPy), with and without NumPy's BLAS."""
    rng = np.random.default_rng(seed)
    x = LAYOUTS[layout](rng.standard_normal(shape).astype(dtype))
    y = rng.standard_normal(shape).astype(dtype)
    expected, kept = alpha * x + y, y
    blas.axpy(alpha, x, y)
    assert y is kept
    np.testing.assert_allclose(y, expected, rtol=1e-6 if dtype == np.float32 else 1e-14, atol=1e-6)


@pytest.mark.parametrize("dtype_a, dtype_b, dtype_c", [
    (np.float32, np.float64, np.float32), (np.float64, np.float32, np.float32), (np.float64, np.float64, np.float32),
    (np.float32, np.float32, np.float64), (np.float64, np.float32, np.float64),
])
def test_operands_of_another_dtype_than_c_give_the_formula_on_either_path(path, dtype_a, dtype_b, dtype_c):
    """The direct gemm reads A and B as C's dtype: an operand of another dtype must take the matmul
    way, even where C is large enough for the direct call (DIRECT_MIN is 0 on the BLAS path here)."""
    rng = np.random.default_rng(3)
    A, B = rng.standard_normal((4, 3)).astype(dtype_a), rng.standard_normal((3, 5)).astype(dtype_b)
    C = rng.standard_normal((4, 5)).astype(dtype_c)
    expected = -1.0 * (A.astype(np.float64) @ B.astype(np.float64)) + 0.5 * C.astype(np.float64)
    blas.gemm_update(C, A, B, -1.0, 0.5)
    assert C.dtype == dtype_c
    np.testing.assert_allclose(C, expected, rtol=1e-5, atol=1e-5)
