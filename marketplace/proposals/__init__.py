"""Proposals: solvers' answers to a need, their teams and agreed splits, attachments and the
private dialogue between a team and the seeker."""
