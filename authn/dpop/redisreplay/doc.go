// Package redisreplay is a dpop.ReplayStore in Redis, shared by every replica of a
// service, so that a DPoP proof accepted by one replica is refused as a replay by all.
//
//	rdb := redis.NewClient(&redis.Options{Addr: "redis:6379"})
//	store, err := redisreplay.New(redisreplay.Config{Client: rdb})
//	if err != nil {
//		return err
//	}
//	v, err := dpop.New(dpop.Config{BaseURL: "https://fhir.example.org", Replay: store})
//
// Each Use is one command, SET key 1 NX PXAT until, where key is the prefix followed
// by the hexadecimal SHA-256 of the jti: atomic on one Redis server or cluster shard, and
// forgotten by Redis itself when the proof could no longer be accepted.
//
// # Security considerations
//
// A Redis error refuses the proof (dpop wraps it in dpop.ErrReplayStore): while Redis is
// down, DPoP requests fail rather than skip the replay check. Give the client short
// timeouts.
//
// Expiry is an absolute time on the Redis server's clock; keep it synchronized with the
// replicas' clocks (NTP), within dpop.Config.ClockSkew, or records may expire before the
// proofs they guard. A replica that fails over to a Redis replica that had not yet
// received the latest writes (asynchronous replication) may accept those proofs once
// more.
//
// Keys hold no proof and no token, only a hash of the jti; the value is "1".
package redisreplay
