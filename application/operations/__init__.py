"""What operators need: readiness and measurements."""
