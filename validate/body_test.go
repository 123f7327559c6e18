package validate

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
)

// simple is a small recursive type for structural cases.
type simple struct {
	A   string          `json:"a"`
	B   *simple         `json:"b"`
	L   []int           `json:"l"`
	M   map[string]int  `json:"m"`
	X   any             `json:"x"`
	Raw json.RawMessage `json:"raw"`
}

// numbers has one field of each kind a number or scalar can land in.
type numbers struct {
	I     int            `json:"i"`
	I8    int8           `json:"i8"`
	I64   int64          `json:"i64"`
	U8    uint8          `json:"u8"`
	U64   uint64         `json:"u64"`
	F     float64        `json:"f"`
	F32   float32        `json:"f32"`
	N     json.Number    `json:"n"`
	S     string         `json:"s"`
	P     *int           `json:"p"`
	B     bool           `json:"b"`
	Q     int            `json:"q,string"`
	QB    bool           `json:"qb,string"`
	QS    string         `json:"qs,string"`
	Arr   [2]int         `json:"arr"`
	IM    map[int]string `json:"im"`
	Bytes []byte         `json:"bytes"`
	T     time.Time      `json:"t"`
	Any   any            `json:"any"`
	Iface error          `json:"iface"`
}

type bodyCase struct {
	name    string
	body    string
	want    error  // nil: accepted
	pointer string // of the first entry, when refused
}

// runBodyCases decodes each case's body into a T with DecodeBytes.
func runBodyCases[T any](t *testing.T, cfg Config, cases []bodyCase) {
	t.Helper()
	b := mustBody[T](t, mustGate(t, cfg))
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := b.DecodeBytes(context.Background(), []byte(tc.body))
			if tc.want == nil {
				if err != nil {
					t.Fatalf("got %v, want accepted", err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			var ve *ValidationError
			if errors.As(err, &ve) {
				if got := ve.Fields[0].Pointer; got != tc.pointer {
					t.Errorf("got pointer %q, want %q", got, tc.pointer)
				}
				if got := ve.Fields[0].Rule; !errors.Is(tc.want, ErrConstraint) && got != tc.want.(*Error).Rule() {
					t.Errorf("got rule %q, want %q", got, tc.want.(*Error).Rule())
				}
			}
		})
	}
}

