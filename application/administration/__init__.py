"""Tenants, users, senders and credentials, and the audit trail of changes to them."""
