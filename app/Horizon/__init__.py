"""The operations layer (DESIGN.md §9): the Horizon-style dashboard, its read models and the Prometheus export."""
