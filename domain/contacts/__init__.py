"""A tenant's contacts: the people it writes to and hears from."""
