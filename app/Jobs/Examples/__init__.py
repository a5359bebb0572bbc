"""Example jobs from the seed documents; dispatchable and runnable as they are."""
