"""Tenants, their senders and users, and the audit trail of what was done to them."""
