"""Co-creator insight for seekers: need funnels, response times and the solver typology."""
