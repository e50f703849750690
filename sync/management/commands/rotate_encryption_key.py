"""Re-encrypt every stored secret with the newest FIELD_ENCRYPTION_KEY, so older keys can be removed."""

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from sync.crypto import Secret, SecretDecryptionError, rotate
from sync.fields import EncryptedSecretField


def encrypted_fields() -> list[tuple[type, EncryptedSecretField]]:
    """Every (model, field) storing a secret, in every installed app; proxies share their concrete model's table."""
    return [
        (model, field)
        for model in apps.get_models()
        if not model._meta.proxy
        for field in model._meta.concrete_fields
        if isinstance(field, EncryptedSecretField)
    ]


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored secret (API keys, client secrets, bot tokens) with the first FIELD_ENCRYPTION_KEY. "
        "Run it after putting a new key first and deploying that everywhere; then the old keys can be removed. "
        "Secrets that no listed key decrypts are reported by model and id, and the command exits non-zero."
    )

    def handle(self, *args, **options):
        failed = 0
        for model, field in encrypted_fields():
            rotated, changed, unreadable = self._rotate_field(model, field)
            name = f"{model._meta.label}.{field.name}"
            saved_meanwhile = f", {changed} saved anew during the run (left as saved)" if changed else ""
            self.stdout.write(f"{name}: {rotated} re-encrypted{saved_meanwhile}, {len(unreadable)} failed")
            for pk in unreadable:
                self.stderr.write(f"{name} id={pk}: does not decrypt with any FIELD_ENCRYPTION_KEY")
            failed += len(unreadable)
        if failed:
            raise CommandError(
                f"{failed} secret(s) could not be re-encrypted: they were encrypted with a key no longer listed; "
                "enter them again in admin (the rest were re-encrypted)"
            )

    @staticmethod
    def _rotate_field(model, field) -> tuple[int, int, list]:
        rotated, changed, unreadable = 0, 0, []
        rows = model._base_manager.exclude(**{f"{field.attname}__isnull": True}).order_by("pk")
        with transaction.atomic():
            for pk, secret in rows.values_list("pk", field.attname):
                if secret is None:  # an empty string reads as None: nothing to re-encrypt
                    continue
                try:
                    new = Secret(rotate(secret.ciphertext))
                except SecretDecryptionError:
                    unreadable.append(pk)
                    continue
                # Only if nobody saved a new value since it was read: that one is already under the newest key.
                if model._base_manager.filter(pk=pk, **{field.attname: secret}).update(**{field.attname: new}):
                    rotated += 1
                else:
                    changed += 1
        return rotated, changed, unreadable
