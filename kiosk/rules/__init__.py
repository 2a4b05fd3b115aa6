"""Domain rules: PIN policy, card eligibility, document and administrator rules."""
