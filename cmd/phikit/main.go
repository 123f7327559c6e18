// Command phikit will be the operator's CLI: verify an audit chain, redact text, encrypt,
// decrypt and rewrap, generate keys. It is not built yet.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "phikit: no commands yet; see the project's open issues")
	os.Exit(2)
}
