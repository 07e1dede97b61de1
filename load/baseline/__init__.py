"""The naive baseline server the bench compares the service with."""
