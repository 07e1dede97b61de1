"""Asynchronous batch jobs: uploads split into chunks in Redis, scored by `dialogic worker` processes."""
