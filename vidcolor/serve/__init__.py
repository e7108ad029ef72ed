"""`vidcolor serve`: the web app, its film queue, and the page (web/)."""
