"""The job side: Job base class, contracts, batches, chains, rate limits, middleware."""
