"""The commune registry: who is onboarded, where their schema lives, which hosts reach
them, which modules they use. Public schema."""
