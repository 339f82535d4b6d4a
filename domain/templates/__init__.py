"""Message templates: what a business may send outside WhatsApp's 24-hour window."""
