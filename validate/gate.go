package validate

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"slices"
	"strings"

	"github.com/go-playground/validator/v10"

	"github.com/phikit/phikit/audit"
	"github.com/phikit/phikit/problem"
)

// Defaults of Config.
const (
	// DefaultMaxBytes is the body size limit when Config.MaxBytes is zero: 64 KiB.
	DefaultMaxBytes = 64 << 10
	// MaxBytesLimit is the largest Config.MaxBytes: bodies are held in memory whole.
	MaxBytesLimit = 64 << 20
	// DefaultMaxDepth is the nesting limit when Config.MaxDepth is zero.
	DefaultMaxDepth = 64
	// MaxDepthLimit is the largest Config.MaxDepth New accepts: encoding/json's own limit.
	MaxDepthLimit = 10000
)

// Config configures a Gate. Every zero value is the safe choice.
type Config struct {
	// MaxBytes caps the request body. A Content-Length above it is refused before
	// anything is read; a body that turns out longer is cut off by http.MaxBytesReader.
	// Either way the error is ErrTooLarge (413). Zero means DefaultMaxBytes (64 KiB);
	// negative is refused by New. The whole body is held in memory while it is checked.
	MaxBytes int64

	// MaxDepth caps how deeply objects and arrays may nest: {"a":[1]} has depth 2. Deeper
	// bodies are refused (ErrTooDeep) as soon as the limit is crossed, before the rest is
	// read. Zero means DefaultMaxDepth (64); negative or above MaxDepthLimit is refused by
	// New.
	MaxDepth int

	// MediaTypes are the accepted Content-Types, without parameters, compared
	// case-insensitively. Nil means application/json and application/fhir+json. New
	// refuses an empty (non-nil) list, a wildcard and anything that is not a type/subtype.
	// New copies the slice.
	MediaTypes []string

	// Register, if set, is called once by New with the Gate's validator, after the
	// healthcare tags (RegisterHealthcare), to add the team's own tags, aliases and
	// struct-level rules. An error or a panic from it fails New. Nil means nothing is
	// added.
	Register func(*validator.Validate) error

	// ErrorHandler answers the requests the Gate refuses (see Gate.Reject); err is, or
	// wraps, one of this package's *Error values, and a *ValidationError carries the
	// failing fields. Nil means DefaultErrorHandler. It must not write err.Error() or any
	// value from the request. It is called concurrently.
	ErrorHandler func(w http.ResponseWriter, r *http.Request, err error)

	// Logger receives operational messages: a validator function that panicked (the
	// panic's Go type only, never its value, which may quote the field's value). Nil means
	// they are discarded.
	Logger *slog.Logger
}

// Gate holds what every strict decoder of a service shares: a validator with the
// healthcare tags registered, the size and depth limits, the accepted media types and the
// error handler. Build it with New and derive typed decoders from it with NewBody and
// NewParams. A Gate is immutable and safe for concurrent use.
type Gate struct {
	v        *validator.Validate
	maxBytes int64
	maxDepth int
	media    []string
	onError  func(w http.ResponseWriter, r *http.Request, err error)
	logger   *slog.Logger
}

// New checks cfg and returns a Gate.
func New(cfg Config) (g *Gate, err error) {
	g = &Gate{
		maxBytes: cfg.MaxBytes,
		maxDepth: cfg.MaxDepth,
		onError:  cfg.ErrorHandler,
		logger:   cfg.Logger,
	}
	switch {
	case g.maxBytes < 0 || g.maxBytes > MaxBytesLimit:
		return nil, errors.New("validate: Config.MaxBytes must be between 0 and MaxBytesLimit (64 MiB)")
	case g.maxBytes == 0:
		g.maxBytes = DefaultMaxBytes
	}
	switch {
	case g.maxDepth < 0 || g.maxDepth > MaxDepthLimit:
		return nil, fmt.Errorf("validate: Config.MaxDepth must be between 0 and %d", MaxDepthLimit)
	case g.maxDepth == 0:
		g.maxDepth = DefaultMaxDepth
	}
	switch {
	case cfg.MediaTypes == nil:
		g.media = []string{"application/json", problem.ContentTypeFHIR}
	case len(cfg.MediaTypes) == 0:
		return nil, errors.New("validate: Config.MediaTypes is empty: no request body would be accepted")
	default:
		for i, m := range cfg.MediaTypes {
			mt, params, err := mime.ParseMediaType(m)
			if err != nil || len(params) > 0 || strings.Contains(mt, "*") || !strings.Contains(mt, "/") {
				return nil, fmt.Errorf("validate: Config.MediaTypes[%d] is not a media type without parameters or wildcards", i)
			}
			g.media = append(g.media, mt)
		}
		g.media = slices.Clip(g.media)
	}
	if g.onError == nil {
		g.onError = DefaultErrorHandler
	}
	if g.logger == nil {
		g.logger = slog.New(slog.DiscardHandler)
	}
	g.v = validator.New(validator.WithRequiredStructEnabled())
	if err := RegisterHealthcare(g.v); err != nil {
		return nil, err
	}
	if cfg.Register != nil {
		if err := callRegister(cfg.Register, g.v); err != nil {
			return nil, err
		}
	}
	return g, nil
}

