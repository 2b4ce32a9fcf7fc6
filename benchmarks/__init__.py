"""s2s benchmarks against hand-written NumPy, autograd and JAX: `python benchmarks/run.py`."""
