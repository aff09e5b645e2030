"""Bounded contexts: one folder each, the same files each time (see DESIGN.md)."""
