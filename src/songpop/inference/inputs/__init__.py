"""Input adapters: each turns one kind of input into canonical song rows for the scoring core.

- `table`: CSV or Parquet files of any known track layout (or plain feature columns), in chunks.
"""
