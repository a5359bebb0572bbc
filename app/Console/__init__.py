"""The artisan console: a cleo Application with one command per file."""
