// Package logattr turns an error from a pluggable component — a sink, a store, a
// policy, a directory — into a log attribute that cannot carry what the error's text
// might quote (a database error repeating a patient id, a policy error naming a claim).
package logattr

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
)

// Error returns the attribute error_kind: "timeout", "canceled", or the Go type of the
// innermost wrapped error (such as "*pgconn.PgError" or "*net.OpError"), never its text.
func Error(err error) slog.Attr {
	var ne net.Error
	switch {
	case err == nil:
		return slog.String("error_kind", "none")
	case errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()):
		return slog.String("error_kind", "timeout")
	case errors.Is(err, context.Canceled):
		return slog.String("error_kind", "canceled")
	}
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return slog.String("error_kind", fmt.Sprintf("%T", err))
		}
		err = next
	}
}
