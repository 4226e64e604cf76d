"""What lives in Redis and may be lost: the event channel and node presence."""
