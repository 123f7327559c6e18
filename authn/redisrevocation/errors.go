package redisrevocation

import "errors"

// ErrRedis is a Redis request that failed or whose answer could not be used: Redis is
// unreachable, the context is done, or the entry is not one this package wrote. The
// answer is unknown; callers fail closed. Errors of Store wrap it and the underlying
// error, and never contain the issuer or the jti.
var ErrRedis = errors.New("redisrevocation: redis request failed")
