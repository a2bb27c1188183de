"""The tests' S3-compatible server: the benchmarks' own (`sipantau.bench.s3_server`)."""

from sipantau.bench.s3_server import S3Server

__all__ = ["S3Server"]
