"""The co-creation marketplace: a Flask application over the ``ledger`` library."""

from __future__ import annotations

import os
from typing import Any

from flask import Flask

from ledger import configure_sqlite_engine
from marketplace.accounts import sessions
from marketplace.config import from_environment, normalise_database_url
from marketplace.db import register_rollback_on_error
from marketplace.errors import register_errorhandlers
from marketplace.extensions import api, csrf, db, limiter, login_manager, migrate
from marketplace.headers.policy import register_security_headers
from marketplace.input_guards import register_input_guards
from marketplace.queue import register_inline_relay
from marketplace.rate_limits import register_rate_limit_headers
from marketplace.sqlite import configure_sqlite_concurrency


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the app from environment settings, overridden by ``config`` (tests)."""
    app = Flask(__name__, instance_relative_config=True, template_folder="../templates")
    app.config.from_mapping(from_environment(app.instance_path))
    if config:
        app.config.update(config)
    app.config["SQLALCHEMY_DATABASE_URI"] = normalise_database_url(
        app.config["SQLALCHEMY_DATABASE_URI"]
    )
    os.makedirs(app.instance_path, exist_ok=True)
    register_input_guards(app)
    register_security_headers(app)
    register_extensions(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_rollback_on_error(app)
    register_commands(app)
    register_template_helpers(app)
    register_inline_relay(app)
    return app


def register_extensions(app: Flask) -> None:
    db.init_app(app)
    with app.app_context():
        configure_sqlite_engine(db.engine)
        configure_sqlite_concurrency(db.engine)
    migrate.init_app(app, db)
    login_manager.init_app(app)
    sessions.init_app(app)
    csrf.init_app(app)
    register_rate_limit_headers(app)  # before the limiter: it runs after the limiter's headers
    limiter.init_app(app)
    api.init_app(app)
    import marketplace.auth  # noqa: F401  (registers the user loader)
    import marketplace.models  # noqa: F401  (every table, for Alembic)


def register_blueprints(app: Flask) -> None:
    from marketplace import main
    from marketplace.accounts import api as accounts_api
    from marketplace.accounts import second_factor_views
    from marketplace.accounts import views as accounts_views
    from marketplace.audit import views as audit_views
    from marketplace.auth import protect_api
    from marketplace.challenges import api as challenges_api
    from marketplace.challenges import views as challenges_views
    from marketplace.dialogue import views as dialogue_views
    from marketplace.finance import api as finance_api
    from marketplace.finance import views as finance_views
    from marketplace.headers import views as headers_views
    from marketplace.idempotency.hooks import register_idempotency
    from marketplace.insight import api as insight_api
    from marketplace.insight import views as insight_views
    from marketplace.judging import api as judging_api
    from marketplace.judging import views as judging_views
    from marketplace.notifications import views as notifications_views
    from marketplace.operations import views as operations_views
    from marketplace.payments import views as payments_views
    from marketplace.payments import webhooks as payments_webhooks
    from marketplace.payouts import api as payouts_api
    from marketplace.payouts import views as payouts_views
    from marketplace.portal import views as portal_views
    from marketplace.proposals import api as proposals_api
    from marketplace.proposals import views as proposals_views
    from marketplace.rate_limits import limit_api
    from marketplace.value import api as value_api
    from marketplace.value import views as value_views

    for blueprint in (
        main.bp, accounts_views.bp, second_factor_views.bp, finance_views.bp, challenges_views.bp,
        dialogue_views.bp, notifications_views.bp, payments_views.bp, payments_webhooks.bp,
        portal_views.bp, proposals_views.bp, judging_views.bp, payouts_views.bp, insight_views.bp,
        value_views.bp, operations_views.bp, headers_views.bp, audit_views.bp,
    ):  # fmt: skip
        app.register_blueprint(blueprint)
    api_blueprints = [
        accounts_api.blp, finance_api.blp, challenges_api.blp, proposals_api.blp, judging_api.blp,
        insight_api.blp, payouts_api.blp, value_api.blp,
    ]  # fmt: skip
    limit_api(api_blueprints)
    for api_blueprint in api_blueprints:
        # No CSRF tokens in the API: a session cookie there authenticates reads only, and
        # writes need a bearer token (marketplace.auth.api_viewer).
        csrf.exempt(api_blueprint)
        api.register_blueprint(api_blueprint)
    protect_api(app, api)
    register_idempotency(app)


def register_commands(app: Flask) -> None:
    from marketplace.cli import register

    register(app)


def register_template_helpers(app: Flask) -> None:
    from ledger import format_minor
    from marketplace.markdown import render_markdown
    from marketplace.time import local_time

    app.jinja_env.filters["money"] = lambda amount, currency: (
        f"{format_minor(amount, currency, grouped=True)} {currency}"
    )
    app.jinja_env.filters["markdown"] = render_markdown
    app.jinja_env.filters["localtime"] = local_time
