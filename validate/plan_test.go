package validate

import (
	"encoding/json"
	"reflect"
	"slices"
	"testing"
)

type (
	embA struct {
		X int
		Y int `json:"y"`
	}
	embB struct {
		X int
		Z int
	}
	EmbC struct{ W int }
	embH struct{ V int }
	embJ struct {
		X int `json:"X"`
	}
	embAmbiguous struct {
		embA
		embB
	}
	embOuterWins struct {
		embA
		X string
	}
	embNamedAndPointer struct {
		*EmbC
		embA `json:"a"`
	}
	embTaggedWins struct {
		embA
		embJ
	}
	embSkipped struct {
		embA
		Y string `json:"-"`
		//lint:ignore SA5008 deliberate: "-," names a member "-" in encoding/json
		Dash string `json:"-,"`
		//lint:ignore SA5008 deliberate: a name encoding/json refuses, so it falls back to the Go name
		Bad string `json:"a\"b"`
		//lint:ignore U1000 deliberate: unexported fields are never members
		hidden int
	}
)

// TestJSONFieldsMatchEncodingJSON compares the member names jsonFields resolves with the
// ones encoding/json writes for a filled value of the same type (encoding and decoding
// share encoding/json's field resolution).
func TestJSONFieldsMatchEncodingJSON(t *testing.T) {
	for _, v := range []any{
		&Observation{}, &Patient{}, &withEmbedded{}, &embAmbiguous{}, &embOuterWins{},
		&embNamedAndPointer{}, &embTaggedWins{}, &embSkipped{},
	} {
		rv := reflect.ValueOf(v).Elem()
		fill(rv, map[reflect.Type]bool{}, "x")
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		var want, got []string
		for k := range m {
			want = append(want, k)
		}
		for _, f := range jsonFields(rv.Type()) {
			got = append(got, f.name)
		}
		slices.Sort(want)
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("%T: got %q, want %q", v, got, want)
		}
	}
}

type embBlocked struct {
	*embH
	Other int `json:"other"`
}

func TestEmbeddedPointerToUnexportedStruct(t *testing.T) {
	runBodyCases[embBlocked](t, Config{}, []bodyCase{
		{"other member", `{"other":1}`, nil, ""},
		{"member promoted through a nil unexported pointer", `{"V":1}`, ErrType, "/V"},
	})
	var v embBlocked
	if err := json.Unmarshal([]byte(`{"V":1}`), &v); err == nil {
		t.Error("encoding/json accepted it: the case is moot")
	}
}
