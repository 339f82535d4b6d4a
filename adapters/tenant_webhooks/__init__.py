"""Delivering tenants' webhooks over HTTP: where they may go, and the sender."""
