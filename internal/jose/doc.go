// Package jose is the JOSE plumbing that package authn (access tokens) and package
// authn/dpop (DPoP proofs) share, so that both parse and verify compact JWS the same way:
//
//   - [CheckObject]: the strict JSON object check run after json.Unmarshal, refusing
//     duplicate member names, known names in another case, and more members than a cap;
//   - [Algorithm] and [AlgorithmByName]: the asymmetric JWS signature algorithms, and
//     signature verification on standard library public keys;
//   - [NumericDate]: an RFC 7519 NumericDate that must be a JSON number;
//   - [DecodeSegment]: strict base64url decoding of a compact JWS segment.
//
// It is internal: it holds no policy (which algorithms, which key sizes, which claims a
// caller reads and how it answers a refusal stay with the caller), and its API changes
// with its two users.
//
// A caller checks one segment like this:
//
//	raw, err := jose.DecodeSegment(segment)
//	if err != nil || json.Unmarshal(raw, &hdr) != nil || jose.CheckObject(raw, headerNames, 32) != nil {
//		return errMalformed
//	}
//	alg, ok := algorithms[hdr.Alg] // built with AlgorithmByName from the configured names
//	…
//	if !alg.Fits(pub) || !alg.Verify(pub, signingInput, sig) {
//		return errSignature
//	}
//
// # Security considerations
//
// "none" and the HMAC algorithms do not exist here: [AlgorithmByName] does not know them,
// so no configuration or token header can select them. [Algorithm.Verify] refuses a key
// that does not fit the algorithm, and an ECDSA signature that is not the JWS form
// (R || S, each of the curve's size). RSA key sizes are the caller's policy: check them
// before trusting a key.
//
// [CheckObject] must run on input that json.Unmarshal has accepted; on its own it does not
// validate JSON syntax. It exists because encoding/json keeps the last of two members of
// the same name and matches names case-insensitively, either of which lets a token show a
// verifier another value than a different parser of the same token would see.
//
// Everything in this package is stateless and safe for concurrent use.
package jose
