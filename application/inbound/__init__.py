"""Provider callbacks: messages customers send and status reports for the ones we sent."""
