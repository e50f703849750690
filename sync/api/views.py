"""The JSON API: events (with the events page's filters), incidents, sync runs, and re-push.

Scripts authenticate with a token (``Authorization: Token <key>``, made on /account/token/), the browser with its
session (and CSRF on POST). Token authentication comes first so an anonymous request gets 401 with a
``WWW-Authenticate`` header rather than 403.
"""

from django.http import HttpRequest, JsonResponse
from drf_spectacular.renderers import (
    OpenApiJsonRenderer,
    OpenApiJsonRenderer2,
    OpenApiYamlRenderer,
    OpenApiYamlRenderer2,
)
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from drf_spectacular.views import SpectacularAPIView
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import JSONParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param
from rest_framework.views import APIView

from sync.api.permissions import CanRepushEvents, HasViewPermission
from sync.api.serializers import (
    EVENT_FILTER_DESCRIPTIONS,
    EVENT_FILTER_SCHEMAS,
    MAX_REPUSH,
    VALIDATION_ERROR_SCHEMA,
    CursorQuerySerializer,
    ErrorSerializer,
    EventDetailSerializer,
    EventSerializer,
    IncidentDetailSerializer,
    IncidentQuerySerializer,
    IncidentSerializer,
    RepushRequestSerializer,
    RepushResponseSerializer,
    SyncRunQuerySerializer,
    SyncRunSerializer,
    form_errors,
    page_serializer,
)
from sync.filtersets import EventFilterForm
from sync.models import Incident, Organization, SecurityEvent, SyncRun
from sync.selectors.events import event_attempts, event_detail, event_page, events_for_analyst, failed_event_ids
from sync.selectors.incidents import incident_detail, incident_events, incident_page
from sync.selectors.runs import sync_run_page
from sync.services.repush import repush_events

AUTHENTICATION = [TokenAuthentication, SessionAuthentication]
INVALID_CURSOR = "Invalid cursor: follow the `next` link of the previous page."

ERRORS = {
    401: OpenApiResponse(ErrorSerializer, description="Not logged in and no valid token."),
    403: OpenApiResponse(ErrorSerializer, description="Logged in, without the permission this needs."),
}
NOT_FOUND = {404: OpenApiResponse(ErrorSerializer, description="No such object.")}
INVALID = {400: OpenApiResponse(VALIDATION_ERROR_SCHEMA, description="Invalid parameters, by parameter.")}
EVENT_FILTER_PARAMETERS = [
    OpenApiParameter(name, schema, OpenApiParameter.QUERY, description=EVENT_FILTER_DESCRIPTIONS[name])
    for name, schema in EVENT_FILTER_SCHEMAS.items()
]


class ReadView(APIView):
    """Reads of `model`: logged in (session or token) with its view permission."""

    authentication_classes = AUTHENTICATION
    permission_classes = [IsAuthenticated, HasViewPermission]
    model: type


def _validated(serializer_class, request: Request) -> dict:
    serializer = serializer_class(data=request.query_params)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _next_url(request: Request, name: str, value) -> str | None:
    return replace_query_param(request.build_absolute_uri(), name, value) if value is not None else None


class EventListView(ReadView):
    model = SecurityEvent

    @extend_schema(
        operation_id="events_list",
        summary="Events, newest first, filtered like the events page",
        parameters=[*EVENT_FILTER_PARAMETERS, CursorQuerySerializer],
        responses={200: page_serializer(EventSerializer, name="EventPage"), **INVALID, **ERRORS},
    )
    def get(self, request: Request) -> Response:
        page_query = CursorQuerySerializer(data=request.query_params)
        form = EventFilterForm(data=request.query_params)
        page_ok, form_ok = page_query.is_valid(), form.is_valid()
        if not (page_ok and form_ok):
            raise ValidationError({**page_query.errors, **form_errors(form)})
        params = page_query.validated_data
        try:
            page = event_page(
                queryset=events_for_analyst(form=form, include_raw=False),
                cursor=params.get("cursor"),
                limit=params["limit"],
            )
        except ValueError:
            raise ValidationError({"cursor": [INVALID_CURSOR]}) from None
        return Response(
            {
                "results": EventSerializer(page.items, many=True).data,
                "next": _next_url(request, "cursor", page.next_cursor),
            }
        )


