package breakglasstest_test

import (
	"testing"

	"github.com/phikit/phikit/authz/breakglass"
	"github.com/phikit/phikit/authz/breakglass/breakglasstest"
)

// The suite passes on the reference implementation.
func TestRunOnMemoryStore(t *testing.T) {
	breakglasstest.Run(t, func(t *testing.T) breakglass.Store { return breakglass.NewMemoryStore() })
}
