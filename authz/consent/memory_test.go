package consent_test

import (
	"testing"

	"github.com/phikit/phikit/authz/consent"
	"github.com/phikit/phikit/authz/consent/consenttest"
)

func TestMemoryStoreConformance(t *testing.T) {
	consenttest.Run(t, func(t *testing.T) consenttest.StoreAdmin {
		return consent.NewMemoryStore(nil)
	})
	// In one process, replicas can only share one store: RunReplicas checks that
	// nothing is kept apart from it.
	consenttest.RunReplicas(t, func(t *testing.T) (consenttest.StoreAdmin, consenttest.StoreAdmin) {
		s := consent.NewMemoryStore(nil)
		return s, s
	})
}

// TestMemoryStoreZeroValue: the zero value is an empty, usable store.
func TestMemoryStoreZeroValue(t *testing.T) {
	consenttest.Run(t, func(t *testing.T) consenttest.StoreAdmin {
		return new(consent.MemoryStore)
	})
}
