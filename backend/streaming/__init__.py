"""Turning the worker's event stream into something browsers and the API follow."""
