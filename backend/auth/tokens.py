"""Secrets handed to browsers and scripts: random tokens, stored only as SHA-256.

A database dump therefore holds no usable session, API token or share link.
SHA-256 (not a slow hash) is right here: the tokens carry 256 random bits, so
there is nothing to brute-force, and lookups stay one indexed equality.
"""

from __future__ import annotations

import hashlib
import secrets

TOKEN_BYTES = 32  # 256 bits


def new_token(prefix: str = "") -> str:
    return prefix + secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()
