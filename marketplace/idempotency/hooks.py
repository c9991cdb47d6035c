"""``Idempotency-Key`` on every API write, with Stripe's semantics, in one place.

A POST, PUT, PATCH or DELETE under /api/ may carry ``Idempotency-Key: <1 to 255 visible ASCII
characters>`` (a UUID v4, say). Keys belong to the authenticated API user and are kept for 24
hours (``keys.KEEP_FOR``; the scheduled ``purge_idempotency_keys`` job deletes older ones).

- The first request with a key runs; its answer (status, body, Content-Type and Location) is
  stored once the endpoint has run, 4xx included (a 409 or 422 from a service is the answer).
- The same key with the same request (method, path, query and body: its bytes, or for an
  upload its fields and files, since each try has its own multipart boundary) gets that answer
  again, with ``Idempotent-Replayed: true``; the endpoint does not run again.
- The same key with another request: 422. While the first request still runs: 409.
- Nothing is stored, and the key is free again, when the endpoint did not run or did not
  finish: input refused by the schema (a 422 or 400 before the endpoint began; fix it and send
  it again under the same key, as Stripe does), a 5xx or an exception. A worker killed
  mid-request leaves the key held until ``IDEMPOTENCY_LOCK_SECONDS`` have passed; then a retry
  takes it over.
- Unless the endpoint had committed its work: its first commit marks the key in the same
  transaction (``work_committed_at``). Then a 5xx answer is stored like any other, and a key
  whose worker died before answering gets 409 for good, never a second run.
- A malformed key is a 400 problem naming the header.

The hooks run after authentication (``marketplace.auth``): the key is claimed before the
request's input is parsed; the API blueprints' view functions are wrapped to note that the
endpoint began and whether its input was refused; ``after_request`` stores or releases.
"""

from __future__ import annotations

import functools
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from flask import Flask, Response, current_app, g, has_request_context, request
from sqlalchemy import event
from sqlalchemy.orm import Session
from werkzeug.exceptions import HTTPException

from marketplace.api import IDEMPOTENCY_HEADER, IDEMPOTENCY_KEY_MAX, REPLAYED_HEADER
from marketplace.auth import SAFE_METHODS, api_user
from marketplace.errors import DomainError
from marketplace.idempotency import keys

log = logging.getLogger(__name__)

#: Headers of the first answer that a replay repeats (others, such as rate limits, are the
#: replay's own).
REPLAYED_HEADERS = ("Content-Type", "Location")
_STATE = "idempotency_request"


@dataclass
class _Request:
    held: keys.Held
    endpoint_began: bool = False
    input_refused: bool = False
    #: The endpoint committed work (``keys.note_committed_work``): never run it again.
    work_committed: bool = False


def register_idempotency(app: Flask) -> None:
    """Hook the API's writes. Call after the API blueprints and ``protect_api``."""
    api_blueprints = app.extensions["flask-smorest"]["blp_name_to_api"]
    for endpoint, view in list(app.view_functions.items()):
        if endpoint.partition(".")[0] in api_blueprints:
            app.view_functions[endpoint] = _noting_the_endpoint(view)
    app.before_request(_claim)
    app.after_request(_answer)
    app.teardown_request(_let_go)
    if not event.contains(Session, "before_commit", _noting_committed_work):
        event.listen(Session, "before_commit", _noting_committed_work)


def _noting_committed_work(session: Session) -> None:
    """The first commit once the endpoint began marks the key in that same transaction, so a
    worker killed between the commit and storing the answer leaves a key that is never run
    again (its retries get 409), never a key that runs the work twice."""
    if not has_request_context():
        return
    state: _Request | None = g.get(_STATE)
    if state is None or not state.endpoint_began or state.work_committed:
        return
    state.work_committed = True
    keys.note_committed_work(session, state.held)


def _applies() -> bool:
    return (
        request.method not in SAFE_METHODS
        and request.routing_exception is None
        and request.blueprint in current_app.extensions["flask-smorest"]["blp_name_to_api"]
        and IDEMPOTENCY_HEADER in request.headers
    )


