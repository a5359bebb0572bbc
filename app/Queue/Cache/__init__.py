"""The cache store behind statuses, flags, locks and counters."""
