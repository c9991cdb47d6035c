"""The security headers every response carries.

- **Content-Security-Policy**: everything from this site only; scripts only with the request's
  nonce (``csp_nonce()`` in templates: the few inline scripts carry it, and no page has an
  inline event handler); styles from the stylesheet, or a ``<style>`` element with the nonce
  (an organization's brand colours), never a ``style`` attribute; no plugins; no ``<base>``
  elsewhere; forms post to this site (and, with Stripe, its checkout and Connect onboarding,
  which a form's redirect reaches); no page may be framed. Violations are reported to
  ``/csp-reports`` (``marketplace.headers.views``).
- **X-Frame-Options: DENY** for browsers without ``frame-ancestors``; **nosniff**.
- **Referrer-Policy: same-origin**: the full address within the site, nothing to others. A
  link in a proposal or a need's text then does not tell another site that the reader came
  from ``/proposals/10`` (nor from this marketplace at all, which
  ``strict-origin-when-cross-origin`` would). Same-origin requests keep their Referer, which
  CSRF's strict referrer check over HTTPS needs.
- **Strict-Transport-Security** when ``SESSION_COOKIE_SECURE`` says the site runs on HTTPS.
- **Cache-Control: no-store** on every response that may show confidential or financial data:
  to a signed-in user, to a request with credentials (``Authorization``), under ``/finance``,
  and any response that sets a cookie. Public pages to anonymous visitors and static files
  keep their caching.

A view may set its own value of any of these headers (a stricter policy for a served file,
say); only Cache-Control no-store is never loosened.
"""

from __future__ import annotations

import re
import secrets

from flask import Flask, Response, current_app, g, request, session
from flask_login import current_user

#: Where a form's redirect may go besides this site when Stripe is the payment provider:
#: funding opens a Checkout page, a payout account opens Connect onboarding.
STRIPE_FORM_TARGETS = ("https://checkout.stripe.com", "https://connect.stripe.com")
#: The violation endpoint (marketplace.headers.views) and its Reporting API group name.
REPORT_PATH = "/csp-reports"
REPORT_GROUP = "csp"
HSTS = "max-age=31536000; includeSubDomains"
CSS_COLOR = re.compile(r"#[0-9a-fA-F]{6}")
#: Paths whose pages are all financial, whoever asks.
CONFIDENTIAL_PREFIXES = ("/finance", "/api/v1/finance", "/api/v1/ledger")


def csp_nonce() -> str:
    """This request's nonce for inline ``<script>`` and ``<style>`` elements."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(18)
    return g.csp_nonce


def css_color(value: str | None, default: str) -> str:
    """``value`` if it is a #rrggbb colour, else ``default``: HTML escaping does not make a
    value safe inside a ``<style>`` element, so only a colour goes there."""
    return value if value and CSS_COLOR.fullmatch(value) else default


def content_security_policy(nonce: str, form_targets: tuple[str, ...], report_url: str) -> str:
    directives = {
        "default-src": "'self'",
        "script-src": f"'nonce-{nonce}'",
        "style-src": f"'self' 'nonce-{nonce}'",
        "img-src": "'self'",
        "object-src": "'none'",
        "base-uri": "'self'",
        "form-action": " ".join(("'self'", *form_targets)),
        "frame-ancestors": "'none'",
        "report-uri": report_url,
        "report-to": REPORT_GROUP,
    }
    return "; ".join(f"{name} {value}" for name, value in directives.items())


def _form_targets() -> tuple[str, ...]:
    return STRIPE_FORM_TARGETS if current_app.config.get("STRIPE_SECRET_KEY") else ()


def _may_be_confidential(response: Response) -> bool:
    if request.endpoint == "static":
        return False
    return (
        "Authorization" in request.headers
        or request.path.startswith(CONFIDENTIAL_PREFIXES)
        or "Set-Cookie" in response.headers
        or session.modified  # the session cookie is set after every after_request
        or current_user.is_authenticated
    )


def set_security_headers(response: Response) -> Response:
    report_url = request.script_root + REPORT_PATH  # no url_for: it may fail on odd requests
    headers = response.headers
    headers.setdefault(
        "Content-Security-Policy",
        content_security_policy(csp_nonce(), _form_targets(), report_url),
    )
    headers.setdefault("Reporting-Endpoints", f'{REPORT_GROUP}="{report_url}"')
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    if current_app.config.get("SESSION_COOKIE_SECURE"):
        headers.setdefault("Strict-Transport-Security", HSTS)
    if _may_be_confidential(response):
        headers["Cache-Control"] = "no-store"
    return response


def register_security_headers(app: Flask) -> None:
    app.after_request(set_security_headers)
    app.jinja_env.globals["csp_nonce"] = csp_nonce
    app.jinja_env.filters["css_color"] = css_color
