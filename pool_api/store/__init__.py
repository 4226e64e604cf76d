"""What the pool keeps: the database (engine, tables, migrations), the blob store and the
chunk records of running jobs."""
