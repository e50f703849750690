"""The user's own API token: create, replace or revoke it; the key is shown once, right after it is made."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods
from rest_framework.authtoken.models import Token

# Enough to tell two tokens apart in a script's configuration, too little to use one.
SHOWN_PREFIX_LENGTH = 4


def _replace_token(*, user) -> Token:
    """A new token for the user; the old one (if any) stops working at once."""
    with transaction.atomic():
        Token.objects.filter(user=user).delete()
        return Token.objects.create(user=user)


def _revoke_token(*, user) -> bool:
    deleted, _ = Token.objects.filter(user=user).delete()
    return bool(deleted)


@never_cache  # the page that shows a new key must not be stored by a browser or a proxy
@login_required
@require_http_methods(["GET", "POST"])
def api_token(request: HttpRequest) -> HttpResponse:
    new_key = None
    if request.method == "POST":
        action = request.POST.get("action")
        if action in ("create", "replace"):
            new_key = _replace_token(user=request.user).key
        elif action == "revoke":
            if _revoke_token(user=request.user):
                messages.success(request, "Your API token was revoked: scripts using it are refused from now on.")
            else:
                messages.info(request, "You had no API token.")
            return redirect("web:api_token")
        else:
            messages.error(request, "Unknown action.")
            return redirect("web:api_token")
    token = Token.objects.filter(user=request.user).first()
    return render(
        request,
        "sync/api_token.html",
        {
            "token": token,
            "new_key": new_key,
            "key_prefix": token.key[:SHOWN_PREFIX_LENGTH] if token else "",
        },
    )
