"""Where uploaded files (a prompt's images) are kept: a local folder, or Cloud Storage."""
