"""Campaigns: an approved template sent to many recipients by one sender, at a pace."""
