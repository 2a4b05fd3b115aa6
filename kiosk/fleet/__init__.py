"""Fleet operation: signed config bundles (keys, sign, verify, apply, rollback, pull)."""