func TestBodyStructure(t *testing.T) {
	runBodyCases[simple](t, Config{}, []bodyCase{
		{"empty object", `{}`, nil, ""},
		{"white space around", " \t\r\n{} \n", nil, ""},
		{"empty body", ``, ErrEmptyBody, ""},
		{"only white space", "  \n ", ErrEmptyBody, ""},
		{"top-level null", `null`, ErrType, ""},
		{"top-level array", `[]`, ErrType, ""},

		{"distinct keys", `{"a":"x","l":[1]}`, nil, ""},
		{"duplicate key", `{"a":"x","a":"y"}`, ErrDuplicateKey, "/a"},
		{"duplicate key, one escaped", `{"a":"x","\u0061":"y"}`, ErrDuplicateKey, "/a"},
		{"duplicate key at depth", `{"b":{"b":{"a":"x","a":"x"}}}`, ErrDuplicateKey, "/b/b/a"},
		{"distinct map keys", `{"m":{"k":1,"K":2}}`, nil, ""},
		{"duplicate map key", `{"m":{"k":1,"k":2}}`, ErrDuplicateKey, "/m"},
		{"duplicate map key among many", `{"m":{` + manyKeys(40) + `,"k7":1}}`, ErrDuplicateKey, "/m"},
		{"many distinct map keys", `{"m":{` + manyKeys(100) + `}}`, nil, ""},
		{"duplicate key in any", `{"x":[{"k":{"z":1,"z":2}}]}`, ErrDuplicateKey, "/x/0"},
		{"duplicate key in RawMessage", `{"raw":{"z":1,"z":2}}`, ErrDuplicateKey, "/raw"},
		{"same key in sibling objects", `{"x":[{"z":1},{"z":2}]}`, nil, ""},

		{"exact names", `{"a":"x","b":{"a":"y"}}`, nil, ""},
		{"case-variant key", `{"A":"x"}`, ErrUnknownField, ""},
		{"case-variant key at depth", `{"b":{"b":{"A":"x"}}}`, ErrUnknownField, "/b/b"},
		{"unknown field", `{"a":"x","extra":1}`, ErrUnknownField, ""},
		{"unknown field at depth", `{"b":{"nope":true}}`, ErrUnknownField, "/b"},
		{"any member names free", `{"x":{"Anything":1}}`, nil, ""},

		{"escaped control characters", `{"a":"tab\there\nnl \" \\ \/ \b\f\r"}`, nil, ""},
		{"raw control character", "{\"a\":\"x\ty\"}", ErrSyntax, "/a"},
		{"NUL escape", `{"a":"x\u0000y"}`, ErrNUL, "/a"},
		{"NUL escape in a key", `{"m":{"k\u0000":1}}`, ErrNUL, "/m"},
		{"NUL escape in any", `{"x":["\u0000"]}`, ErrNUL, "/x/0"},
		{"surrogate pair", `{"a":"\ud83d\ude00"}`, nil, ""},
		{"lone high surrogate", `{"a":"\ud800"}`, ErrInvalidUTF8, "/a"},
		{"lone high surrogate then text", `{"a":"\ud800abc"}`, ErrInvalidUTF8, "/a"},
		{"high surrogate then non-surrogate", `{"a":"\ud800\u0041"}`, ErrInvalidUTF8, "/a"},
		{"two high surrogates", `{"a":"\ud800\ud800\udc00"}`, ErrInvalidUTF8, "/a"},
		{"lone low surrogate", `{"a":"\udc00"}`, ErrInvalidUTF8, "/a"},
		{"reversed pair", `{"a":"\ude00\ud83d"}`, ErrInvalidUTF8, "/a"},
		{"UTF-8 text", `{"a":"é 😀 日本"}`, nil, ""},
		{"invalid UTF-8 byte", "{\"a\":\"\xff\"}", ErrInvalidUTF8, "/a"},
		{"overlong UTF-8", "{\"a\":\"\xc0\xaf\"}", ErrInvalidUTF8, "/a"},
		{"UTF-8 encoded surrogate", "{\"a\":\"\xed\xa0\x80\"}", ErrInvalidUTF8, "/a"},
		{"truncated UTF-8", "{\"a\":\"\xe6\x97\"}", ErrInvalidUTF8, "/a"},
		{"invalid UTF-8 in a key", "{\"m\":{\"\xff\":1}}", ErrInvalidUTF8, "/m"},
		{"bad escape", `{"a":"\x41"}`, ErrSyntax, "/a"},
		{"short unicode escape", `{"a":"\u12"}`, ErrSyntax, "/a"},

		{"byte order mark", "\xef\xbb\xbf{}", ErrSyntax, ""},
		{"line comment", "{} // note", ErrTrailingData, ""},
		{"comment inside", "{/* c */\"a\":\"x\"}", ErrSyntax, ""},
		{"NaN", `{"x":NaN}`, ErrSyntax, "/x"},
		{"Infinity", `{"x":Infinity}`, ErrSyntax, "/x"},
		{"negative Infinity", `{"x":-Infinity}`, ErrSyntax, "/x"},
		{"single quotes", `{'a':'x'}`, ErrSyntax, ""},
		{"trailing comma in object", `{"a":"x",}`, ErrSyntax, ""},
		{"trailing comma in array", `{"l":[1,]}`, ErrSyntax, "/l/1"},
		{"missing colon", `{"a" "x"}`, ErrSyntax, ""},
		{"unterminated string", `{"a":"x`, ErrSyntax, "/a"},
		{"unterminated object", `{"a":"x"`, ErrSyntax, ""},
		{"unterminated array", `{"l":[1`, ErrSyntax, "/l"},
		{"leading zero", `{"l":[01]}`, ErrSyntax, "/l"},
		{"bare minus", `{"l":[-]}`, ErrSyntax, "/l/0"},
		{"bare fraction", `{"l":[.5]}`, ErrSyntax, "/l/0"},
		{"plus sign", `{"l":[+1]}`, ErrSyntax, "/l/0"},
		{"misspelt literal", `{"x":nul}`, ErrSyntax, "/x"},

		{"trailing data", `{} {}`, ErrTrailingData, ""},
		{"trailing garbage", `{}x`, ErrTrailingData, ""},
		{"trailing NUL byte", "{}\x00", ErrTrailingData, ""},

		{"null pointer", `{"b":null}`, nil, ""},
		{"null slice", `{"l":null}`, nil, ""},
		{"null map", `{"m":null}`, nil, ""},
		{"null string", `{"a":null}`, ErrType, "/a"},
		{"null in int slice", `{"l":[1,null]}`, ErrType, "/l/1"},
		{"number for string", `{"a":1}`, ErrType, "/a"},
		{"string for slice", `{"l":"1"}`, ErrType, "/l"},
		{"object for slice", `{"l":{}}`, ErrType, "/l"},
		{"array for struct", `{"b":[]}`, ErrType, "/b"},
		{"map value type", `{"m":{"k":"1"}}`, ErrType, "/m"},
	})
}

