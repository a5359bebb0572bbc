"""Small shared helpers (time)."""
