package breakglass_test

import (
	"testing"

	"github.com/phikit/phikit/authz/breakglass"
	"github.com/phikit/phikit/authz/breakglass/breakglasstest"
)

func TestMemoryStoreConformance(t *testing.T) {
	breakglasstest.Run(t, func(t *testing.T) breakglass.Store { return breakglass.NewMemoryStore() })
}
