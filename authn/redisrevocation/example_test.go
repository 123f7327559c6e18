package redisrevocation_test

import (
	"context"
	"log"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/phikit/phikit/authn"
	"github.com/phikit/phikit/authn/redisrevocation"
)

// A logout endpoint revokes the caller's token on every replica; the check on each
// request refuses it from then on, and refuses every token while Redis cannot answer.
func Example() {
	rdb := redis.NewClient(&redis.Options{Addr: "revocations.internal:6379"})
	revocations, err := redisrevocation.New(redisrevocation.Config{Client: rdb})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	p := &authn.Principal{Issuer: "https://login.example-hospital.org/", TokenID: "3f1b2c4d", ExpiresAt: time.Now().Add(time.Hour)}
	const leeway = time.Minute // the authenticator's Leeway

	if err := revocations.Revoke(ctx, p.Issuer, p.TokenID, p.ExpiresAt.Add(leeway)); err != nil {
		log.Print(err) // not revoked: tell the user the logout failed
	}
	if revoked, err := revocations.Revoked(ctx, p.Issuer, p.TokenID); err != nil || revoked {
		log.Print("refused") // an error is an unknown answer: refuse
	}
}
