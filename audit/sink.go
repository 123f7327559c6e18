package audit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/phikit/phikit/internal/logattr"
)

// Sink receives audit events. The middleware calls Write once per request, synchronously,
// after the response is done, with a context that is not cancelled when the client goes
// away; a Sink that does network I/O bounds its own time. An error means the event may not
// have been recorded: the middleware then fails closed (see Middleware).
//
// Write must not retain e after it returns, and must be safe for concurrent use.
type Sink interface {
	Write(ctx context.Context, e *Event) error
}

// FanOutConfig configures a FanOut.
type FanOutConfig struct {
	// Required sinks must all accept an event for Write to succeed. At least one is
	// required.
	Required []Sink
	// BestEffort sinks receive every event too, but their errors are only logged (to
	// Logger, by kind, without the event's contents or the error's text). Nil means none.
	BestEffort []Sink
	// Logger receives operational messages; nil means they are discarded.
	Logger *slog.Logger
}

// FanOut writes each event to several sinks, in order, and fails when any required sink
// fails: an event is recorded everywhere it must be, or the request is treated as
// unaudited. It is safe for concurrent use.
type FanOut struct {
	required   []Sink
	bestEffort []Sink
	logger     *slog.Logger
}

var _ Sink = (*FanOut)(nil)

// NewFanOut returns a FanOut for cfg.
func NewFanOut(cfg FanOutConfig) (*FanOut, error) {
	if len(cfg.Required) == 0 {
		return nil, errors.New("audit: fan-out needs at least one required sink")
	}
	for i, s := range append(append([]Sink(nil), cfg.Required...), cfg.BestEffort...) {
		if s == nil {
			return nil, fmt.Errorf("audit: fan-out sink %d is nil", i)
		}
	}
	return &FanOut{
		required:   append([]Sink(nil), cfg.Required...),
		bestEffort: append([]Sink(nil), cfg.BestEffort...),
		logger:     loggerOrDiscard(cfg.Logger),
	}, nil
}

// Write writes e to every sink. It returns an error wrapping ErrSinkFailed (and each
// required sink's error) when any required sink failed, even if others succeeded.
func (f *FanOut) Write(ctx context.Context, e *Event) error {
	var errs []error
	for i, s := range f.required {
		if err := s.Write(ctx, e); err != nil {
			errs = append(errs, fmt.Errorf("required sink %d: %w", i, err))
		}
	}
	for i, s := range f.bestEffort {
		if err := s.Write(ctx, e); err != nil {
			f.logger.LogAttrs(ctx, slog.LevelWarn, "audit: best-effort sink failed",
				slog.Int("sink", i), slog.String("request_id", e.RequestID), logattr.Error(err))
		}
	}
	if errs != nil {
		return fmt.Errorf("%w: %w", ErrSinkFailed, errors.Join(errs...))
	}
	return nil
}

func loggerOrDiscard(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}

// SinkFunc adapts a function to a Sink.
type SinkFunc func(ctx context.Context, e *Event) error

// Write calls f(ctx, e).
func (f SinkFunc) Write(ctx context.Context, e *Event) error { return f(ctx, e) }