func manyKeys(n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`"k` + itoa(i) + `":1`)
	}
	return b.String()
}

func itoa(i int) string { return strconv.Itoa(i) }

func TestBodyNumbers(t *testing.T) {
	runBodyCases[numbers](t, Config{}, []bodyCase{
		{"int", `{"i":42}`, nil, ""},
		{"negative int", `{"i":-42}`, nil, ""},
		{"minus zero int", `{"i":-0}`, nil, ""},
		{"int with fraction", `{"i":1.0}`, ErrType, "/i"},
		{"int with exponent", `{"i":1e2}`, ErrType, "/i"},
		{"int64 max", `{"i64":9223372036854775807}`, nil, ""},
		{"int64 max+1", `{"i64":9223372036854775808}`, ErrType, "/i64"},
		{"int64 min", `{"i64":-9223372036854775808}`, nil, ""},
		{"int64 min-1", `{"i64":-9223372036854775809}`, ErrType, "/i64"},
		{"int huge", `{"i":123456789012345678901234567890}`, ErrType, "/i"},
		{"int8 127", `{"i8":127}`, nil, ""},
		{"int8 128", `{"i8":128}`, ErrType, "/i8"},
		{"int8 -128", `{"i8":-128}`, nil, ""},
		{"int8 -129", `{"i8":-129}`, ErrType, "/i8"},
		{"uint8 255", `{"u8":255}`, nil, ""},
		{"uint8 256", `{"u8":256}`, ErrType, "/u8"},
		{"uint8 negative", `{"u8":-1}`, ErrType, "/u8"},
		{"uint8 minus zero", `{"u8":-0}`, ErrType, "/u8"},
		{"uint64 max", `{"u64":18446744073709551615}`, nil, ""},
		{"uint64 max+1", `{"u64":18446744073709551616}`, ErrType, "/u64"},
		{"string for int", `{"i":"42"}`, ErrType, "/i"},
		{"bool for int", `{"i":true}`, ErrType, "/i"},

		{"float", `{"f":98.6}`, nil, ""},
		{"float 0.1", `{"f":0.1}`, nil, ""},
		{"float integer", `{"f":120}`, nil, ""},
		{"float shortest 17 digits", `{"f":0.30000000000000004}`, nil, ""},
		{"float large exact", `{"f":1.5e300}`, nil, ""},
		{"float small exact", `{"f":2.5e-300}`, nil, ""},
		{"float zeros", `{"f":-0.000e99}`, nil, ""},
		{"float 2^53", `{"f":9007199254740992}`, nil, ""},
		{"float 2^53+1", `{"f":9007199254740993}`, ErrType, "/f"},
		{"float too precise", `{"f":3.14159265358979323846}`, ErrType, "/f"},
		{"float trailing zeros", `{"f":1.50000000000000000000000}`, nil, ""},
		{"float 1e400", `{"f":1e400}`, ErrType, "/f"},
		{"float -1e400", `{"f":-1e400}`, ErrType, "/f"},
		{"float 1e-400", `{"f":1e-400}`, ErrType, "/f"},
		{"float subnormal inexact", `{"f":4.9406564584124654e-324}`, ErrType, "/f"},
		{"float huge exponent", `{"f":1e999999999999999999999}`, ErrType, "/f"},
		{"float32", `{"f32":0.1}`, nil, ""},
		{"float32 2^24", `{"f32":16777216}`, nil, ""},
		{"float32 2^24+1", `{"f32":16777217}`, ErrType, "/f32"},
		{"float32 out of range", `{"f32":3.5e38}`, ErrType, "/f32"},
		{"float as string", `{"f":"1.5"}`, ErrType, "/f"},

		{"json.Number", `{"n":1e400}`, nil, ""},
		{"json.Number long", `{"n":3.14159265358979323846264338327950288}`, nil, ""},
		{"json.Number from string", `{"n":"12"}`, ErrType, "/n"},
		{"number in any", `{"any":{"big":9007199254740993,"huge":1e400}}`, nil, ""},

		{",string int", `{"q":"12"}`, nil, ""},
		{",string int unquoted", `{"q":12}`, ErrType, "/q"},
		{",string int fraction", `{"q":"1.5"}`, ErrType, "/q"},
		{",string int padded", `{"q":" 12"}`, ErrType, "/q"},
		{",string bool", `{"qb":"true"}`, nil, ""},
		{",string bool wrong", `{"qb":"yes"}`, ErrType, "/qb"},
		{",string string", `{"qs":"\"hi\""}`, nil, ""},
		{",string string unquoted inside", `{"qs":"hi"}`, ErrType, "/qs"},
		{",string string NUL inside", `{"qs":"\"\\u0000\""}`, ErrNUL, "/qs"},

		{"bool", `{"b":false}`, nil, ""},
		{"bool as string", `{"b":"false"}`, ErrType, "/b"},
		{"pointer", `{"p":7}`, nil, ""},
		{"pointer null", `{"p":null}`, nil, ""},

		{"array shorter", `{"arr":[1]}`, nil, ""},
		{"array full", `{"arr":[1,2]}`, nil, ""},
		{"array longer", `{"arr":[1,2,3]}`, ErrType, "/arr/2"},

		{"int keys", `{"im":{"1":"a","-2":"b","0":"c"}}`, nil, ""},
		{"int key leading zero", `{"im":{"01":"a"}}`, ErrType, "/im"},
		{"int key plus", `{"im":{"+1":"a"}}`, ErrType, "/im"},
		{"int key minus zero", `{"im":{"-0":"a"}}`, ErrType, "/im"},
		{"int key text", `{"im":{"one":"a"}}`, ErrType, "/im"},
		{"int key out of range", `{"im":{"9223372036854775808":"a"}}`, ErrType, "/im"},

		{"bytes", `{"bytes":"aGVsbG8="}`, nil, ""},
		{"bytes as array", `{"bytes":[104,105]}`, nil, ""},
		{"bytes array out of range", `{"bytes":[256]}`, ErrType, "/bytes/0"},
		{"bytes not base64", `{"bytes":"not base64!"}`, ErrType, "/bytes"},

		{"time", `{"t":"2024-03-11T09:30:00Z"}`, nil, ""},
		{"time refused by its parser", `{"t":"yesterday"}`, ErrType, ""},
		{"time as number", `{"t":5}`, ErrType, ""},

		{"non-empty interface null", `{"iface":null}`, nil, ""},
		{"non-empty interface value", `{"iface":"x"}`, ErrType, "/iface"},
	})
}

