"""Shared plumbing every context leans on; it imports no context."""
