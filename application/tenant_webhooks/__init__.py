"""Webhooks to tenants' own systems: endpoints, the events recorded, and their delivery."""
