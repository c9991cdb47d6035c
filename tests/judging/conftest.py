"""The proposals' fixtures: an open need with solvers, and a submitted 60/40 proposal."""

from tests.payments.conftest import stripe_app, stripe_server  # noqa: F401
from tests.proposals.conftest import need, people, submitted  # noqa: F401
