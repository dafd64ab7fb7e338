"""C <- alpha A B + beta C and y <- alpha x + y in place: BLAS's gemm with its beta, and its axpy,
which NumPy does not expose.

An SGD step on a Dense layer, W <- (1 - eta lambda) W - eta delta^T X, is exactly that product with
A = eta delta^T, B = X, alpha = -1 and beta = 1 - eta lambda. Through matmul it takes two passes:
the product into a new array, then a second pass over W to subtract it. ``gemm_update`` makes it one
call to the gemm of the BLAS that NumPy itself loaded (the OpenBLAS in NumPy's wheels), through
ctypes, so no second BLAS and no second thread pool. Where that library cannot be found or fails a
self-check against matmul (NumPy built against another BLAS, an older NumPy), it computes the same
update with matmul and the extra pass. A momentum step's v <- mu v - eta delta^T X is the same call
with beta = mu; ``axpy`` then moves W by a multiple of v in one pass, without the temporary that
``W += c * v`` allocates.
"""

from __future__ import annotations

import ctypes
import functools
import glob
import os

import numpy as np

_ROW_MAJOR, _NO_TRANS, _TRANS = 101, 111, 112  # the CBLAS enum values
# Below this many elements of C the pass over C that the direct call saves (a few microseconds)
# costs less than the ctypes call itself (about 6 us): matmul's way is faster there.
DIRECT_MIN = 1 << 16


def gemm_update(C: np.ndarray, A: np.ndarray, B: np.ndarray, alpha: float = 1.0, beta: float = 1.0) -> None:
    """C <- alpha A B + beta C, in place, for C (p x q), A (p x k) and B (k x q). beta = 0 ignores
    C's old values (NaN included), as BLAS does."""
    if C.size >= DIRECT_MIN and _direct(C, A, B, alpha, beta):
        return
    product = A @ B
    if beta == 0:
        np.multiply(product, alpha, out=C)
        return
    if beta != 1:
        C *= beta
    if alpha == 1:
        C += product
    elif alpha == -1:  # an SGD step
        C -= product
    else:
        C += alpha * product


def _direct(C: np.ndarray, A: np.ndarray, B: np.ndarray, alpha: float, beta: float) -> bool:
    """The update as one call to NumPy's BLAS gemm, if C is row-major, A and B lie row- or
    column-major, all share C's dtype and that BLAS was found; False (nothing done) otherwise."""
    gemm = _cblas_gemm().get(C.dtype.type) if C.flags.c_contiguous and A.dtype == B.dtype == C.dtype else None
    a, b = (_operand(A), _operand(B)) if gemm is not None and A.shape[1] else (None, None)
    if a is None or b is None:
        return False
    (trans_a, ld_a), (trans_b, ld_b) = a, b
    p, k = A.shape
    gemm(_ROW_MAJOR, trans_a, trans_b, p, B.shape[1], k, alpha, A.ctypes.data, ld_a, B.ctypes.data, ld_b, beta,
         C.ctypes.data, C.shape[1])
    return True


def _operand(M: np.ndarray) -> tuple[int, int] | None:
    """(transpose flag, leading dimension) that hand a row- or column-major 2-D array to a row-major
    gemm as it lies in memory; None for any other layout."""
    rows, cols = M.shape
    if M.flags.c_contiguous:
        return _NO_TRANS, max(1, cols)
    if M.flags.f_contiguous:
        return _TRANS, max(1, rows)
    return None


def axpy(alpha: float, x: np.ndarray, y: np.ndarray) -> None:
    """y <- alpha x + y in place: BLAS's axpy, one pass over x and y and no temporary, where both
    are contiguous arrays of one shape and dtype and large enough to pay for the call; otherwise
    the same through NumPy."""
    function = _cblas_axpy().get(y.dtype.type) if y.size >= DIRECT_MIN else None
    if function is None or x.dtype != y.dtype or x.shape != y.shape or not (
            x.flags.c_contiguous and y.flags.c_contiguous):
        y += alpha * x
        return
    function(y.size, alpha, x.ctypes.data, 1, y.ctypes.data, 1)


