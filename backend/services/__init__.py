"""The service layer shared by the Reflex page and the HTTP API."""
