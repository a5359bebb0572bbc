"""Backup and restore of queue contents as signed JSON lines (queue:export / queue:import)."""
