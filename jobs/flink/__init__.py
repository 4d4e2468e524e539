"""The Flink side of watchlake: the rollup as Flink SQL (:mod:`jobs.flink.sql`), the streaming job
(:mod:`jobs.flink.stream`), the committer that moves its checkpoint-committed output into the lake
(:mod:`jobs.flink.committer`) and the local standalone cluster (:mod:`jobs.flink.cluster`)."""
