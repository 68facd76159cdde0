"""Use cases: what a person asks atb to do."""
