"""The benchmark suite: ``uv run python -m bench`` (see docs/benchmarks.md)."""
