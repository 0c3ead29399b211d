"""LLM workers: take run tasks off the broker, stream the provider, publish events."""
