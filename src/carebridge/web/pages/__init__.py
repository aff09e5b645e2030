"""Pages that belong to no single context: home, the per-role dashboard, the language switch."""
