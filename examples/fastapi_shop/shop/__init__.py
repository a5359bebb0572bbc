"""A FastAPI shop: its own package name (`shop`), dispatching jobs to this framework's workers."""
