"""Where browsers send Content-Security-Policy violation reports: each one is logged at
WARNING, so that a page the policy breaks, or an injection it stopped, is seen.

Both report formats are read: ``report-uri``'s ``application/csp-report`` (one
``{"csp-report": {...}}``) and the Reporting API's ``application/reports+json`` (a list of
``{"type": "csp-violation", "body": {...}}``). Anyone may post here, so the body is bounded,
the requests per address are limited, at most a few reports of a request are logged, each
field is cut short and stripped of control characters, and junk gets a 400, never a 500.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from flask import Blueprint, current_app, request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge

from marketplace.extensions import csrf, limiter
from marketplace.headers.policy import REPORT_PATH

log = logging.getLogger(__name__)

bp = Blueprint("headers", __name__)

MAX_BODY_BYTES = 32 * 1024
MAX_REPORTS = 10
MAX_FIELD_CHARS = 300
#: The fields logged, under both formats' names (report-uri's kebab-case, Reporting API's
#: camelCase).
FIELDS = {
    "document": ("document-uri", "documentURL"),
    "directive": ("effective-directive", "effectiveDirective", "violated-directive"),
    "blocked": ("blocked-uri", "blockedURL"),
    "source": ("source-file", "sourceFile"),
    "line": ("line-number", "lineNumber"),
    "sample": ("script-sample", "sample"),
}


def _report_limit() -> str:
    return current_app.config["CSP_REPORT_RATE_LIMIT"]


def _clean(value: object) -> str:
    text = str(value)[:MAX_FIELD_CHARS]
    return "".join(c if c.isprintable() else "?" for c in text)


def violations(payload: Any) -> list[dict[str, Any]]:
    """The violation bodies in a parsed report, in either format; [] for anything else."""
    if isinstance(payload, dict) and isinstance(payload.get("csp-report"), dict):
        return [payload["csp-report"]]
    if isinstance(payload, list):
        return [
            report["body"]
            for report in payload[:MAX_REPORTS]
            if isinstance(report, dict)
            and report.get("type") == "csp-violation"
            and isinstance(report.get("body"), dict)
        ]
    return []


def summary(violation: dict[str, Any]) -> str:
    parts = []
    for label, names in FIELDS.items():
        value = next((violation[n] for n in names if violation.get(n) not in (None, "")), None)
        if value is not None:
            parts.append(f"{label}={_clean(value)}")
    return " ".join(parts)


@bp.route(REPORT_PATH, methods=["POST"])
@csrf.exempt
@limiter.limit(_report_limit)
def csp_report() -> ResponseReturnValue:
    if (request.content_length or 0) > MAX_BODY_BYTES:
        raise RequestEntityTooLarge()
    # Cached: the JSON body guard (marketplace.input_guards) may have read it already. A
    # chunked body, with no length to check first, is bounded by MAX_CONTENT_LENGTH.
    body = request.get_data(cache=True)
    if len(body) > MAX_BODY_BYTES:
        raise RequestEntityTooLarge()
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError) as error:  # UnicodeDecodeError is a ValueError
        raise BadRequest("The body is not a violation report.") from error
    found = violations(payload)
    if not found:
        raise BadRequest("The body is not a violation report.")
    for violation in found:
        log.warning("Content-Security-Policy violation: %s", summary(violation))
    return "", 204
