"""Users, organizations, memberships and platform roles; register, log in, log out."""
