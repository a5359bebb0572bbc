"""Built-in artisan commands."""
