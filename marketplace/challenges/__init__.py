"""Need statements, their terms stated up front, visibility, lifecycle and escrow funding."""
