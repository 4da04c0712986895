"""Community life: activities with 接龙 sign-ups, waiting lists and volunteer hours."""
