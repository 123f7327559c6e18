package apikey_test

import (
	"testing"

	"github.com/phikit/phikit/authn/apikey"
	"github.com/phikit/phikit/authn/apikey/apikeytest"
)

func TestMemoryStore(t *testing.T) {
	apikeytest.Run(t, func(*testing.T) apikey.Store { return apikey.NewMemoryStore() })
}
