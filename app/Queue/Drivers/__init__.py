"""Queue drivers: sync (in-process), database (SQLite, MySQL/MariaDB), redis."""
