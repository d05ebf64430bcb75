"""Rules: the registry, the context they read, and the engine that runs them (pure)."""
