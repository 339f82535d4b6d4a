"""Login, sessions, API keys, and what needs a person rather than a key."""
