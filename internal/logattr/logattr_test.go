package logattr

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
)

type dbError struct{ detail string }

func (e *dbError) Error() string { return e.detail }

func TestErrorNeverCarriesText(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{fmt.Errorf("store: %w", &dbError{"Key (patient)=(pat-123) already exists"}), "*logattr.dbError"},
		{fmt.Errorf("sink: %w", context.DeadlineExceeded), "timeout"},
		{context.Canceled, "canceled"},
		{errors.New("patient pat-123 missing"), "*errors.errorString"},
	}
	for _, tt := range tests {
		a := Error(tt.err)
		if got := a.Value.String(); got != tt.want || strings.Contains(got, "pat-123") {
			t.Errorf("Error(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}
