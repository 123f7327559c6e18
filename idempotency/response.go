package idempotency

import (
	"encoding/binary"
	"errors"
	"net/http"
)

// storedResponse is what Complete stores, sealed: the status, the allow-listed headers and
// the body of the first response.
type storedResponse struct {
	status int
	header http.Header
	body   []byte
}

// encodingV1 is the first byte of a version 1 encoding:
//
//	0x01, status (uint16, big-endian), header count (uvarint),
//	per header: name length (uvarint), name, value count (uvarint),
//	            per value: length (uvarint), value,
//	then the body, to the end.
const encodingV1 = 0x01

var errBadEncoding = errors.New("idempotency: malformed stored response")

func (s *storedResponse) appendBinary(b []byte) []byte {
	var status uint16 // 0, which decodeResponse refuses, for a status net/http would not send
	if s.status >= 100 && s.status <= 999 {
		status = uint16(s.status)
	}
	b = append(b, encodingV1)
	b = binary.BigEndian.AppendUint16(b, status)
	b = binary.AppendUvarint(b, uint64(len(s.header)))
	for k, vs := range s.header {
		b = binary.AppendUvarint(b, uint64(len(k)))
		b = append(b, k...)
		b = binary.AppendUvarint(b, uint64(len(vs)))
		for _, v := range vs {
			b = binary.AppendUvarint(b, uint64(len(v)))
			b = append(b, v...)
		}
	}
	return append(b, s.body...)
}

func decodeResponse(b []byte) (storedResponse, error) {
	var s storedResponse
	if len(b) < 3 || b[0] != encodingV1 {
		return s, errBadEncoding
	}
	s.status = int(binary.BigEndian.Uint16(b[1:3]))
	if s.status < 100 || s.status > 999 {
		return s, errBadEncoding
	}
	b = b[3:]
	n, b, ok := uvarint(b)
	if !ok || n > uint64(len(b)) {
		return s, errBadEncoding
	}
	s.header = make(http.Header, n)
	for range n {
		var name []byte
		if name, b, ok = lengthPrefixed(b); !ok {
			return s, errBadEncoding
		}
		var nv uint64
		if nv, b, ok = uvarint(b); !ok || nv > uint64(len(b)) {
			return s, errBadEncoding
		}
		vs := make([]string, 0, nv)
		for range nv {
			var v []byte
			if v, b, ok = lengthPrefixed(b); !ok {
				return s, errBadEncoding
			}
			vs = append(vs, string(v))
		}
		s.header[string(name)] = vs
	}
	s.body = b
	return s, nil
}

func uvarint(b []byte) (uint64, []byte, bool) {
	v, n := binary.Uvarint(b)
	if n <= 0 {
		return 0, nil, false
	}
	return v, b[n:], true
}

func lengthPrefixed(b []byte) (field, rest []byte, ok bool) {
	n, b, ok := uvarint(b)
	if !ok || n > uint64(len(b)) {
		return nil, nil, false
	}
	return b[:n], b[n:], true
}
