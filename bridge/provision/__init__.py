"""Provisioning: reconcile the homeserver to rooms_config/ (desired → plan → apply)."""
