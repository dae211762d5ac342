"""Route modules: thin, each calls one service."""
