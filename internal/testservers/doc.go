// Package testservers starts real servers for tests: a throwaway PostgreSQL
// cluster (StartPostgres) and a Redis server (StartRedis), each in its own
// temporary directory, listening on 127.0.0.1 on a free port, and stopped
// and removed when the test ends. Redis servers also come as a primary with
// replicas (StartRedis with RedisReplicaOf) and as a Redis Cluster
// (StartRedisCluster), whose nodes share one admin login; redis_group.go
// holds those. There is also an in-process fake of the S3 API (StartFakeS3),
// since no S3-compatible server can be installed here. common.go holds what
// they share: FreePort,
// WaitTCP and finding a server's programs.
//
// A server's programs must be installed: `make test` installs them. When
// one is missing the test fails and says so; it never skips, because a test
// that silently skips in CI proves nothing.
//
// Servers that refuse to run as root (PostgreSQL) are run as their own
// system user when the tests run as root, as they do in CI containers.
//
// Only tests import this package. It imports nothing of rotplan.
package testservers
