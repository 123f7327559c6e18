// Package testserver starts real backing servers for integration tests: a fresh
// redis-server ([Redis]), a three-master Redis Cluster ([RedisCluster]), a PostgreSQL
// cluster ([Postgres]) or an ORY Hydra ([Hydra]) per call, each on free ports in its own
// temporary directory, stopped and removed by t.Cleanup when the test ends.
//
// The servers listen on the loopback address 127.0.0.1 only (PostgreSQL also opens a
// Unix socket, in a private temporary directory), never on a public interface, and
// hold no data worth keeping: persistence and fsync are turned off.
//
// When a server binary is not installed the test is skipped with a message naming the
// install command (for example "apt-get install -y redis-server"). Setting the
// environment variable PHIKIT_INTEGRATION=1 turns that skip into a failure, so CI jobs
// that are meant to run the integration tests cannot pass by silently skipping them.
//
// PostgreSQL's initdb refuses to run as root; when the tests run as root the cluster
// is created and run as the "postgres" OS user, which must exist (the Debian
// postgresql package creates it).
package testserver
