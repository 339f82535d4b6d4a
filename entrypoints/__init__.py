"""Entrypoints: the composition root, settings, the HTTP API and the CLI."""
