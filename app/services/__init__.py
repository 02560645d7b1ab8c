"""The application layer: commands that check their rules and append events, the actor passed in."""