class EventDetailView(ReadView):
    model = SecurityEvent

    @extend_schema(
        operation_id="events_retrieve",
        summary="One event: every field, the raw JSON, statuses and the history of attempts",
        responses={200: EventDetailSerializer, **ERRORS, **NOT_FOUND},
    )
    def get(self, request: Request, event_id: int) -> Response:
        event = event_detail(event_id=event_id)
        return Response(EventDetailSerializer(event, context={"attempts": event_attempts(event=event)}).data)


class IncidentListView(ReadView):
    model = Incident

    @extend_schema(
        operation_id="incidents_list",
        summary="Threat Response incidents created for promoted events, newest first",
        parameters=[IncidentQuerySerializer],
        responses={200: page_serializer(IncidentSerializer, name="IncidentPage"), **INVALID, **ERRORS},
    )
    def get(self, request: Request) -> Response:
        params = _validated(IncidentQuerySerializer, request)
        page = incident_page(organization=params.get("organization"), page=params["page"], limit=params["limit"])
        return Response(
            {
                "results": IncidentSerializer(page.items, many=True).data,
                "next": _next_url(request, "page", page.number + 1 if page.has_next else None),
            }
        )


class IncidentDetailView(ReadView):
    model = Incident

    @extend_schema(
        operation_id="incidents_retrieve",
        summary="One incident with its events",
        responses={200: IncidentDetailSerializer, **ERRORS, **NOT_FOUND},
    )
    def get(self, request: Request, incident_id: int) -> Response:
        incident = incident_detail(incident_id=incident_id)
        events = incident_events(incident=incident)
        return Response(IncidentDetailSerializer(incident, context={"events": events}).data)


class SyncRunListView(ReadView):
    model = SyncRun

    @extend_schema(
        operation_id="sync_runs_list",
        summary="Sync runs, newest first",
        parameters=[SyncRunQuerySerializer],
        responses={200: page_serializer(SyncRunSerializer, name="SyncRunPage"), **INVALID, **ERRORS},
    )
    def get(self, request: Request) -> Response:
        params = _validated(SyncRunQuerySerializer, request)
        try:
            page = sync_run_page(
                organization=params.get("organization"), cursor=params.get("cursor"), limit=params["limit"]
            )
        except ValueError:
            raise ValidationError({"cursor": [INVALID_CURSOR]}) from None
        return Response(
            {
                "results": SyncRunSerializer(page.items, many=True).data,
                "next": _next_url(request, "cursor", page.next_cursor),
            }
        )


class RepushView(APIView):
    """Re-push events to Threat Response and Webex now, and answer what happened per organization."""

    authentication_classes = AUTHENTICATION
    permission_classes = [IsAuthenticated, CanRepushEvents]
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="events_repush",
        summary="Re-push events by id, or the failed events matching a filter",
        description=(
            "Runs promotion and notification for the events now (it can take a while) and answers per "
            f"organization. With `filter`, the newest {MAX_REPUSH} failed events matching it are re-pushed. "
            "Safe to repeat: nothing is created twice in Threat Response."
        ),
        request=RepushRequestSerializer,
        responses={200: RepushResponseSerializer, **INVALID, **ERRORS},
    )
    def post(self, request: Request) -> Response:
        serializer = RepushRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        form = serializer.validated_data.get("filter")
        if form is not None:
            queryset = events_for_analyst(form=form, include_raw=False)
            ids = failed_event_ids(queryset=queryset, limit=MAX_REPUSH + 1)
        else:
            ids = list(dict.fromkeys(serializer.validated_data["ids"]))
        truncated, ids = len(ids) > MAX_REPUSH, ids[:MAX_REPUSH]
        results = repush_events(event_ids=ids, user=request.user) if ids else {}
        organizations = Organization.objects.in_bulk(list(results))
        return Response(
            RepushResponseSerializer(
                {
                    "selected": len(ids),
                    "truncated": truncated,
                    "organizations": [
                        {
                            "organization": organizations[organization_id],
                            "skipped": run.skipped,
                            "summary": run.summary,
                            "promotion": run.promotion,
                            "notification": run.notification,
                        }
                        for organization_id, run in results.items()
                    ],
                }
            ).data
        )


def not_found(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"detail": "Not found."}, status=404)


class SchemaView(SpectacularAPIView):
    """The OpenAPI 3 schema of this API: JSON unless YAML is asked for (``?format=yaml`` or by Accept)."""

    authentication_classes = AUTHENTICATION
    permission_classes = [IsAuthenticated]
    renderer_classes = [OpenApiJsonRenderer2, OpenApiJsonRenderer, OpenApiYamlRenderer, OpenApiYamlRenderer2]
