"""The session-pool REST client: one protocol layer, sync and async shells."""
