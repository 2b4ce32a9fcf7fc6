"""Runtime support: the primitive rule table, pytrees, and (later) random, lax, devices."""
