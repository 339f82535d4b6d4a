"""Messages, conversations and the rules of getting a message delivered."""
