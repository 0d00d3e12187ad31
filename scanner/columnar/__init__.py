"""The columnar engine: rules evaluated on batches of events as Polars columns."""
