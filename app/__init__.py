"""The application package: jobs, queue, models, console."""
