"""The tests' throwaway redis-server: the benchmarks' own (`sipantau.bench.redis_server`).

Not `tests/redis.py`: pytest puts `tests/` on sys.path, where that name would hide redis-py.
"""

from sipantau.bench.redis_server import RedisServer, RedisUnavailable, start_redis

__all__ = ["RedisServer", "RedisUnavailable", "start_redis"]
