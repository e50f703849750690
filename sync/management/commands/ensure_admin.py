"""Create the first admin user for `make run` and print its password."""

import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create the superuser 'admin' with a random password if it does not exist, and print the password."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")

    def handle(self, *args, username, **options):
        password_file = settings.VAR_DIR / f"{username}-password.txt"
        user_model = get_user_model()
        if not user_model.objects.filter(username=username).exists():
            password = secrets.token_urlsafe(12)
            user_model.objects.create_superuser(username=username, email="", password=password)
            password_file.parent.mkdir(parents=True, exist_ok=True)
            password_file.touch(mode=0o600)
            password_file.chmod(0o600)  # touch() keeps the mode of a file left by an earlier database
            password_file.write_text(password + "\n")
            self.stdout.write(f"Created admin user: {username} / {password}  (also in {password_file})")
        elif password_file.is_file() and user_model.objects.get(username=username).check_password(
            password := password_file.read_text().strip()
        ):
            self.stdout.write(f"Admin user: {username} / {password}  (from {password_file})")
        else:
            self.stdout.write(f"Admin user {username} exists; its password was set elsewhere.")
