"""Benchmarks of the engine foundation: ``python -m bench.run`` (``make bench``)."""
