"""Tenants: carry a tenant with each job, restore its context on the worker, share queues fairly."""
