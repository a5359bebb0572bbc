"""The scheduler behind routes/console.py: events (what, when, constraints, options) and their runner."""
