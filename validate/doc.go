// Package validate will provide whether the input is well-formed: a strict JSON gate and a healthcare tag pack for validator/v10.
//
// It is not built yet and exports nothing; see the project's open issues.
package validate
