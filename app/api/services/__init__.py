"""What the HTTP routes call: queries and (later) writes, kept apart from HTTP concerns."""
