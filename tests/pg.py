"""The tests' throwaway PostgreSQL cluster: the benchmarks' own (`sipantau.bench.pg`)."""

from sipantau.bench.pg import PgCluster, PgUnavailable, free_port, start_cluster

__all__ = ["PgCluster", "PgUnavailable", "free_port", "start_cluster"]
