"""Which devices this process can use (jit's backend=None picks the GPU only when one is present)."""
import functools
import os


@functools.lru_cache(maxsize=None)
def gpu_available():
    """True when a CUDA GPU and CuPy are usable (never under the CUDA simulator)."""
    if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
        return False
    try:
        import cupy
        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False
