"""The audit context."""
