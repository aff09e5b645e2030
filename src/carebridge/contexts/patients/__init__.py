"""The patients context."""
