"""Value sharing: who contributed what to an awarded solution, and the share of realised value
that the seeker reports and owes its co-creators."""
