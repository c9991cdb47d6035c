"""Payouts: solvers' payout accounts (Stripe Connect), and payout batches that finance staff
prepare and a second finance user approves before money leaves."""
