"""Which payment provider this app uses: Stripe when STRIPE_SECRET_KEY is set, the sandbox
otherwise. The provider, with its Stripe client and connection pool, is built once per app
(and built again only if the Stripe settings change, as tests do) and kept in
``app.extensions``."""

from __future__ import annotations

from flask import current_app

from marketplace.payments.provider import PaymentProvider, SandboxProvider
from marketplace.payments.stripe_provider import StripeProvider

SETTINGS = ("STRIPE_SECRET_KEY", "STRIPE_API_BASE", "STRIPE_TIMEOUT")


def current_provider() -> PaymentProvider:
    app = current_app
    settings = tuple(app.config.get(name) for name in SETTINGS)
    built = app.extensions.get("payment_provider")
    if built is None or built[0] != settings:
        provider = StripeProvider.from_config(app.config) if settings[0] else SandboxProvider()
        built = (settings, provider)
        app.extensions["payment_provider"] = built
    return built[1]
