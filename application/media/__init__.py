"""Media customers send: downloaded from their provider into the media store, and served to tenants."""
