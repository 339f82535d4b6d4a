"""Who a caller is: login sessions, refresh tokens and API keys."""
