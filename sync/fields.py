"""The one model field for secrets: stored encrypted, loaded as a masked ``Secret``."""

from django import forms
from django.db import models

from sync.crypto import Secret


class SecretFormField(forms.CharField):
    """Write-only: the stored value is never the initial data, so only a typed value counts as a change."""

    def has_changed(self, initial, data):
        return not self.disabled and bool(self.to_python(data))


class EncryptedSecretField(models.TextField):
    """Holds a secret encrypted at rest.

    Assign a plain ``str`` (it is encrypted on save) or a ``Secret``; reading from the database gives a ``Secret``
    (or ``None`` when empty). Forms get a password input that never renders the stored value.
    """

    def from_db_value(self, value, expression, connection):
        return Secret(value) if value else None

    def to_python(self, value):
        if value in (None, "") or isinstance(value, Secret):
            return value or None
        return value

    def get_prep_value(self, value):
        if value in (None, ""):
            return None
        if isinstance(value, Secret):
            return value.ciphertext
        return Secret.from_plaintext(str(value)).ciphertext

    def value_to_string(self, obj):
        value = self.value_from_object(obj)
        return value.ciphertext if isinstance(value, Secret) else ""

    def formfield(self, **kwargs):
        return SecretFormField(
            required=False,
            strip=True,
            widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
            label=kwargs.get("label", self.verbose_name),
            help_text=self.help_text,
        )
