"""The audit trail: an append-only record of job lifecycle events and operator actions (queue:audit)."""
