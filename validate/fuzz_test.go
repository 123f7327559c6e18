package validate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"math/big"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

type fuzzTarget struct {
	A   string          `json:"a" validate:"max=64"`
	N   int             `json:"n"`
	I8  int8            `json:"i8"`
	U   uint16          `json:"u"`
	F   float64         `json:"f"`
	F32 float32         `json:"f32"`
	B   bool            `json:"b"`
	L   []fuzzTarget    `json:"l" validate:"dive"`
	P   *fuzzTarget     `json:"p"`
	M   map[string]int  `json:"m"`
	K   map[int]bool    `json:"k"`
	X   any             `json:"x"`
	R   json.RawMessage `json:"r"`
	Q   int             `json:"q,string"`
	Arr [3]string       `json:"arr"`
}

const fuzzDepth = 16

// FuzzDecode checks the strict decoder against encoding/json: it never panics; what it
// accepts is valid JSON in valid UTF-8, without duplicate names or excess depth, that
// encoding/json decodes into the same type; what it calls a syntax error, encoding/json
// does not accept either; and it refuses every body encoding/json's validator refuses.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{}`, `{"a":"x","n":1,"f":0.5,"b":true,"l":[{"a":"y"}],"p":{"n":2},"m":{"k":1},"k":{"1":true},"x":[1,"2",{"3":null}],"r":{"z":[]},"q":"7","arr":["a"]}`,
		`{"a":"x","a":"y"}`, `{"l":[{"m":{"k":1,"k":2}}]}`, `{"x":{"z":1,"\u007a":2}}`, `{"A":"x"}`, `{"nope":1}`,
		`{"a":"\u0000"}`, `{"a":"\ud800"}`, `{"a":"\udc00\ud800"}`, `{"a":"\ud83d\ude00"}`, "{\"a\":\"\xff\"}", "{\"a\":\"\xed\xa0\x80\"}",
		`{"f":1e400}`, `{"f":9007199254740993}`, `{"f":0.1}`, `{"f32":16777217}`, `{"n":1.0}`, `{"n":-0}`, `{"u":-0}`, `{"i8":-129}`,
		`{"q":"1.5"}`, `{"k":{"01":true}}`, `{"arr":["a","b","c","d"]}`,
		"\xef\xbb\xbf{}", `{} // c`, `/* c */ {}`, `{"x":NaN}`, `{"x":Infinity}`, `{"x":-Infinity}`, `{} {}`, `{}x`, ``, `   `, `null`,
		`{"x":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`, strings.Repeat(`{"p":`, 40) + `{}` + strings.Repeat(`}`, 40),
		`{"a":"x",}`, `{'a':'x'}`, `{"x":[1,]}`, `{"x":01}`, `{"x":-}`, `{"x":1.}`, `{"x":.1}`, `{"x":+1}`, `{"x":tru}`,
	} {
		f.Add([]byte(s))
	}
	b := mustBody[fuzzTarget](f, mustGate(f, Config{MaxDepth: fuzzDepth}))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, err := b.DecodeBytes(context.Background(), data)
		valid := json.Valid(data)
		if err == nil {
			if !valid || !utf8.Valid(data) {
				t.Fatalf("accepted invalid JSON or UTF-8: %q", data)
			}
			if dup, depth := reference(data); dup || depth > fuzzDepth {
				t.Fatalf("accepted a duplicate name (%v) or depth %d: %q", dup, depth, data)
			}
			var v fuzzTarget
			if err := json.Unmarshal(data, &v); err != nil {
				t.Fatalf("accepted what encoding/json refuses (%v): %q", err, data)
			}
			return
		}
		if !valid && errors.Is(err, ErrConstraint) {
			t.Fatalf("invalid JSON reached the validator: %q", data)
		}
		if (errors.Is(err, ErrSyntax) || errors.Is(err, ErrTrailingData) || errors.Is(err, ErrEmptyBody)) && valid {
			t.Fatalf("called valid JSON malformed (%v): %q", err, data)
		}
	})
}

// reference finds duplicate member names and the depth of valid JSON with
// encoding/json's tokenizer.
func reference(data []byte) (dup bool, depth int) {
	dec := json.NewDecoder(bytes.NewReader(data))
	type frame struct {
		object bool
		keys   map[string]bool
		key    bool // the next string token is a key
	}
	var stack []frame
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return dup, depth
		}
		if err != nil {
			return dup, depth
		}
		if k, ok := tok.(string); ok && len(stack) > 0 && stack[len(stack)-1].object && stack[len(stack)-1].key {
			top := &stack[len(stack)-1]
			if top.keys[k] {
				dup = true
			}
			top.keys[k] = true
			top.key = false
			continue
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, frame{object: true, keys: map[string]bool{}, key: true})
			depth = max(depth, len(stack))
			continue
		case json.Delim('['):
			stack = append(stack, frame{})
			depth = max(depth, len(stack))
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
		if len(stack) > 0 && stack[len(stack)-1].object {
			stack[len(stack)-1].key = true
		}
	}
}

// TestFloatExactAgainstBigRat compares floatExact with its definition computed in exact
// rational arithmetic, on numbers of every length and a wide range of exponents.
func TestFloatExactAgainstBigRat(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 50_000 {
		var b strings.Builder
		if rng.IntN(2) == 0 {
			b.WriteByte('-')
		}
		b.WriteByte(byte('1' + rng.IntN(9)))
		for range rng.IntN(20) {
			b.WriteByte(byte('0' + rng.IntN(10)))
		}
		if rng.IntN(2) == 0 {
			b.WriteByte('.')
			for range 1 + rng.IntN(20) {
				b.WriteByte(byte('0' + rng.IntN(10)))
			}
		}
		if rng.IntN(2) == 0 {
			b.WriteString("e" + strconv.Itoa(rng.IntN(700)-350))
		}
		lit := b.String()
		for _, bits := range []int{32, 64} {
			if got, want := floatExact([]byte(lit), bits), exactByRat(lit, bits); got != want {
				t.Fatalf("floatExact(%s, %d) = %v, want %v", lit, bits, got, want)
			}
		}
	}
}

func exactByRat(lit string, bits int) bool {
	f, err := strconv.ParseFloat(lit, bits)
	if err != nil {
		return false
	}
	in, ok1 := new(big.Rat).SetString(lit)
	back, ok2 := new(big.Rat).SetString(strconv.FormatFloat(f, 'e', -1, bits))
	return ok1 && ok2 && in.Cmp(back) == 0
}
