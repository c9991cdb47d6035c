"""The proposals' fixtures: an open need with solvers, and a submitted 60/40 proposal."""

from tests.proposals.conftest import need, people, submitted  # noqa: F401
