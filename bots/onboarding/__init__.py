"""Onboarding: newcomers verified into households, resident roles, personal data on request."""
