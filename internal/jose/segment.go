package jose

import "encoding/base64"

// strictB64 is unpadded base64url that refuses non-canonical encodings. It is never
// modified.
var strictB64 = base64.RawURLEncoding.Strict()

// DecodeSegment decodes one segment of a compact JWS: base64url without padding
// (RFC 7515 §2). It refuses padding, characters outside the alphabet, and non-canonical
// encodings whose unused trailing bits are not zero. Like every encoding/base64 decoder,
// it skips CR and LF.
func DecodeSegment(s string) ([]byte, error) {
	return strictB64.DecodeString(s)
}
