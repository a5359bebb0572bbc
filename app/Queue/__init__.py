"""The queue side: manager, drivers, payloads, worker, failed jobs."""
