"""Load tests and benchmarks: Locust profiles, the one-run bench and the naive baseline server."""
