"""Plain settings read from the environment and `.env` when a process starts."""
