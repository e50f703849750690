"""Django admin: organizations (write-only API key, sync now, test connection); runs and events read-only."""

from functools import partial

from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.utils.html import format_html
from rest_framework.authtoken.admin import TokenAdmin as DrfTokenAdmin
from rest_framework.authtoken.models import TokenProxy

from sync.crypto import Secret
from sync.fields import SecretFormField
from sync.models import (
    Incident,
    Organization,
    PromotionAttempt,
    SecurityEvent,
    SyncRun,
    ThreatResponseAccount,
    WebexRoom,
)
from sync.services.accounts import check_threat_response_credentials, send_test_message
from sync.services.organizations import ConnectionCheck, check_meraki_connection
from sync.services.repush import repush_events
from sync.tasks import sync_organization


class WriteOnlySecretsForm(forms.ModelForm):
    """Secret fields are never rendered back, so a blank one means "keep the stored secret"."""

    def clean(self):
        cleaned = super().clean()
        for name, field in self.fields.items():
            if isinstance(field, SecretFormField) and not cleaned.get(name):
                cleaned[name] = getattr(self.instance, name)
        return cleaned


def secret_status(secret: Secret | None) -> str:
    """What a page may say about a stored secret: whether it is set and its last four characters."""
    if not secret:
        return "not set"
    last4 = secret.last4
    return f"set, ending in …{last4}" if last4 else "set, but it does not decrypt: enter it again"


class OrganizationAdminForm(WriteOnlySecretsForm):
    class Meta:
        model = Organization
        fields = (
            "name", "meraki_org_id", "meraki_base_url", "enabled", "api_key", "initial_lookback", "overlap",
            "threat_response_account", "webex_room",
        )  # fmt: skip


def report(model_admin: admin.ModelAdmin, request, check: ConnectionCheck) -> None:
    model_admin.message_user(request, check.message, messages.SUCCESS if check.ok else messages.ERROR)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records written by the sync engine: viewable, never edited by hand."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    form = OrganizationAdminForm
    list_display = ("name", "meraki_org_id", "enabled", "api_key_status", "last_sync_status", "last_sync_at")
    list_filter = ("enabled", "last_sync_status")
    search_fields = ("name", "meraki_org_id")
    readonly_fields = (
        "api_key_status",
        "sync_cursor",
        "last_sync_status",
        "last_sync_at",
        "last_sync_error",
        "lease_expires_at",
        "created_at",
        "updated_at",
    )
    fieldsets = (
        (None, {"fields": ("name", "meraki_org_id", "meraki_base_url", "enabled")}),
        ("API key", {"fields": ("api_key_status", "api_key")}),
        ("Sync window", {"fields": ("initial_lookback", "overlap", "sync_cursor")}),
        ("Promotion", {"fields": ("threat_response_account", "webex_room")}),
        (
            "Last sync",
            {"fields": ("last_sync_status", "last_sync_at", "last_sync_error", "lease_expires_at")},
        ),
        ("Record", {"fields": ("created_at", "updated_at"), "classes": ("collapse",)}),
    )
    actions = ("sync_now", "test_connection")

    @admin.display(description="API key")
    def api_key_status(self, organization: Organization) -> str:
        return secret_status(organization.api_key)

    @admin.action(description="Sync now")
    def sync_now(self, request, queryset):
        for organization_id in queryset.values_list("pk", flat=True):
            transaction.on_commit(partial(sync_organization.delay, organization_id, "manual"))
        self.message_user(request, f"Sync queued for {queryset.count()} organization(s).", messages.SUCCESS)

    @admin.action(description="Test connection")
    def test_connection(self, request, queryset):
        for organization in queryset:
            report(self, request, check_meraki_connection(organization=organization))


@admin.register(SyncRun)
class SyncRunAdmin(ReadOnlyAdmin):
    list_display = (
        "organization", "started_at", "status", "trigger", "t0", "t1", "pages", "fetched", "created",
        "duplicates", "malformed", "rate_limited",
    )  # fmt: skip
    list_filter = ("status", "trigger", "organization")
    list_select_related = ("organization",)
    date_hierarchy = "started_at"


class PromotionAttemptInline(admin.TabularInline):
    """The history of tries at promoting and notifying one event."""

    model = PromotionAttempt
    fields = ("created_at", "kind", "trigger", "outcome", "error", "started_by")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Incident)
