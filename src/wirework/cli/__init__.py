"""Command-line front end. `main` is the fast path (stdlib only); `app` builds the parser."""
