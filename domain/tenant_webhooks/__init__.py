"""Webhooks to a tenant's own systems: endpoints, signing secrets, events and deliveries."""