class IncidentAdmin(ReadOnlyAdmin):
    list_display = ("title", "organization", "severity", "status", "created_at", "console_link")
    list_filter = ("organization", "status")
    list_select_related = ("organization",)
    search_fields = ("title", "ctia_id")

    @admin.display(description="console")
    def console_link(self, incident: Incident) -> str:
        if not incident.console_link:
            return "—"
        return format_html('<a href="{}" rel="noopener noreferrer">open</a>', incident.console_link)


@admin.register(SecurityEvent)
class SecurityEventAdmin(ReadOnlyAdmin):
    inlines = (PromotionAttemptInline,)
    list_display = (
        "ts", "organization", "event_type", "priority", "src_ip", "dest_ip", "disposition", "promotion_status",
        "notification_status", "has_error",
    )  # fmt: skip
    list_filter = (
        "promotion_status", "notification_status", "event_type", "priority", "disposition", "blocked", "organization",
    )  # fmt: skip
    list_select_related = ("organization",)
    search_fields = ("src_ip", "dest_ip", "client_mac", "client_name", "file_hash", "signature", "message")
    show_full_result_count = False  # no COUNT(*) over the whole table on every page
    actions = ("repush",)

    def has_repush_permission(self, request) -> bool:
        return request.user.has_perm("sync.repush_securityevent")

    @admin.action(description="Re-push to Threat Response and Webex", permissions=("repush",))
    def repush(self, request, queryset):
        results = repush_events(event_ids=queryset.values_list("pk", flat=True), user=request.user)
        for run in results.values():
            failed = run.promotion.failed + run.notification.failed
            level = messages.WARNING if run.skipped else messages.ERROR if failed else messages.SUCCESS
            self.message_user(request, f"Re-push: {run.summary}", level)
        if not results:
            self.message_user(request, "Nothing to re-push: the selected events are not eligible.", messages.WARNING)

    @admin.display(boolean=True, description="parse error")
    def has_error(self, event: SecurityEvent) -> bool:
        return bool(event.parse_error)


@admin.register(ThreatResponseAccount)
class ThreatResponseAccountAdmin(admin.ModelAdmin):
    form = forms.modelform_factory(
        ThreatResponseAccount,
        form=WriteOnlySecretsForm,
        fields=("name", "region", "client_id", "client_secret", "token_url", "intel_url"),
    )
    list_display = ("name", "region", "client_id", "client_secret_status")
    readonly_fields = ("client_secret_status",)
    actions = ("test_credentials",)

    @admin.action(description="Test credentials")
    def test_credentials(self, request, queryset):
        for account in queryset:
            report(self, request, check_threat_response_credentials(account=account))

    @admin.display(description="client secret")
    def client_secret_status(self, account: ThreatResponseAccount) -> str:
        return secret_status(account.client_secret)


@admin.register(WebexRoom)
class WebexRoomAdmin(admin.ModelAdmin):
    form = forms.modelform_factory(
        WebexRoom, form=WriteOnlySecretsForm, fields=("name", "room_title", "bot_token", "base_url")
    )
    list_display = ("name", "room_title", "room_id", "bot_token_status")
    readonly_fields = ("room_id", "bot_token_status")
    actions = ("send_test_message",)

    def save_model(self, request, obj, form, change):
        # The cached room id belongs to the old title, token or API: look the room up again.
        if change and {"room_title", "bot_token", "base_url"} & set(form.changed_data):
            obj.room_id = ""
        super().save_model(request, obj, form, change)

    @admin.action(description="Send test message")
    def send_test_message(self, request, queryset):
        for room in queryset:
            report(self, request, send_test_message(room=room))

    @admin.display(description="bot token")
    def bot_token_status(self, room: WebexRoom) -> str:
        return secret_status(room.bot_token)


class TokenAdmin(DrfTokenAdmin):
    """API tokens: revocable here, but a key is never shown again in full (only its first four characters)."""

    list_display = ("key_start", "user", "created")
    fields = ("user",)

    @admin.display(description="key")
    def key_start(self, token) -> str:
        return f"{token.key[:4]}…"


admin.site.unregister(TokenProxy)
admin.site.register(TokenProxy, TokenAdmin)
