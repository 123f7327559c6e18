package ratelimit

import (
	"context"
	"time"
)

// QuotaStore keeps quota counters: one counter per key and calendar window, which the
// caller names in key. Spend adds cost to the counter if the sum stays within limit, and
// returns the counter after the call (unchanged when refused) and whether it was
// spent. A cost of zero only reports. The counter is forgotten at expireAt (the end
// of its window). An error means no decision was taken.
//
// Implementations must be safe for concurrent use, and Spend must be atomic: of
// concurrent Spends no more than limit is ever spent. ratelimittest.RunQuotaStoreTests
// checks one.
type QuotaStore interface {
	Spend(ctx context.Context, key string, cost, limit int64, expireAt time.Time) (count int64, allowed bool, err error)
}
