"""The practitioners context."""
