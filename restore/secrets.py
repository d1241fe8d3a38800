"""Encryption at rest for destination API secrets (Fernet, key from settings)."""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings


class SecretDecryptionError(Exception):
    """The stored secret cannot be decrypted with the configured key."""


def _fernet() -> Fernet:
    material = settings.LOOKERVAULT_ENCRYPTION_KEY or settings.SECRET_KEY
    digest = hashlib.sha256(("lookervault-secrets:" + material).encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def encrypt_secret(plaintext: str) -> str:
    return _fernet().encrypt(plaintext.encode()).decode()


def decrypt_secret(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise SecretDecryptionError(
            "the stored client secret cannot be decrypted: was LOOKERVAULT_ENCRYPTION_KEY or "
            "SECRET_KEY changed? Enter the secret again."
        ) from exc
