"""Emulators of the providers the gateway talks to, for development and tests.

They speak each provider's wire format and import nothing of the gateway (an import-linter contract).
"""
