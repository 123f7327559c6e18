package redisstore

import "time"

// Advance moves the clock s decides on forward by d: the Redis server's clock plus an
// offset. Tests use it instead of sleeping; production code has no way to set it.
func (s *Store) Advance(d time.Duration) { s.offset.Add(int64(d)) }

// Advance moves the clock s expires counters on forward by d, as Store.Advance does.
func (s *QuotaStore) Advance(d time.Duration) { s.offset.Add(int64(d)) }