func TestBodyAnyUsesNumber(t *testing.T) {
	b := mustBody[numbers](t, mustGate(t, Config{}))
	v, err := b.DecodeBytes(context.Background(), []byte(`{"any":{"big":9007199254740993}}`))
	if err != nil {
		t.Fatal(err)
	}
	got, ok := v.Any.(map[string]any)["big"].(json.Number)
	if !ok || got != "9007199254740993" {
		t.Errorf("got %#v, want json.Number(\"9007199254740993\")", v.Any)
	}
}

func TestBodyDepth(t *testing.T) {
	nested := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	nestedObj := func(n int) string { return strings.Repeat(`{"b":`, n) + "{}" + strings.Repeat("}", n) }
	cases := []bodyCase{
		{"depth 64 in any", `{"x":` + nested(63) + `}`, nil, ""},
		{"depth 65 in any", `{"x":` + nested(64) + `}`, ErrTooDeep, "/x" + strings.Repeat("/0", 31)},
		{"depth 64 in struct", nestedObj(63), nil, ""},
		{"depth 65 in struct", nestedObj(64), ErrTooDeep, strings.Repeat("/b", 32)},
		{"100k deep arrays", `{"x":` + nested(100_000) + `}`, ErrTooDeep, "/x" + strings.Repeat("/0", 31)},
		{"100k deep objects", `{"x":` + strings.Repeat(`{"a":`, 100_000) + `}`, ErrTooDeep, "/x"},
		{"100k deep in a typed list", `{"l":` + nested(100_000) + `}`, ErrType, "/l/0"},
		{"100k deep unterminated", strings.Repeat("[", 100_000), ErrType, ""},
	}
	start := time.Now()
	runBodyCases[simple](t, Config{MaxBytes: 10 << 20}, cases)
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("depth cases took %v", d)
	}
	runBodyCases[simple](t, Config{MaxBytes: 10 << 20, MaxDepth: MaxDepthLimit}, []bodyCase{
		{"depth 10000 at the limit", `{"x":` + nested(9999) + `}`, nil, ""},
		{"100k deep at the limit", `{"x":` + nested(100_000) + `}`, ErrTooDeep, "/x" + strings.Repeat("/0", 31)},
	})
}

