"""Running tasks: take run tasks off the broker, stream the provider, publish events.

The worker lives here, in backend, so the runtime's embedded worker and the worker
processes (`python -m workers`, the thin entry point in workers/) share one code path
and nothing in backend imports upwards.
"""
