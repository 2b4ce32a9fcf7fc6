"""Emit generated functions as Python source, load them as modules, and (later) compile."""
