"""Sending messages, dispatching them to their provider, history and conversations."""
