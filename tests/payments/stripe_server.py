"""A small fake of the Stripe API on 127.0.0.1, for the real stripe SDK to talk to.

No stripe-mock binary can be had here, and monkeypatching the SDK would test nothing of the
wire format: the production StripeProvider runs against this server via STRIPE_API_BASE.

It answers what the marketplace uses: POST /v1/checkout/sessions, /v1/refunds, and for Connect
payouts /v1/accounts, /v1/account_links and /v1/transfers, with form-encoded bodies
(``line_items[0][price_data][currency]=usd``) as the SDK sends them. It
keeps what Stripe keeps that matters here: sessions, their PaymentIntents (paid once the test
calls ``complete``), how much of each was refunded, and responses by Idempotency-Key (the same
key answers the same response and creates nothing; the same key with other parameters is an
``idempotency_error``). ``fail`` makes the next matching request(s) answer a Stripe error.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import hmac
import json
import re
import secrets
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

API_VERSION = "2025-09-30.clover"


def sign(payload: str, secret: str, timestamp: int | None = None) -> str:
    """A ``Stripe-Signature`` header for ``payload``, as Stripe computes it."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(
        secret.encode(), f"{timestamp}.{payload}".encode(), hashlib.sha256
    ).hexdigest()
    return f"t={timestamp},v1={digest}"


def _nest(params: dict[str, str]) -> dict[str, Any]:
    """``{"a[0][b]": "1"}`` -> ``{"a": [{"b": "1"}]}``: Stripe's form encoding, decoded."""
    root: dict[str, Any] = {}
    for key, value in params.items():
        parts = re.findall(r"[^\[\]]+", key)
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value

    def lists(node: Any) -> Any:
        if not isinstance(node, dict):
            return node
        if node and all(k.isdigit() for k in node):
            return [lists(node[k]) for k in sorted(node, key=int)]
        return {k: lists(v) for k, v in node.items()}

    return lists(root)


@dataclass
class Received:
    """One request the server received, whatever it answered."""

    method: str
    path: str
    params: dict[str, str]  # form-decoded, flat: {"metadata[payment_id]": "7"}
    data: dict[str, Any]  # the same, nested: {"metadata": {"payment_id": "7"}}
    headers: dict[str, str]  # lower-cased names
    status: int = 0
    replayed: bool = False  # answered from the idempotency cache
    received_at: float = field(default_factory=time.monotonic)  # when it arrived

    @property
    def idempotency_key(self) -> str | None:
        return self.headers.get("idempotency-key")

    @property
    def stripe_version(self) -> str | None:
        return self.headers.get("stripe-version")


@dataclass
class Failure:
    status: int
    error: dict[str, Any]
    path: str | None
    after: int
    times: int
    headers: dict[str, str] = field(default_factory=dict)


#: Payout faults (see ``FakeStripe.payout_fault``), what Stripe does to a sender on a bad day.
PAYOUT_FAULTS = ("saved_500", "timeout", "drop", "hold", "rate_limit")


@dataclass
class PayoutFault:
    kind: str
    path: str
    keys: set[str] | None  # only requests with one of these idempotency keys (None: any)
    times: int  # how many matching requests it answers
    create: bool = False
    delay: float = 5.0
    retry_after: int = 1


@dataclass
class RateBucket:
    """A token bucket: ``per_second`` requests a second, in bursts of at most as many."""

    per_second: float
    tokens: float
    at: float

    def take(self, now: float) -> bool:
        self.tokens = min(self.per_second, self.tokens + (now - self.at) * self.per_second)
        self.at = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


