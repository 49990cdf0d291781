"""Stream consumers: they read the event scan streams and write what they read elsewhere."""
