"""The operations layer (DESIGN.md §9).

The supervisor (master, supervisors, process pools, autoscaling), the dashboard with its
read models, and the Prometheus export.
"""
