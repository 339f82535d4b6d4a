"""The benchmark suite: ``uv run python -m bench`` (see BENCHMARKS.md)."""
