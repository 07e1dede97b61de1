"""Bulk scoring on Ray Data: files of posts too large for an API job, on one machine or a Ray cluster.

`read` turns JSONL, CSV and Parquet files into rows and per-row errors with the job upload's own
parsers and content rules; `score` labels them on a pool of actors, each holding the int8 model and
the service's Scorer; `summary` computes the jobs' per-author summary with Ray's aggregations; `run`
ties them together behind `dialogic bulk`. Ray is the optional `[bulk]` extra: nothing else in the
service imports this package.
"""

try:
    import ray  # noqa: F401
except ModuleNotFoundError as exc:  # `dialogic bulk` reports this message
    raise ModuleNotFoundError("bulk scoring needs Ray: pip install 'dialogic[bulk]'", name=exc.name) from exc
