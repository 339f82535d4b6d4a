"""Entities and value objects of the gateway; nothing here knows about HTTP, SQL or Twilio."""
