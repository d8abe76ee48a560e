"""Encryption at rest for provider keys (Fernet: AES-128-CBC + HMAC)."""
from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet
from django.conf import settings


def _fernet() -> Fernet:
    key = settings.CREDENTIALS_KEY
    if not key:
        # Derive a stable key from SECRET_KEY so a default install works; a
        # deployment sets CREDENTIALS_KEY to rotate it independently.
        key = base64.urlsafe_b64encode(hashlib.sha256(("credentials:" + settings.SECRET_KEY).encode()).digest()).decode()
    return Fernet(key.encode())


def encrypt(plaintext: str) -> bytes:
    return _fernet().encrypt(plaintext.encode())


def decrypt(token: bytes) -> str:
    return _fernet().decrypt(token).decode()