class ApiError(Exception):
    def __init__(self, status: int, type_: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.body = {"error": {"type": type_, "message": message, **extra}}


def _id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


def _amount(value: str | None, param: str) -> int:
    if value is None or not re.fullmatch(r"\d+", value):
        raise ApiError(400, "invalid_request_error", f"Invalid integer: {value}", param=param)
    return int(value)


class FakeStripe:
    """The server and its state. ``url`` goes into STRIPE_API_BASE."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.sessions: dict[str, dict[str, Any]] = {}
        self.payment_intents: dict[str, dict[str, Any]] = {}
        self.refunds: dict[str, dict[str, Any]] = {}
        self.accounts: dict[str, dict[str, Any]] = {}
        self.transfers: dict[str, dict[str, Any]] = {}
        self._hold_after: dict[str, int] = {}  # path -> creations to let through, then hold
        self._held = threading.Event()
        self._idempotent: dict[str, tuple[str, dict[str, str], int, dict[str, Any]]] = {}
        self._failures: list[Failure] = []
        self._payout_faults: list[PayoutFault] = []
        self._rate_limits: dict[str, RateBucket] = {}
        self._per_second: float | None = None
        self._webhook: tuple[str, str] | None = None  # (url, secret): immediate webhooks
        self.webhook_answers: list[int] = []
        self._webhook_threads: list[threading.Thread] = []
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        host, port = self._server.server_address[:2]
        self.url = f"http://{host}:{port}"

    # -- life cycle ------------------------------------------------------------------------

    def start(self) -> FakeStripe:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # wakes answers held back by a "timeout" fault
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    # -- knobs and helpers for tests -------------------------------------------------------

    def fail(
        self,
        status: int = 402,
        type: str = "card_error",  # noqa: A002  (Stripe's own field name)
        message: str = "Your card was declined.",
        *,
        code: str | None = "card_declined",
        path: str | None = None,
        after: int = 0,
        times: int = 1,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Answer the next ``times`` requests (to ``path``, if given) with a Stripe error,
        after letting ``after`` of them through. An error is not saved under its idempotency
        key, so a retry with the same key goes through (as after a network failure)."""
        error: dict[str, Any] = {"type": type, "message": message}
        if code:
            error["code"] = code
        with self._lock:
            self._failures.append(Failure(status, error, path, after, times, headers or {}))

    def posts(self, path: str) -> list[Received]:
        """The requests to ``path`` that created something (no replays, no errors)."""
        return [
            r
            for r in self.requests
            if r.method == "POST" and r.path == path and r.status == 200 and not r.replayed
        ]

    def complete(self, session_id: str) -> dict[str, Any]:
        """The seeker paid on the Checkout page: returns the session as Stripe now shows it."""
        with self._lock:
            session = self.sessions[session_id]
            session.update(status="complete", payment_status="paid")
            self.payment_intents[session["payment_intent"]]["status"] = "succeeded"
            return copy.deepcopy(session)

    def event(self, type_: str, obj: dict[str, Any]) -> dict[str, Any]:
        """A webhook event as Stripe sends it (snapshot payload)."""
        return {
            "id": _id("evt"),
            "object": "event",
            "api_version": API_VERSION,
            "created": int(time.time()),
            "data": {"object": obj},
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "type": type_,
        }

    def enable_payouts(self, account_id: str) -> dict[str, Any]:
        """The solver finished onboarding: returns the account as ``account.updated`` shows."""
        with self._lock:
            account = self.accounts[account_id]
            account.update(
                payouts_enabled=True, details_submitted=True, charges_enabled=True,
                capabilities={"transfers": "active"},
            )  # fmt: skip
            return copy.deepcopy(account)

    def hold_after(self, path: str, creations: int) -> None:
        """Let ``creations`` requests to ``path`` create something, then create the next one
        but keep its answer back until ``release``: the caller never hears of it (as when it
        crashes between sending a request and recording the answer)."""
        with self._lock:
            self._hold_after[path] = creations
            self._held.clear()

    def release(self) -> None:
        self._held.set()

    def _must_hold(self, received: Received) -> bool:
        left = self._hold_after.get(received.path)
        if left is None or received.status != 200 or received.replayed:
            return False
        if left > 0:
            self._hold_after[received.path] = left - 1
            return False
        del self._hold_after[received.path]
        return True

    def refunded(self, payment_intent: str) -> int:
        return sum(
            r["amount"] for r in self.refunds.values() if r["payment_intent"] == payment_intent
        )

    # -- the API -----------------------------------------------------------------------------

    def _create_session(self, data: dict[str, Any]) -> dict[str, Any]:
        for param in ("mode", "success_url", "line_items"):
            if not data.get(param):
                raise ApiError(
                    400, "invalid_request_error", f"Missing required param: {param}.", param=param
                )
        if data["mode"] != "payment":
            raise ApiError(400, "invalid_request_error", "Only mode=payment here.", param="mode")
        total, currencies = 0, set()
        for index, item in enumerate(data["line_items"]):
            price = item.get("price_data") or {}
            param = f"line_items[{index}][price_data]"
            currency = price.get("currency", "")
            if not re.fullmatch(r"[a-z]{3}", currency):
                raise ApiError(
                    400, "invalid_request_error", f"Invalid currency: {currency}.",
                    param=f"{param}[currency]",
                )  # fmt: skip
            if not (price.get("product_data") or {}).get("name"):
                raise ApiError(
                    400, "invalid_request_error", "Missing required param: product_data[name].",
                    param=f"{param}[product_data][name]",
                )  # fmt: skip
            unit = _amount(price.get("unit_amount"), f"{param}[unit_amount]")
            total += unit * _amount(item.get("quantity", "1"), f"line_items[{index}][quantity]")
            currencies.add(currency)
        if len(currencies) != 1:
            raise ApiError(400, "invalid_request_error", "Line items must share a currency.")
        currency = currencies.pop()
        session_id = _id("cs_test")
        payment_intent = _id("pi")
        intent_metadata = (data.get("payment_intent_data") or {}).get("metadata") or {}
        self.payment_intents[payment_intent] = {
            "id": payment_intent,
            "object": "payment_intent",
            "amount": total,
            "currency": currency,
            "status": "requires_payment_method",
            "metadata": intent_metadata,
        }
        session = {
            "id": session_id,
            "object": "checkout.session",
            "mode": "payment",
            "url": f"https://checkout.stripe.com/c/pay/{session_id}",
            "payment_intent": payment_intent,
            "payment_status": "unpaid",
            "status": "open",
            "amount_total": total,
            "currency": currency,
            "metadata": data.get("metadata") or {},
            "client_reference_id": data.get("client_reference_id"),
            "success_url": data["success_url"],
            "cancel_url": data.get("cancel_url"),
            "livemode": False,
            "created": int(time.time()),
        }
        self.sessions[session_id] = session
        return session

    def _create_refund(self, data: dict[str, Any]) -> dict[str, Any]:
        payment_intent = data.get("payment_intent")
        intent = self.payment_intents.get(payment_intent or "")
        if intent is None:
            raise ApiError(
                400, "invalid_request_error", f"No such payment_intent: '{payment_intent}'",
                code="resource_missing", param="payment_intent",
            )  # fmt: skip
        if intent["status"] != "succeeded":
            raise ApiError(
                400, "invalid_request_error",
                f"This PaymentIntent ({payment_intent}) does not have a successful charge to "
                "refund.", param="payment_intent",
            )  # fmt: skip
        left = intent["amount"] - self.refunded(payment_intent)
        amount = _amount(data["amount"], "amount") if "amount" in data else left
        if amount <= 0 or amount > left:
            raise ApiError(
                400, "invalid_request_error",
                f"Refund amount ({amount}) is greater than unrefunded amount on charge ({left})",
                param="amount",
            )  # fmt: skip
        refund = {
            "id": _id("re"),
            "object": "refund",
            "amount": amount,
            "currency": intent["currency"],
            "payment_intent": payment_intent,
            "status": "succeeded",
            "metadata": data.get("metadata") or {},
            "created": int(time.time()),
        }
        self.refunds[refund["id"]] = refund
        return refund

    def _create_account(self, data: dict[str, Any]) -> dict[str, Any]:
        if data.get("type") not in ("express", "standard", "custom"):
            raise ApiError(400, "invalid_request_error", "Invalid type.", param="type")
        account = {
            "id": _id("acct"),
            "object": "account",
            "type": data["type"],
            "email": data.get("email"),
            "payouts_enabled": False,
            "charges_enabled": False,
            "details_submitted": False,
            "capabilities": {"transfers": "inactive"},
            "metadata": data.get("metadata") or {},
            "created": int(time.time()),
        }
        self.accounts[account["id"]] = account
        return account

    def _create_account_link(self, data: dict[str, Any]) -> dict[str, Any]:
        account = data.get("account", "")
        if account not in self.accounts:
            raise ApiError(
                400, "invalid_request_error", f"No such account: '{account}'",
                code="resource_missing", param="account",
            )  # fmt: skip
        for param in ("type", "return_url", "refresh_url"):
            if not data.get(param):
                raise ApiError(
                    400, "invalid_request_error", f"Missing required param: {param}.", param=param
                )
        return {
            "object": "account_link",
            "url": f"https://connect.stripe.com/setup/e/{account}/{secrets.token_hex(8)}",
            "created": int(time.time()),
            "expires_at": int(time.time()) + 300,
        }

    def _create_transfer(self, data: dict[str, Any]) -> dict[str, Any]:
        amount = _amount(data.get("amount"), "amount")
        destination = self.accounts.get(data.get("destination", ""))
        if destination is None:
            raise ApiError(
                400, "invalid_request_error", f"No such destination: '{data.get('destination')}'",
                code="resource_missing", param="destination",
            )  # fmt: skip
        if not destination["payouts_enabled"]:
            raise ApiError(
                400, "invalid_request_error",
                "Your destination account needs to have at least one of the following "
                "capabilities enabled: transfers, crypto_transfers, legacy_payments",
                code="insufficient_capabilities_for_transfer", param="destination",
            )  # fmt: skip
        transfer = {
            "id": _id("tr"),
            "object": "transfer",
            "amount": amount,
            "currency": data.get("currency"),
            "destination": destination["id"],
            "description": data.get("description"),
            "metadata": data.get("metadata") or {},
            "transfer_group": data.get("transfer_group"),
            "reversed": False,
            "created": int(time.time()),
        }
        self.transfers[transfer["id"]] = transfer
        return transfer

    _ROUTES = {
        "/v1/checkout/sessions": "_create_session",
        "/v1/refunds": "_create_refund",
        "/v1/accounts": "_create_account",
        "/v1/account_links": "_create_account_link",
        "/v1/transfers": "_create_transfer",
    }

    def _failure_for(self, path: str) -> Failure | None:
        for failure in self._failures:
            if failure.path not in (None, path):
                continue
            if failure.after > 0:
                failure.after -= 1
                return None
            failure.times -= 1
            if failure.times <= 0:
                self._failures.remove(failure)
            return failure
        return None

    def _answer(self, received: Received) -> tuple[int, dict[str, Any], dict[str, str]]:
        """(status, body, extra headers) for one request; runs under the lock."""
        if not received.headers.get("authorization", "").startswith("Bearer sk_"):
            raise ApiError(401, "invalid_request_error", "Invalid API Key provided.")
        limited = self._rate_limited(received)
        if limited is not None:
            return limited
        if received.method == "GET" and received.path in self._LISTS:
            return 200, getattr(self, self._LISTS[received.path])(received.data), {}
        route = self._ROUTES.get(received.path)
        if received.method != "POST" or route is None:
            raise ApiError(
                404, "invalid_request_error",
                f"Unrecognized request URL ({received.method}: {received.path}).",
            )  # fmt: skip
        key = received.idempotency_key
        if key and key in self._idempotent:
            path, params, status, body = self._idempotent[key]
            if path != received.path or params != received.params:
                raise ApiError(
                    400, "idempotency_error",
                    "Keys for idempotent requests can only be used with the same parameters "
                    "they were first used with.",
                )  # fmt: skip
            received.replayed = True
            return status, body, {"Idempotent-Replayed": "true"}
        failure = self._failure_for(received.path)
        if failure is not None:
            return failure.status, {"error": dict(failure.error)}, failure.headers
        saved_error = self._saved_error(received, route)
        if saved_error is not None:
            return saved_error
        body = copy.deepcopy(getattr(self, route)(received.data))
        if key:
            self._idempotent[key] = (received.path, received.params, 200, body)
        return 200, body, {}

    # -- payout faults and transfer lists (tests/payouts) ------------------------------------
    #
    # Per idempotency key:
    # - "saved_500": a 500 that Stripe saves under the key and replays for every later request
    #   with that key (for 24 hours); with ``create=True`` the transfer was made before it.
    # - "timeout": the request is carried out (transfer made, answer saved under the key), and
    #   the answer comes ``delay`` seconds later, after the caller gave up.
    # - "drop": the request is carried out, then the connection is closed with no answer.
    # - "hold": the request is carried out, and its answer kept back until ``release()``
    #   (the test kills the caller meanwhile).
    # - "rate_limit": 429 with ``Retry-After``; nothing is done or saved.
    # ``rate_limit(per_second)`` answers 429 beyond that many requests a second per endpoint.

    def payout_fault(
        self,
        kind: str,
        *,
        keys: Iterable[str] | None = None,
        times: int = 1,
        path: str = "/v1/transfers",
        create: bool = False,
        delay: float = 5.0,
        retry_after: int = 1,
    ) -> None:
        """Answer the next ``times`` requests to ``path`` (with one of ``keys``) with the
        fault ``kind``."""
        if kind not in PAYOUT_FAULTS:
            raise ValueError(f"unknown fault {kind!r}")
        chosen = None if keys is None else set(keys)
        with self._lock:
            if kind == "hold":
                self._held.clear()
            self._payout_faults.append(
                PayoutFault(kind, path, chosen, times, create, delay, retry_after)
            )

    def rate_limit(self, per_second: float | None) -> None:
        """Answer 429 (Retry-After: 1) beyond ``per_second`` requests a second to each
        endpoint; None lifts the limit."""
        with self._lock:
            self._per_second = per_second
            self._rate_limits = {}

    def send_webhooks(self, url: str | None, secret: str = "") -> None:
        """Post a signed ``transfer.created`` to ``url`` for every transfer made, while the
        request that made it is being answered (as Stripe may); None stops it."""
        self._webhook = None if url is None else (url, secret)

    def wait_for_webhooks(self, seconds: float = 60) -> list[int]:
        """Wait for the webhooks posted so far to be answered; returns their HTTP statuses."""
        for thread in list(self._webhook_threads):
            thread.join(timeout=seconds)
        return list(self.webhook_answers)

    def _start_webhook(self, received: Received, answer: dict[str, Any]) -> None:
        if self._webhook is None or received.path != "/v1/transfers":
            return
        if received.method != "POST" or received.status != 200 or received.replayed:
            return
        event = self.event("transfer.created", answer)
        event["request"] = {"id": _id("req"), "idempotency_key": received.idempotency_key}
        thread = threading.Thread(target=self._post_webhook, args=(event,), daemon=True)
        self._webhook_threads.append(thread)
        thread.start()

    def _post_webhook(self, event: dict[str, Any]) -> None:
        url, secret = self._webhook or ("", "")
        payload = json.dumps(event)
        request = urllib.request.Request(
            url, data=payload.encode(), method="POST",
            headers={"Content-Type": "application/json", "Stripe-Signature": sign(payload, secret)},
        )  # fmt: skip
        try:
            with urllib.request.urlopen(request, timeout=60) as answer:
                status = answer.status
        except urllib.error.HTTPError as error:
            status = error.code
        with self._lock:
            self.webhook_answers.append(status)

    def transfers_of(self, line_id: int) -> list[dict[str, Any]]:
        """The transfers made for one payout line (by its metadata)."""
        return [
            t for t in self.transfers.values()
            if t["metadata"].get("payout_line_id") == str(line_id)
        ]  # fmt: skip

    def _take_fault(self, received: Received, kinds: tuple[str, ...]) -> PayoutFault | None:
        for fault in self._payout_faults:
            if fault.kind not in kinds or fault.path != received.path:
                continue
            if fault.keys is not None and received.idempotency_key not in fault.keys:
                continue
            fault.times -= 1
            if fault.times <= 0:
                self._payout_faults.remove(fault)
            return fault
        return None

    def _rate_limited(self, received: Received) -> tuple[int, dict, dict[str, str]] | None:
        body = {"error": {"type": "invalid_request_error", "code": "rate_limit",
                          "message": "Too many requests hit the API too quickly."}}  # fmt: skip
        per_second = self._per_second
        if per_second:
            bucket = self._rate_limits.setdefault(
                received.path, RateBucket(per_second, per_second, time.monotonic())
            )
            if not bucket.take(time.monotonic()):
                return 429, body, {"Retry-After": "1"}
        fault = self._take_fault(received, ("rate_limit",))
        if fault is None:
            return None
        return 429, body, {"Retry-After": str(fault.retry_after)}

    def _saved_error(self, received: Received, route: str) -> tuple[int, dict, dict] | None:
        fault = self._take_fault(received, ("saved_500",))
        if fault is None:
            return None
        if fault.create:
            getattr(self, route)(received.data)
        body = {"error": {"type": "api_error", "message": "An unknown error occurred."}}
        if received.idempotency_key:
            self._idempotent[received.idempotency_key] = (
                received.path, received.params, 500, body,
            )  # fmt: skip
        return 500, body, {}

    def _transport_fault(self, received: Received) -> PayoutFault | None:
        """A "timeout", "drop" or "hold" for a request carried out (or replayed)."""
        if received.status != 200:
            return None
        return self._take_fault(received, ("timeout", "drop", "hold"))

    def _list_transfers(self, data: dict[str, Any]) -> dict[str, Any]:
        """GET /v1/transfers, newest first: by ``transfer_group``, ``destination`` and
        ``created[gte|gt|lte|lt]``; ``limit`` and ``starting_after`` page through them."""
        found = list(reversed(self.transfers.values()))
        for name in ("transfer_group", "destination"):
            if name in data:
                found = [t for t in found if t.get(name) == data[name]]
        created = data.get("created")
        if isinstance(created, dict):
            compare = {"gte": int.__ge__, "gt": int.__gt__, "lte": int.__le__, "lt": int.__lt__}
            for name, value in created.items():
                bound = _amount(value, f"created[{name}]")
                found = [t for t in found if compare[name](t["created"], bound)]
        if "starting_after" in data:
            ids = [t["id"] for t in found]
            if data["starting_after"] not in ids:
                raise ApiError(
                    400, "invalid_request_error", "No such transfer.", param="starting_after"
                )
            found = found[ids.index(data["starting_after"]) + 1 :]
        limit = min(_amount(data.get("limit", "10"), "limit"), 100)
        return {"object": "list", "url": "/v1/transfers", "has_more": len(found) > limit,
                "data": copy.deepcopy(found[:limit])}  # fmt: skip

    _LISTS = {"/v1/transfers": "_list_transfers"}

    # -- reversals made only at Stripe, and transfer events (webhooks, reconciliation) ------

    def reverse_here(self, transfer_id: str, amount: int | None = None) -> dict[str, Any]:
        """Reverse a transfer at the fake only (as from Stripe's dashboard), all of it or
        ``amount``; returns the transfer as ``transfer.reversed`` shows it."""
        with self._lock:
            transfer = self.transfers[transfer_id]
            done = transfer.get("amount_reversed", 0)
            amount = transfer["amount"] - done if amount is None else amount
            if amount <= 0 or done + amount > transfer["amount"]:
                raise ValueError(f"cannot reverse {amount} of {transfer_id}")
            reversal = {
                "id": _id("trr"), "object": "transfer_reversal", "amount": amount,
                "currency": transfer["currency"], "transfer": transfer_id,
                "created": int(time.time()),
            }  # fmt: skip
            reversals = transfer.setdefault("reversals", {"object": "list", "data": []})
            reversals["data"].append(reversal)
            transfer["amount_reversed"] = done + amount
            transfer["reversed"] = transfer["amount_reversed"] == transfer["amount"]
            return copy.deepcopy(transfer)

    def transfer_event(self, type_: str, transfer_id: str) -> dict[str, Any]:
        """A ``transfer.*`` event for a transfer the fake holds, as it stands now."""
        with self._lock:
            transfer = copy.deepcopy(self.transfers[transfer_id])
        transfer.setdefault("amount_reversed", 0)
        transfer.setdefault("reversals", {"object": "list", "data": []})
        return self.event(type_, transfer)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                url = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode() if length else ""
                params = dict(parse_qsl(body or url.query, keep_blank_values=True))
                received = Received(
                    method=self.command,
                    path=url.path,
                    params=params,
                    data=_nest(params),
                    headers={k.lower(): v for k, v in self.headers.items()},
                )
                with fake._lock:
                    fake.requests.append(received)
                    try:
                        status, answer, extra = fake._answer(received)
                    except ApiError as error:
                        status, answer, extra = error.status, error.body, {}
                    received.status = status
                    hold = fake._must_hold(received)
                    transport = fake._transport_fault(received)
                    fake._start_webhook(received, answer)
                if hold:
                    fake._held.wait(timeout=60)
                if transport is not None and transport.kind == "drop":
                    self.close_connection = True  # closed with no answer at all
                    return
                if transport is not None and transport.kind == "hold":
                    fake._held.wait(timeout=60)
                elif transport is not None:  # "timeout": answer after the caller gave up
                    fake._stopping.wait(timeout=transport.delay)
                payload = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.send_header("Request-Id", _id("req"))
                self.send_header("Stripe-Version", received.stripe_version or API_VERSION)
                if received.idempotency_key:
                    self.send_header("Idempotency-Key", received.idempotency_key)
                for name, value in extra.items():
                    self.send_header(name, value)
                self.end_headers()
                # The caller may be gone (a crash the test made).
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(payload)

            do_GET = do_POST = do_DELETE = _serve

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        return Handler
