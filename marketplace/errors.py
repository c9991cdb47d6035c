"""Domain errors raised by services, and the one place that turns errors into responses.

A service raises NotFound, Forbidden, Conflict or Invalid; the handler answers an HTML page, or
a JSON problem (RFC 9457 fields plus ``errors`` per field) for requests under /api/.
"""

from __future__ import annotations

from flask import Flask, Response, jsonify, render_template, request
from werkzeug.exceptions import HTTPException


class DomainError(Exception):
    status = 400
    title = "Bad request"

    def __init__(self, message: str, errors: dict[str, list[str]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors or {}


class Unauthorized(DomainError):
    status = 401
    title = "Unauthorized"


class NotFound(DomainError):
    status = 404
    title = "Not found"


class Forbidden(DomainError):
    status = 403
    title = "Forbidden"


class Conflict(DomainError):
    status = 409
    title = "Conflict"


class Invalid(DomainError):
    """Input that breaks a rule; ``errors`` maps field names to messages."""

    status = 422
    title = "Unprocessable content"


def wants_json() -> bool:
    return request.path.startswith("/api/")


def problem(status: int, title: str, detail: str, errors: dict | None = None) -> Response:
    body: dict[str, object] = {"type": "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    if errors:
        body["errors"] = errors
    response = jsonify(body)
    response.status_code = status
    return response


def _page(status: int, title: str, detail: str) -> tuple[str, int]:
    return render_template("errors/error.html", status=status, title=title, detail=detail), status


def handle_domain_error(error: DomainError) -> Response | tuple[str, int]:
    if wants_json():
        return problem(error.status, error.title, error.message, error.errors)
    return _page(error.status, error.title, error.message)


def handle_http_exception(error: HTTPException) -> Response | tuple[str, int]:
    status = error.code or 500
    title = error.name
    detail = error.description or ""
    if wants_json():
        data = getattr(error, "data", None) or {}
        errors = data.get("errors") or data.get("messages")
        if errors and set(errors) <= {"json", "query", "form", "files", "headers", "cookies"}:
            # {"json": {"field": [...]}} -> {"field": [...]}; a body that is no JSON object
            # at all gets a list: {"json": ["Invalid JSON body."]} stays under its location.
            errors = {
                k: v
                for location, messages in errors.items()
                for k, v in (
                    messages.items() if isinstance(messages, dict) else [(location, messages)]
                )
            }
        response = problem(
            status,
            title,
            data.get("message", detail if status != 422 else "The request has invalid fields."),
            errors,
        )
    else:
        response = _page(status, title, detail)
    headers = error.get_headers()
    extra = {k: v for k, v in headers if k.lower() not in ("content-type", "content-length")}
    if not extra:
        return response
    if isinstance(response, tuple):
        return response[0], response[1], extra
    response.headers.extend(extra)
    return response


def register_errorhandlers(app: Flask) -> None:
    app.register_error_handler(DomainError, handle_domain_error)
    app.register_error_handler(HTTPException, handle_http_exception)

