"""Tickets: a resident's @mention of property staff, its category and its SLA deadlines."""
