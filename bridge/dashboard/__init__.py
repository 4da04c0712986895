"""The staff back office: sign-in with Matrix, sessions and the page; the views are the bots'."""