func TestBodyObservation(t *testing.T) {
	valid := observationJSON
	replace := func(old, new string) string {
		if !strings.Contains(valid, old) {
			t.Fatalf("fixture lacks %q", old)
		}
		return strings.Replace(valid, old, new, 1)
	}
	runBodyCases[Observation](t, Config{}, []bodyCase{
		{"valid", valid, nil, ""},
		{"wrong LOINC check digit", replace(`"8480-6"`, `"8480-5"`), ErrConstraint, "/code/coding/0/code"},
		{"status not in value set", replace(`"final"`, `"done"`), ErrConstraint, "/status"},
		{"resourceType wrong", replace(`"Observation"`, `"Patient"`), ErrConstraint, "/resourceType"},
		{"impossible date", replace(`"2024-03-11T09:30:00-05:00"`, `"2023-02-30"`), ErrConstraint, "/effectiveDateTime"},
		{"subject not a patient", replace(`"reference": "Patient/example-123", "display"`, `"reference": "Group/1", "display"`), ErrConstraint, "/subject/reference"},
		{"missing value", replace(`"valueQuantity": {"value": 107.5,`, `"valueQuantity": {`), ErrConstraint, "/valueQuantity/value"},
		{"value as string", replace(`107.5`, `"107.5"`), ErrType, "/valueQuantity/value"},
		{"category code bad", replace(`"8716-3"`, `"8716-4"`), ErrConstraint, "/category/0/coding/0/code"},
		{"duplicate status", replace(`"status": "final",`, `"status": "final", "status": "entered-in-error",`), ErrDuplicateKey, "/status"},
		{"duplicate code at depth", replace(`"code": "8480-6",`, `"code": "8480-6", "code": "2345-7",`), ErrDuplicateKey, "/code/coding/0/code"},
		{"case-variant status", replace(`"status"`, `"Status"`), ErrUnknownField, ""},
		{"unknown field at depth", replace(`"unit": "mmHg"`, `"unit": "mmHg", "comparator": "<"`), ErrUnknownField, "/valueQuantity"},
		{"NUL in note", replace(`after five`, `after\u0000five`), ErrNUL, "/note/0/text"},
	})
}

func TestValidationErrorsListEveryField(t *testing.T) {
	b := mustBody[Observation](t, mustGate(t, Config{}))
	body := `{"resourceType":"Observation","status":"x","code":{"coding":[{"code":"8480-6"},{"code":"8480-5"}]},` +
		`"subject":{"reference":"x"},"effectiveDateTime":"2023-02-30","valueQuantity":{"value":1}}`
	_, err := b.DecodeBytes(context.Background(), []byte(body))
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("got %v, want a *ValidationError", err)
	}
	want := []struct{ pointer, rule string }{
		{"/status", "oneof"},
		{"/code/coding/1/code", "loinc"},
		{"/subject/reference", "startswith"},
		{"/effectiveDateTime", "fhir_datetime"},
	}
	if len(ve.Fields) != len(want) {
		t.Fatalf("got %d entries %v, want %d", len(ve.Fields), ve.Fields, len(want))
	}
	for i, w := range want {
		f := ve.Fields[i]
		if f.Pointer != w.pointer || f.Rule != w.rule || f.Detail == "" {
			t.Errorf("entry %d: got %+v, want pointer %q rule %q and a detail", i, f, w.pointer, w.rule)
		}
	}
	if !errors.Is(err, ErrConstraint) {
		t.Errorf("got %v, want errors.Is ErrConstraint", err)
	}
}

func TestDecodeBytesSizeLimit(t *testing.T) {
	b := mustBody[simple](t, mustGate(t, Config{MaxBytes: 16}))
	for _, tc := range []struct {
		body string
		want error
	}{
		{`{"a":"12345678"}`, nil},          // 16 bytes
		{`{"a":"123456789"}`, ErrTooLarge}, // 17 bytes
	} {
		if _, err := b.DecodeBytes(context.Background(), []byte(tc.body)); !errors.Is(err, tc.want) {
			t.Errorf("%d bytes: got %v, want %v", len(tc.body), err, tc.want)
		}
	}
}
