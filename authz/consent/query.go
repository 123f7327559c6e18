package consent

import (
	"fmt"
	"log/slog"
	"strconv"
	"unicode"
	"unicode/utf8"
)

// MaxFieldLength is the longest value, in bytes, of any field of a Query or a Rule.
const MaxFieldLength = 256

// Query asks whether an actor may access a patient's data of a category for a purpose.
// Values are compared exactly, byte for byte: no case folding, trimming or Unicode
// normalization, and no pattern characters. Each field is at most MaxFieldLength bytes
// of UTF-8 without control characters.
//
// A Query prints (fmt, including %+v and %#v) and logs (slog) with Patient and Actor
// redacted: either may identify a person.
type Query struct {
	// Patient is the FHIR id of the patient whose data is accessed ("pat-1"). Required.
	Patient string
	// Actor is the reference of who acts: "Practitioner/prac-1", "Organization/org-9",
	// "Device/app". Required. It must come from the authenticated principal, never
	// from the request.
	Actor string
	// ActorOrganization is the reference of the actor's organization
	// ("Organization/org-9"), so that rules written for the organization apply to its
	// members. Empty means none. It must come from a trusted source (a token claim, the
	// practitioner directory), never from the request; and it should be set whenever it is
	// known, since an organization's Deny applies only through it.
	ActorOrganization string
	// Purpose is the HL7 PurposeOfUse code of the access ("TREAT", "HRESCH"). Required.
	Purpose string
	// Category is the category of data accessed: a FHIR resource type ("Observation") or
	// a security label. Required.
	Category string
}

// Validate reports whether q is well formed: Patient, Actor, Purpose and Category set,
// every field at most MaxFieldLength bytes of UTF-8 without control characters. The
// error wraps ErrInvalidQuery and names the field, never its value.
func (q Query) Validate() error {
	for _, f := range [...]struct {
		name, v  string
		required bool
	}{
		{"Patient", q.Patient, true},
		{"Actor", q.Actor, true},
		{"ActorOrganization", q.ActorOrganization, false},
		{"Purpose", q.Purpose, true},
		{"Category", q.Category, true},
	} {
		if msg := checkField(f.v, f.required); msg != "" {
			return fmt.Errorf("consent: query %s %s: %w", f.name, msg, ErrInvalidQuery)
		}
	}
	return nil
}

// checkField returns what is wrong with v as a field value, or "".
func checkField(v string, required bool) string {
	if v == "" && required {
		return "is empty"
	}
	if len(v) > MaxFieldLength {
		return "is longer than " + strconv.Itoa(MaxFieldLength) + " bytes"
	}
	for i := 0; i < len(v); {
		if c := v[i]; c < utf8.RuneSelf {
			if c < 0x20 || c == 0x7f {
				return "contains a control character"
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(v[i:])
		if r == utf8.RuneError && size == 1 {
			return "is not valid UTF-8"
		}
		if unicode.IsControl(r) {
			return "contains a control character"
		}
		i += size
	}
	return ""
}

const redacted = "[redacted]"

// redact returns "[redacted]" for a non-empty v, and `""` (any, for a rule) for an
// empty one, for String.
func redact(v string) string {
	if v == "" {
		return `""`
	}
	return redacted
}

// redactAttr returns "[redacted]" for a non-empty v, and "" for an empty one, for
// LogValue.
func redactAttr(v string) string {
	if v == "" {
		return ""
	}
	return redacted
}

// String returns q with Patient and Actor redacted.
func (q Query) String() string {
	return "consent.Query{Patient:" + redact(q.Patient) +
		" Actor:" + redact(q.Actor) +
		" ActorOrganization:" + strconv.Quote(q.ActorOrganization) +
		" Purpose:" + strconv.Quote(q.Purpose) +
		" Category:" + strconv.Quote(q.Category) + "}"
}

// Format writes String for every verb, so that %v, %+v, %#v and %s all redact.
func (q Query) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(q.String())) }

// LogValue returns q as a slog group with Patient and Actor redacted.
func (q Query) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("patient", redactAttr(q.Patient)),
		slog.String("actor", redactAttr(q.Actor)),
		slog.String("actor_organization", q.ActorOrganization),
		slog.String("purpose", q.Purpose),
		slog.String("category", q.Category),
	)
}
