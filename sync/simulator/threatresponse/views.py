"""HTTP face of the simulated Threat Response: IROH token endpoint and the CTIA routes the product uses.

Thin on purpose: parse, authenticate, call `store`, render. Every request (token endpoint included) first takes
an injected fault, then waits SIMULATOR_LATENCY seconds.
"""

import base64
import binascii
import functools
import json
import logging
import time

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from sync.simulator.faults import take_fault
from sync.simulator.models import SimulatedFault
from sync.simulator.threatresponse import ctim, store

logger = logging.getLogger(__name__)


def _simulate(request: HttpRequest) -> HttpResponse | None:
    """The injected fault's answer, if one fires; a `slow` fault or SIMULATOR_LATENCY only delay the request."""
    fault = take_fault(api=SimulatedFault.Api.THREAT_RESPONSE)
    if fault is not None:
        logger.info("simulated threatresponse fault=%s kind=%s path=%s", fault.pk, fault.kind, request.path)
        if fault.kind == SimulatedFault.Kind.SERVER_ERROR:
            return JsonResponse({"error": "Internal Server Error"}, status=500)
        if fault.kind == SimulatedFault.Kind.RATE_LIMIT:
            response = JsonResponse({"error": "Too Many Requests"}, status=429)
            response["Retry-After"] = str(fault.retry_after)
            return response
        if fault.kind == SimulatedFault.Kind.BAD_REQUEST:
            return JsonResponse({"error": "Bad Request", "errors": ["simulated fault: request rejected"]}, status=400)
        if fault.kind == SimulatedFault.Kind.SLOW:
            time.sleep(fault.delay_seconds)
    if settings.SIMULATOR_LATENCY > 0:
        time.sleep(settings.SIMULATOR_LATENCY)
    return None


def _unauthorized(description: str) -> JsonResponse:
    response = JsonResponse({"error": "invalid_token", "error_description": description}, status=401)
    response["WWW-Authenticate"] = 'Bearer realm="ctia"'
    return response


def ctia_endpoint(view):
    """CSRF-exempt, faults and latency, then a valid Bearer token: the view gets the caller's `client_id`."""

    @csrf_exempt
    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if (faulted := _simulate(request)) is not None:
            return faulted
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return _unauthorized("Authorization: Bearer <access_token> is required")
        client_id = store.client_id_for_token(token.strip())
        if client_id is None:
            return _unauthorized("The access token is invalid or expired; request a new one")
        return view(request, *args, client_id=client_id, **kwargs)

    return wrapper


def _json_body(request: HttpRequest) -> tuple[object, JsonResponse | None]:
    try:
        return json.loads(request.body or b"null"), None
    except (ValueError, UnicodeDecodeError):
        return None, JsonResponse({"error": "Malformed JSON body"}, status=400)


def _ctia_base(request: HttpRequest) -> str:
    """The absolute URL of this simulator's `/ctia` root, on the host the caller used (long ids are built on it)."""
    path = request.path
    return request.build_absolute_uri(path[: path.index("/ctia/") + len("/ctia")])


def _basic_credentials(request: HttpRequest) -> tuple[str, str] | None:
    scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, sep, secret = decoded.partition(":")
    return (client_id, secret) if sep and client_id else None


@csrf_exempt
@require_POST
def token(request: HttpRequest) -> HttpResponse:
    """POST /iroh/oauth2/token: client credentials in HTTP Basic, `grant_type=client_credentials` in the form."""
    if (faulted := _simulate(request)) is not None:
        return faulted
    credentials = _basic_credentials(request)
    client = credentials and store.authenticate_client(client_id=credentials[0], client_secret=credentials[1])
    if not client:
        response = JsonResponse({"error": "invalid_client"}, status=401)
        response["WWW-Authenticate"] = 'Basic realm="iroh"'
        return response
    if request.POST.get("grant_type") != "client_credentials":
        return JsonResponse({"error": "unsupported_grant_type"}, status=400)
    logger.info("simulated threatresponse token issued client=%s", client.client_id)
    response = JsonResponse(store.token_response(client_id=client.client_id))
    response["Cache-Control"] = "no-store"
    return response


@ctia_endpoint
@require_POST
def bundle_import(request: HttpRequest, *, client_id: str) -> HttpResponse:
    """POST /ctia/bundle/import[?external-key-prefixes=p1,p2]."""
    bundle, error = _json_body(request)
    if error:
        return error
    prefixes = [p.strip() for p in request.GET.get("external-key-prefixes", "").split(",") if p.strip()]
    try:
        results = store.import_bundle(
            bundle=bundle, client_id=client_id, ctia_base=_ctia_base(request), external_key_prefixes=prefixes or None
        )
    except store.InvalidEntityError as exc:
        return JsonResponse({"error": "Invalid bundle", "errors": exc.errors}, status=400)
    except store.BundleTooLargeError as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    return JsonResponse({"results": results})


@ctia_endpoint
@require_POST
def create(request: HttpRequest, entity_type: str, *, client_id: str) -> HttpResponse:
    """POST /ctia/<sighting|incident|relationship>: 201 with the stored entity and `Location`."""
    if entity_type not in ctim.ENTITY_TYPES:
        return JsonResponse({"error": f"Unknown entity type {entity_type!r}"}, status=404)
    payload, error = _json_body(request)
    if error:
        return error
    try:
        entity = store.create_entity(
            entity_type=entity_type, payload=payload, client_id=client_id, ctia_base=_ctia_base(request)
        )
    except store.InvalidEntityError as exc:
        return JsonResponse({"error": f"Invalid {entity_type}", "errors": exc.errors}, status=400)
    except store.SpecifiedIdError as exc:
        return JsonResponse({"error": str(exc)}, status=403)
    response = JsonResponse(entity.body, status=201)
    response["Location"] = entity.entity_id
    return response


@ctia_endpoint
@require_GET
def detail(request: HttpRequest, entity_type: str, entity_id: str, *, client_id: str) -> HttpResponse:
    """GET /ctia/<type>/<short or long id>."""
    entity = store.get_entity(entity_type=entity_type, entity_id=entity_id)
    if entity is None:
        return JsonResponse({"error": "Not Found"}, status=404)
    return JsonResponse(entity.body)


@ctia_endpoint
@require_GET
def by_external_id(request: HttpRequest, entity_type: str, external_id: str, *, client_id: str) -> HttpResponse:
    """GET /ctia/<type>/external_id/<xid>: a list, possibly empty."""
    if entity_type not in ctim.ENTITY_TYPES:
        return JsonResponse({"error": f"Unknown entity type {entity_type!r}"}, status=404)
    entities = store.find_by_external_id(entity_type=entity_type, external_id=external_id)
    return JsonResponse([entity.body for entity in entities], safe=False)
