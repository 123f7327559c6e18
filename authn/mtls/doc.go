// Package mtls authenticates callers by their TLS client certificate (mutual TLS, the
// client authentication of RFC 8705), presented on the connection itself or forwarded
// by a trusted TLS-terminating proxy in the RFC 9440 Client-Cert header. It puts the
// caller's authn.Principal in the request context and records who (or why not) in the
// audit event, as package authn does for bearer tokens.
//
// Terminating TLS in the service:
//
//	roots := x509.NewCertPool() // the CA that issues client certificates, and only it
//	if !roots.AppendCertsFromPEM(clientCAPEM) {
//		return errors.New("no client CA")
//	}
//	auth, err := mtls.New(mtls.Config{Roots: roots})
//	if err != nil {
//		return err
//	}
//	srv := &http.Server{
//		Addr:      ":8443",
//		Handler:   phikit.Chain(phikit.RequestID, aud.Handler, auth.Handler)(audit.RecordRoute(mux)),
//		TLSConfig: mtls.TLSConfig(roots, serverCert),
//	}
//	return srv.ListenAndServeTLS("", "")
//
// Behind a proxy that terminates TLS and forwards the certificate (Envoy, NGINX,
// HAProxy, a cloud load balancer configured for RFC 9440):
//
//	auth, err := mtls.New(mtls.Config{
//		Roots:          roots,
//		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.20.0.0/28")}, // the proxies, only
//	})
//
// In a handler:
//
//	p, _ := authn.FromContext(r.Context())
//	// p.Method == authn.MethodMTLS; p.Subject from Config.Identity; p.CertThumbprint
//
// # What is verified
//
// Authenticator.Certificate decides where the certificate comes from — the forwarded
// header when the request's immediate peer is a trusted proxy, the TLS connection
// otherwise — and verifies it on every request, whatever the TLS server checked: it must
// chain to Config.Roots, be valid at Config.Now along its whole chain, list the clientAuth
// extended key usage itself, and not be a CA certificate. The forwarded header is parsed
// strictly: exactly one Client-Cert field holding one byte sequence (":", standard base64
// with padding, ":") that is exactly one DER certificate; Client-Cert-Chain, optional, a
// list of such byte sequences; both together no longer than MaxHeaderBytes (16 KiB).
// Anything else is refused, never repaired.
//
// Thumbprint gives the RFC 8705 x5t#S256 of a certificate, which Authenticate puts in
// Principal.CertThumbprint. An authenticator of certificate-bound access tokens calls
// Certificate and compares Thumbprint with the token's cnf "x5t#S256".
//
// # Errors
//
// By default every failure is a 401 problem (problem.Unauthenticated) without a
// WWW-Authenticate header — HTTP defines no challenge for client certificates — and the
// body says nothing about the certificate or the reason. The reason is recorded in the
// audit event as a stable category, "mtls.no-certificate", "mtls.untrusted-forwarder",
// "mtls.expired", … (see Error.Reason); errors.Is tells them apart.
//
// # Security considerations
//
// The Client-Cert header is only as trustworthy as whoever wrote it. Any client can send
// one, so it is read only from peers in Config.TrustedProxies, and a request that carries
// it from any other peer is refused outright rather than ignored: it is a forgery or a
// misconfigured proxy range, and either deserves a refusal and a log line (Logger gets the
// peer's address, at most once a minute so that a client cannot flood it; the audit event
// records every refusal). The proxy itself must remove every Client-Cert and Client-Cert-Chain
// header the client sent and set them only from the TLS handshake it verified; a proxy
// that passes a client's header through lets that client be anyone. Trust is decided on
// r.RemoteAddr, the immediate peer: put the Authenticator before any middleware that
// rewrites RemoteAddr from X-Forwarded-For or similar, and make sure the proxies are the
// only way to reach the service's port. Keep TrustedProxies narrow: every address in
// them can impersonate every client. A request from a trusted proxy is authenticated by
// the header alone; the proxy's own TLS client certificate is never taken for the
// caller's.
//
// TLSConfig requires TLS 1.2 or later and verifies client certificates during the
// handshake against the same roots; it never falls back to the system roots. Roots
// should be a CA dedicated to client certificates: a public CA would let anyone who
// can obtain a certificate from it authenticate.
//
// Nothing from a certificate but the mapped subject reaches the audit event (subject and
// method); nothing at all reaches a response, this package's error messages or its log
// lines. (An error returned by Config.Identity is logged by its kind only, never its
// text, but it is wrapped in the error ErrorHandler gets: keep certificate contents out
// of it.) Revocation (CRL, OCSP) is not checked: issue
// short-lived client certificates, or check revocation at the proxy.
package mtls