// callRegister runs Config.Register, turning a panic (validator panics on a restricted
// tag name) into an error.
func callRegister(register func(*validator.Validate) error, v *validator.Validate) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("validate: Config.Register panicked: %v", p)
		}
	}()
	if err := register(v); err != nil {
		return fmt.Errorf("validate: Config.Register: %w", err)
	}
	return nil
}

// Reject answers a request the Gate refused: it records "validate." plus the reason's
// Rule in the request's audit event (Event.Rejection) and hands err to
// Config.ErrorHandler. The Handlers of Body and Params call it; a handler that uses the
// function forms (Body.Decode, Params.Decode) calls it with their error:
//
//	obs, err := observations.Decode(w, r)
//	if err != nil {
//		gate.Reject(w, r, err)
//		return
//	}
func (g *Gate) Reject(w http.ResponseWriter, r *http.Request, err error) {
	category := "validate." + ErrInternal.rule
	var e *Error
	if errors.As(err, &e) {
		category = "validate." + e.rule
	}
	audit.Annotate(r.Context(), func(ev *audit.Event) { ev.Rejection = category })
	g.onError(w, r, err)
}

// DefaultErrorHandler is the ErrorHandler used when Config.ErrorHandler is nil. It answers
// with a problem body (or a FHIR OperationOutcome when the client asks for FHIR JSON):
// 400 problem.InvalidRequest with one entry per failing field for a *ValidationError,
// 413 problem.PayloadTooLarge for ErrTooLarge, 415 problem.UnsupportedMediaType for
// ErrUnsupportedMediaType, 400 for ErrReadBody, and 500 problem.Internal otherwise.
// Nothing from the request or from err's text is written. It is safe for concurrent use.
func DefaultErrorHandler(w http.ResponseWriter, r *http.Request, err error) {
	var ve *ValidationError
	switch {
	case errors.As(err, &ve):
		p := problem.New(r, problem.InvalidRequest)
		p.Errors = ve.Fields
		problem.WriteProblem(w, r, p)
	case errors.Is(err, ErrTooLarge):
		problem.Write(w, r, problem.PayloadTooLarge)
	case errors.Is(err, ErrUnsupportedMediaType):
		problem.Write(w, r, problem.UnsupportedMediaType)
	case errors.Is(err, ErrReadBody):
		problem.Write(w, r, problem.InvalidRequest)
	default:
		problem.Write(w, r, problem.Internal)
	}
}

// checkMediaType accepts exactly one Content-Type header naming an accepted media type,
// with no charset or charset=utf-8, and no Content-Encoding but identity.
func (g *Gate) checkMediaType(h http.Header) error {
	for _, ce := range h["Content-Encoding"] {
		if !strings.EqualFold(strings.TrimSpace(ce), "identity") {
			return ErrUnsupportedMediaType
		}
	}
	cts := h["Content-Type"]
	if len(cts) != 1 {
		return ErrUnsupportedMediaType
	}
	ct := cts[0]
	for _, m := range g.media { // the common case, without parsing
		if strings.EqualFold(ct, m) {
			return nil
		}
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || !slices.Contains(g.media, mt) {
		return ErrUnsupportedMediaType
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return ErrUnsupportedMediaType
	}
	return nil
}

// readBody reads r's body, at most g.maxBytes of it.
func (g *Gate) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if r.ContentLength > g.maxBytes {
		return nil, ErrTooLarge
	}
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	size := int64(512)
	if r.ContentLength >= 0 {
		// Room to see EOF without growing — but never more than 64 KiB on the strength of
		// a declared length alone: the buffer grows as bytes actually arrive.
		size = min(r.ContentLength+1, 64<<10)
	}
	buf := make([]byte, 0, size)
	body := http.MaxBytesReader(w, r.Body, g.maxBytes)
	for {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, int(min(max(int64(cap(buf)), 512), g.maxBytes+1)))
		}
		n, err := body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
				return nil, ErrTooLarge
			}
			return nil, fmt.Errorf("%w: %w", ErrReadBody, err)
		}
	}
}
