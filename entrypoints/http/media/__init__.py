"""Media customers sent, as the gateway keeps them: ``GET /api/media/{id}``."""
