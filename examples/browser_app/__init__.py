"""The browser app of issue 14: a single-page app on its own origin, logging in through the JSON API."""
