package audit

import (
	"strconv"
	"time"

	"github.com/phikit/phikit/internal/jsonenc"
)

// AppendJSON appends the JSON encoding of e to b and returns the extended buffer. The
// bytes are those encoding/json produces for Event with HTML escaping off (invalid UTF-8
// becomes U+FFFD), written without reflection or allocation so that recording an event
// costs less than logging the same fields with log/slog.
func (e *Event) AppendJSON(b []byte) []byte {
	b = append(b, `{"time":"`...)
	b = e.Time.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","request_id":`...)
	b = jsonenc.AppendString(b, e.RequestID)
	b = appendOptString(b, `,"trace_id":`, e.TraceID)
	b = appendOptString(b, `,"span_id":`, e.SpanID)
	b = appendOptString(b, `,"type":`, e.Type)
	b = append(b, `,"action":`...)
	b = jsonenc.AppendString(b, string(e.Action))
	b = append(b, `,"outcome":`...)
	b = jsonenc.AppendString(b, string(e.Outcome))
	b = append(b, `,"method":`...)
	b = jsonenc.AppendString(b, e.Method)
	b = append(b, `,"path":`...)
	b = jsonenc.AppendString(b, e.Path)
	b = appendOptString(b, `,"route":`, e.Route)
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(e.Status), 10)
	b = append(b, `,"bytes":`...)
	b = strconv.AppendInt(b, e.Bytes, 10)
	b = append(b, `,"latency_ns":`...)
	b = strconv.AppendInt(b, int64(e.Latency), 10)
	if e.ClientGone {
		b = append(b, `,"client_gone":true`...)
	}

	b = append(b, `,"agent":{`...)
	n := len(b)
	b = appendOptString(b, `,"subject":`, e.Agent.Subject)
	b = appendOptString(b, `,"issuer":`, e.Agent.Issuer)
	b = appendOptString(b, `,"client":`, e.Agent.Client)
	b = appendOptStrings(b, `,"roles":`, e.Agent.Roles)
	b = appendOptString(b, `,"auth_method":`, e.Agent.AuthMethod)
	b = appendOptString(b, `,"address":`, e.Agent.Address)
	b = dropLeadingComma(b, n)
	b = append(b, `},"source":{`...)
	n = len(b)
	b = appendOptString(b, `,"service":`, e.Source.Service)
	b = dropLeadingComma(b, n)
	b = append(b, '}')

	if len(e.Entities) > 0 {
		b = append(b, `,"entity":[`...)
		for i, en := range e.Entities {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"kind":`...)
			b = jsonenc.AppendString(b, string(en.Kind))
			b = appendOptString(b, `,"type":`, en.Type)
			b = appendOptString(b, `,"id":`, en.ID)
			b = appendOptString(b, `,"query":`, en.Query)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = appendOptStrings(b, `,"purpose_of_use":`, e.PurposeOfUse)
	if d := e.Decision; d != nil {
		b = append(b, `,"decision":{"allow":`...)
		b = strconv.AppendBool(b, d.Allow)
		b = appendOptStrings(b, `,"reasons":`, d.Reasons)
		b = append(b, '}')
	}
	b = appendOptString(b, `,"rejection":`, e.Rejection)
	b = appendOptStrings(b, `,"notes":`, e.Notes)
	return append(b, '}')
}

// dropLeadingComma removes the comma written at b[n] by the first optional member of an
// object opened just before n.
func dropLeadingComma(b []byte, n int) []byte {
	if len(b) > n {
		return append(b[:n], b[n+1:]...)
	}
	return b
}

func appendOptString(b []byte, key, s string) []byte {
	if s == "" {
		return b
	}
	return jsonenc.AppendString(append(b, key...), s)
}

func appendOptStrings(b []byte, key string, ss []string) []byte {
	if len(ss) == 0 {
		return b
	}
	b = append(append(b, key...), '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = jsonenc.AppendString(b, s)
	}
	return append(b, ']')
}
