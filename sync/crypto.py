"""Encryption of stored secrets (API keys, client secrets, bot tokens).

``settings.FIELD_ENCRYPTION_KEYS`` lists Fernet keys, newest first: the newest encrypts, all of them decrypt
(MultiFernet), so a key is rotated by putting a new one in front and re-encrypting.
"""

from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class SecretDecryptionError(Exception):
    """A stored secret does not decrypt with any configured key."""


def fernet_keys(keys: tuple[str, ...]) -> list[Fernet]:
    """The configured keys as Fernet objects; ImproperlyConfigured (saying how to make one) when one is invalid.

    Settings call this at start-up, so production refuses to start with a bad key instead of failing later.
    """
    try:
        return [Fernet(key) for key in keys]
    except ValueError:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEY holds a value that is not a Fernet key (32 url-safe base64-encoded bytes; "
            'make one with: python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())")'
        ) from None


@lru_cache(maxsize=4)
def _multi_fernet(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEY is not set")
    return MultiFernet(fernet_keys(keys))


def _fernet() -> MultiFernet:
    return _multi_fernet(tuple(settings.FIELD_ENCRYPTION_KEYS))


def encrypt(plaintext: str) -> str:
    return _fernet().encrypt(plaintext.encode()).decode()


def decrypt(ciphertext: str) -> str:
    try:
        return _fernet().decrypt(ciphertext.encode()).decode()
    except InvalidToken:
        raise SecretDecryptionError(
            "a stored secret cannot be decrypted with FIELD_ENCRYPTION_KEY "
            "(was the key changed without keeping the old one listed after the new one?): enter the secret again"
        ) from None


def rotate(ciphertext: str) -> str:
    """Re-encrypt with the newest key (decrypting with whichever key works)."""
    try:
        return _fernet().rotate(ciphertext.encode()).decode()
    except InvalidToken:
        raise SecretDecryptionError("a stored secret cannot be decrypted with any FIELD_ENCRYPTION_KEY") from None


class Secret:
    """A stored secret, held encrypted until ``reveal()``.

    ``str()`` and ``repr()`` are masked, so a secret that reaches a log line, an error message or a template by
    accident shows nothing.
    """

    __slots__ = ("_ciphertext",)

    def __init__(self, ciphertext: str):
        self._ciphertext = ciphertext

    @classmethod
    def from_plaintext(cls, plaintext: str) -> "Secret":
        return cls(encrypt(plaintext))

    @property
    def ciphertext(self) -> str:
        return self._ciphertext

    def reveal(self) -> str:
        return decrypt(self._ciphertext)

    @property
    def last4(self) -> str:
        """The last four characters, to tell keys apart on a page; empty when it does not decrypt."""
        try:
            return self.reveal()[-4:]
        except SecretDecryptionError:
            return ""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._ciphertext == self._ciphertext

    def __hash__(self) -> int:
        return hash(self._ciphertext)

    def __repr__(self) -> str:
        return "<Secret: hidden>"

    __str__ = __repr__
