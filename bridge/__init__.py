"""Linli's plumbing: appservice, homeserver client, store, scheduler, provisioning."""
