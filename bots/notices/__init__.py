"""The notices bot: staff notices that provably reach every household."""