@functools.cache
def _cblas_axpy() -> dict:
    """{np.float32: saxpy, np.float64: daxpy} from the library ``_cblas_gemm`` found, if they agree
    with NumPy on a small example; {} otherwise."""
    gemm = _cblas_gemm()
    if not gemm:
        return {}
    lib, integer, suffix = _LIBRARY
    functions = {}
    for kind, letter in ((np.float32, "s"), (np.float64, "d")):
        try:
            function = getattr(lib, f"scipy_cblas_{letter}axpy{suffix}")
        except AttributeError:
            return {}
        scalar = ctypes.c_float if kind is np.float32 else ctypes.c_double
        function.argtypes = [integer, scalar, ctypes.c_void_p, integer, ctypes.c_void_p, integer]
        function.restype = None
        x, y = np.arange(5, dtype=kind), np.ones(5, dtype=kind)
        function(5, 2.0, x.ctypes.data, 1, y.ctypes.data, 1)
        if not np.array_equal(y, 2 * np.arange(5) + 1):
            return {}
        functions[kind] = function
    return functions


_LIBRARY: tuple = ()  # (the library, its integer type, its symbol suffix), once _cblas_gemm has found it


def available() -> bool:
    """Whether ``gemm_update`` calls BLAS directly (True) or falls back to matmul (False)."""
    return bool(_cblas_gemm())


@functools.cache
def _cblas_gemm() -> dict:
    """{np.float32: sgemm, np.float64: dgemm} from the OpenBLAS that NumPy's wheels bundle, if it is
    there and agrees with matmul on a small product of each layout; {} otherwise."""
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
    except Exception:  # NumPy before 1.26 has no such report: use the fallback
        return {}
    if blas.get("name") != "scipy-openblas":
        return {}
    ilp64 = "USE64BITINT" in blas.get("openblas configuration", "")
    integer = ctypes.c_int64 if ilp64 else ctypes.c_int
    suffix = "64_" if ilp64 else ""
    here = os.path.dirname(np.__file__)
    for path in glob.glob(os.path.join(here, os.pardir, "numpy.libs", "*scipy_openblas*")) + glob.glob(
            os.path.join(here, ".dylibs", "*scipy_openblas*")):
        try:
            lib = ctypes.CDLL(path)
            functions = {kind: getattr(lib, f"scipy_cblas_{letter}gemm{suffix}")
                         for kind, letter in ((np.float32, "s"), (np.float64, "d"))}
        except (OSError, AttributeError):
            continue
        for kind, function in functions.items():
            scalar = ctypes.c_float if kind is np.float32 else ctypes.c_double
            function.argtypes = [ctypes.c_int] * 3 + [integer] * 3 + [scalar, ctypes.c_void_p, integer,
                                                                     ctypes.c_void_p, integer, scalar,
                                                                     ctypes.c_void_p, integer]
            function.restype = None
        if _agrees_with_matmul(functions):
            global _LIBRARY
            _LIBRARY = (lib, integer, suffix)
            return functions
    return {}


def _agrees_with_matmul(functions: dict) -> bool:
    """Both gemms, on every layout of A and B, against matmul on a 5 x 3 x 4 product."""
    rng = np.random.default_rng(0)
    for kind, gemm in functions.items():
        A, B, C = (rng.standard_normal(shape).astype(kind) for shape in ((5, 3), (3, 4), (5, 4)))
        expected = 2.0 * (A @ B) + 0.5 * C
        for a in (A, np.asfortranarray(A)):
            for b in (B, np.asfortranarray(B)):
                out = C.copy()
                (trans_a, ld_a), (trans_b, ld_b) = _operand(a), _operand(b)
                gemm(_ROW_MAJOR, trans_a, trans_b, 5, 4, 3, 2.0, a.ctypes.data, ld_a, b.ctypes.data, ld_b, 0.5,
                     out.ctypes.data, 4)
                if not np.allclose(out, expected, rtol=1e-5, atol=1e-5):
                    return False
    return True