def checked_key(raw: str) -> str:
    """The key, or a 400 problem: 1 to 255 visible ASCII characters."""
    if not 1 <= len(raw) <= IDEMPOTENCY_KEY_MAX or not all("!" <= c <= "~" for c in raw):
        raise DomainError(
            f"The {IDEMPOTENCY_HEADER} header must be 1 to {IDEMPOTENCY_KEY_MAX} visible ASCII "
            "characters (a UUID, say).",
            {IDEMPOTENCY_HEADER: [f"Use 1 to {IDEMPOTENCY_KEY_MAX} visible ASCII characters."]},
        )
    return raw


def fingerprint() -> str:
    """What makes two requests the same: method, path, query and body. The body is its bytes,
    except for a multipart form (an upload), whose boundary a client draws anew for every
    try: its fields, and its files' names and contents."""
    digest = hashlib.sha256()
    for part in (request.method.encode(), request.path.encode(), request.query_string):
        digest.update(hashlib.sha256(part).digest())
    if request.mimetype == "multipart/form-data":
        for name, value in sorted(request.form.items(multi=True)):
            digest.update(hashlib.sha256(f"{name}={value}".encode()).digest())
        for name, upload in sorted(request.files.items(multi=True), key=lambda f: f[0]):
            content = hashlib.sha256(upload.stream.read()).hexdigest()
            upload.stream.seek(0)
            digest.update(hashlib.sha256(f"{name}:{upload.filename}:{content}".encode()).digest())
    else:
        digest.update(hashlib.sha256(request.get_data(cache=True)).digest())
    return digest.hexdigest()


def _claim() -> Response | None:
    if not _applies():
        return None
    key = checked_key(request.headers[IDEMPOTENCY_HEADER])
    hold = timedelta(seconds=current_app.config["IDEMPOTENCY_LOCK_SECONDS"])
    outcome = keys.claim(api_user().id, key, fingerprint(), hold)
    if isinstance(outcome, keys.Stored):
        replay = current_app.response_class(outcome.body, status=outcome.status_code)
        for name, value in outcome.headers:
            replay.headers[name] = value
        replay.headers[REPLAYED_HEADER] = "true"
        replay.headers[IDEMPOTENCY_HEADER] = key
        return replay
    g.setdefault(_STATE, _Request(outcome))
    return None


def _noting_the_endpoint(view: Callable[..., Any]) -> Callable[..., Any]:
    """The view, noting for ``_answer`` that it began and whether its input was refused (the
    schema's 422, or a 400 for a body that is no JSON: webargs raises both, before the
    endpoint's own code runs)."""

    @functools.wraps(view)
    def run(*args: Any, **kwargs: Any) -> Any:
        state: _Request | None = g.get(_STATE)
        if state is None:
            return view(*args, **kwargs)
        state.endpoint_began = True
        try:
            return view(*args, **kwargs)
        except HTTPException as error:
            # webargs's refusals: the schema's errors, or a body that is no JSON at all
            state.input_refused = getattr(error, "exc", None) is not None and "messages" in (
                getattr(error, "data", None) or {}
            )
            raise

    return run


def _answer(response: Response) -> Response:
    state: _Request | None = g.pop(_STATE, None)
    if state is None:
        return response
    response.headers[IDEMPOTENCY_HEADER] = request.headers[IDEMPOTENCY_HEADER]
    try:
        if (
            state.endpoint_began
            and not state.input_refused
            and (response.status_code < 500 or state.work_committed)
            and not response.is_streamed
        ):
            headers = [[n, response.headers[n]] for n in REPLAYED_HEADERS if n in response.headers]
            keys.answer(state.held, response.status_code, response.get_data(), headers)
        else:
            keys.release(state.held)
    except Exception:
        # The endpoint's work is committed and its answer is on its way: never turn it into a
        # 500 (a retry would run the work again). The key stays held until its hold lapses.
        log.exception("could not store the answer for an Idempotency-Key")
    return response


def _let_go(_error: BaseException | None) -> None:
    """A request that ended without ``_answer`` (it raised past every handler): free its key."""
    state: _Request | None = g.pop(_STATE, None)
    if state is not None:
        try:
            keys.release(state.held)
        except Exception:
            log.exception("could not release an Idempotency-Key; its hold will lapse")
