"""Who may use the API: reading needs the model's view permission, re-pushing needs the re-push permission.

The Analyst and Admin groups (migration 0004) hold both; superusers hold every permission.
"""

from rest_framework.permissions import BasePermission


class HasViewPermission(BasePermission):
    """The user may view the view's `model` (``<app>.view_<model>``)."""

    message = "You do not have permission to view these."

    def has_permission(self, request, view) -> bool:
        meta = view.model._meta
        return bool(request.user and request.user.has_perm(f"{meta.app_label}.view_{meta.model_name}"))


class CanRepushEvents(BasePermission):
    message = "You do not have permission to re-push events."

    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.has_perm("sync.repush_securityevent"))
