"""Helpers shared by several artisan commands."""
