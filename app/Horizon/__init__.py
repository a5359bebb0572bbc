"""Horizon: the supervisor (master, supervisors, process pools, autoscaling) and its operating commands."""
