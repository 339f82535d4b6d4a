"""A tenant's contacts: the book, its import and export."""
