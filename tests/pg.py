"""The tests' throwaway PostgreSQL cluster: the benchmarks' own (`sipantau.bench.pg`)."""

from sipantau.bench.pg import PgCluster, PgUnavailable, start_cluster
from sipantau.bench.procs import free_port

__all__ = ["PgCluster", "PgUnavailable", "free_port", "start_cluster"]
