"""The votes bot: quick polls, formal votes with the Civil Code thresholds."""
