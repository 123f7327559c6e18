package dpop

import (
	"fmt"
	"strings"
	"testing"
)

func manyMembers(n int) string {
	m := make([]string, n)
	for i := range m {
		m[i] = fmt.Sprintf(`"m%d":%d`, i, i)
	}
	return "{" + strings.Join(m, ",") + "}"
}

func TestCheckObject(t *testing.T) {
	known := []string{"jti", "htm", "htu"}
	tests := []struct {
		json string
		want bool
	}{
		{`{}`, true},
		{` { "jti" : "a" , "htm":"GET" } `, true},
		{`{"jti":"a","other":{"jti":1,"JTI":2},"list":[{"a":1},"]}",null,true,-1.5e3]}`, true},
		{`{"a":"\"}","b":1}`, true},
		{`{"jti":"a","jti":"b"}`, false},
		{`{"jti":"a","JTI":"b"}`, false},
		{`{"JTI":"a"}`, false},
		{`{"Jti":"a"}`, false},
		{`{"j\u0074i":"a","jti":"b"}`, false},
		{`{"x":1,"X":2}`, false}, // unknown names must be unique too
		{`{"k\u0041":1,"kA":2}`, false},
		{"{\"jti\":\"\xff\"}", false},
		{`[]`, false},
		{`null`, false},
		{`"{}"`, false},
		{`{}{}`, false},
		{`{"a":1}x`, false},
		{``, false},
		{manyMembers(32), true},
		{manyMembers(33), false},
	}
	for _, tt := range tests {
		if got := checkObject([]byte(tt.json), known); got != tt.want {
			t.Errorf("checkObject(%s) = %v, want %v", tt.json, got, tt.want)
		}
	}
}

func TestNormalizePath(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "/"},
		{"/", "/"},
		{"/a/b", "/a/b"},
		{"/%7e%7E", "/~~"},
		{"/%41%2d%5f%2E", "/A-_."},
		{"/%2f%2F", "/%2F%2F"},
		{"/%e2%82%ac", "/%E2%82%AC"},
		{"/%", "/%"},
		{"/%4", "/%4"},
		{"/%zz", "/%zz"},
		{"/a%20b", "/a%20b"},
	}
	for _, tt := range tests {
		if got := normalizePath(tt.in); got != tt.want {
			t.Errorf("normalizePath(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
