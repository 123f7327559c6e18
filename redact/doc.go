// Package redact will provide keeping PHI out of logs and errors: typed PHI values, an slog handler, detectors and pseudonyms.
//
// It is not built yet and exports nothing; see the project's open issues.
package redact
