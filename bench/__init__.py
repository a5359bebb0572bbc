"""Benchmarks run by `make bench`: throughput, latency and memory per driver."""
