"""Outbound connections the server makes on a user's behalf."""
