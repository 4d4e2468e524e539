"""Audit detections over CloudTrail: Sigma rules, EventBridge event patterns and rate rules.

Every rule kind compiles to one predicate language (:mod:`.ir`) that runs in two engines with
the same result: DuckDB over the lake (:mod:`.sql`, retroactive) and Python over event dicts
(:mod:`.evaluate`, for new events as they are loaded). Matches become findings
(:mod:`.findings`), stored in the lake table ``findings``.
"""
