"""`python -m workers`: the worker process's entry point.  The worker itself is backend.execution."""
