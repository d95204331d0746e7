"""What the bench scripts share: set-up, measurements and report helpers (not scripts themselves)."""
