"""Flask extensions, created once here and bound to the app in create_app."""

from __future__ import annotations

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect

from ledger import Base
from marketplace.api import MarketplaceApi

#: Indexes written by hand in a migration because only PostgreSQL has them (full-text search);
#: autogenerate must neither drop nor re-create them.
HAND_MADE_INDEXES = frozenset({"ix_challenges_search"})
#: Columns only PostgreSQL has (the stored tsvector of full-text search, migration 0015),
#: written by hand in a migration; no model maps them.
HAND_MADE_COLUMNS = frozenset({"search_vector"})


def include_object(obj, name, type_, reflected, compare_to) -> bool:  # noqa: ANN001
    """Alembic's filter: everything but the hand-made indexes and columns."""
    if type_ == "column" and name in HAND_MADE_COLUMNS:
        return False
    return not (type_ == "index" and name in HAND_MADE_INDEXES)


db = SQLAlchemy(model_class=Base)
migrate = Migrate(render_as_batch=True, include_object=include_object)
login_manager = LoginManager()
csrf = CSRFProtect()
#: With Redis unreachable, limits are counted in this process's memory until Redis answers
#: again: per process, so looser, but still limits, and never a 500.
limiter = Limiter(key_func=get_remote_address, default_limits=[], in_memory_fallback_enabled=True)
api = MarketplaceApi()
