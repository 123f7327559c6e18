package validate

import (
	"cmp"
	"encoding"
	"encoding/json"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode"
)

// kind is what the strict scanner expects of a JSON value, derived once per Go type from
// the rules encoding/json applies when it decodes into that type.
type kind uint8

const (
	kindAny    kind = iota // interface{}: any JSON value (numbers decode as json.Number)
	kindRaw                // a json.Unmarshaler: any JSON value, interpreted by the type
	kindText               // an encoding.TextUnmarshaler: a JSON string
	kindNone               // a non-empty interface, chan, func or complex: only null
	kindBool               // bool
	kindString             // string kinds other than json.Number
	kindNumber             // json.Number: a JSON number
	kindInt                // signed integers: an integer literal in range
	kindUint               // unsigned integers: a non-negative integer literal in range
	kindFloat              // float32, float64: a number the float holds exactly (see floatExact)
	kindBytes              // []byte: a base64 string, or an array of bytes
	kindPtr                // pointer: null, or what elem expects
	kindSlice              // slice: null or an array of elem
	kindArray              // array: an array of at most length elem
	kindMap                // map: null or an object of elem, keys per key
	kindStruct             // struct: an object of fields
)

// linearFields is the number of struct fields up to which a member name is looked up by a
// linear scan rather than a map.
const linearFields = 8

// plan is what the scanner expects of one Go type. Plans are built once by newPlan and
// never modified afterwards; cycles (recursive types) are shared pointers.
type plan struct {
	kind     kind
	nullable bool // JSON null is accepted (pointers, slices, maps, interfaces, Unmarshalers)
	bits     int  // kindInt, kindUint, kindFloat; also the key of an integer-keyed map
	length   int  // kindArray
	key      kind // kindMap: kindString, kindInt, kindUint or kindText
	elem     *plan

	// kindStruct.
	fields []field            // the members encoding/json decodes, by JSON name
	index  map[string]int     // name → fields index, when there are more than linearFields
	byGo   map[string]goField // Go field name → its place in a JSON Pointer (for validator errors)
}

// field is one member of a struct's JSON object.
type field struct {
	name    string // the JSON name, matched exactly
	seg     string // name escaped for a JSON Pointer
	plan    *plan
	quoted  bool // the ",string" option
	blocked bool // reached through a nil embedded pointer to an unexported struct: encoding/json refuses it
}

// goField maps one Go struct field to the JSON Pointer segment the validator's namespace
// ("Observation.Code.Coding[0].Code") turns into.
type goField struct {
	seg     string // escaped JSON name; "" for an embedded struct whose fields are promoted
	flatten bool   // embedded without a JSON name: contributes no segment
	omit    bool   // not decoded from JSON (json:"-", unexported): the pointer stops above it
	plan    *plan
}

// newPlan returns the plan for t, and whether an interface{} is reachable from it (so
// that numbers inside must be decoded as json.Number).
func newPlan(t reflect.Type) (p *plan, hasAny bool) {
	b := planBuilder{seen: map[reflect.Type]*plan{}}
	p = b.build(t)
	return p, b.hasAny
}

type planBuilder struct {
	seen   map[reflect.Type]*plan
	hasAny bool
}

func (b *planBuilder) build(t reflect.Type) *plan {
	if p, ok := b.seen[t]; ok {
		return p
	}
	p := &plan{}
	b.seen[t] = p // before recursing: recursive types share the plan
	switch {
	case t.Kind() == reflect.Interface:
		p.nullable = true
		if t.NumMethod() == 0 {
			p.kind = kindAny
			b.hasAny = true
		} else {
			p.kind = kindNone
		}
		return p
	case implements(t, reflect.TypeFor[json.Unmarshaler]()):
		p.kind, p.nullable = kindRaw, true
		return p
	case implements(t, reflect.TypeFor[encoding.TextUnmarshaler]()):
		p.kind, p.nullable = kindText, t.Kind() == reflect.Pointer
		return p
	}
	switch t.Kind() {
	case reflect.Bool:
		p.kind = kindBool
	case reflect.String:
		p.kind = kindString
		if t == reflect.TypeFor[json.Number]() {
			p.kind = kindNumber
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		p.kind, p.bits = kindInt, t.Bits()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		p.kind, p.bits = kindUint, t.Bits()
	case reflect.Float32, reflect.Float64:
		p.kind, p.bits = kindFloat, t.Bits()
	case reflect.Pointer:
		p.kind, p.nullable = kindPtr, true
		p.elem = b.build(t.Elem())
	case reflect.Slice:
		p.kind, p.nullable = kindSlice, true
		if t.Elem().Kind() == reflect.Uint8 {
			p.kind = kindBytes // encoding/json reads a string as base64, whatever the element type
		}
		p.elem = b.build(t.Elem())
	case reflect.Array:
		p.kind, p.length = kindArray, t.Len()
		p.elem = b.build(t.Elem())
	case reflect.Map:
		p.kind, p.nullable = kindMap, true
		kt := t.Key()
		switch {
		case reflect.PointerTo(kt).Implements(reflect.TypeFor[encoding.TextUnmarshaler]()):
			p.key = kindText
		case kt.Kind() == reflect.String:
			p.key = kindString
		case kt.Kind() >= reflect.Int && kt.Kind() <= reflect.Int64:
			p.key, p.bits = kindInt, kt.Bits()
		case kt.Kind() >= reflect.Uint && kt.Kind() <= reflect.Uintptr:
			p.key, p.bits = kindUint, kt.Bits()
		default: // encoding/json cannot decode into it
			p.kind = kindNone
			return p
		}
		p.elem = b.build(t.Elem())
	case reflect.Struct:
		p.kind = kindStruct
		b.buildStruct(p, t)
	default: // chan, func, complex, unsafe pointer: encoding/json refuses every value but null
		p.kind = kindNone
	}
	return p
}

// implements reports whether encoding/json would find an unmarshaler of type u for a value
// of type t: on t itself when t is a pointer, on *t when t is named and addressable.
func implements(t, u reflect.Type) bool {
	if t.Kind() == reflect.Pointer {
		return t.Implements(u)
	}
	return t.Name() != "" && reflect.PointerTo(t).Implements(u)
}

func (b *planBuilder) buildStruct(p *plan, t reflect.Type) {
	for _, f := range jsonFields(t) {
		p.fields = append(p.fields, field{
			name:    f.name,
			seg:     escapeSegment(f.name),
			plan:    b.build(f.typ),
			quoted:  f.quoted,
			blocked: f.blocked,
		})
	}
	if len(p.fields) > linearFields {
		p.index = make(map[string]int, len(p.fields))
		for i, f := range p.fields {
			p.index[f.name] = i
		}
	}
	p.byGo = map[string]goField{}
	for i := range t.NumField() {
		sf := t.Field(i)
		ft := sf.Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		tag := sf.Tag.Get("json")
		name, _, _ := strings.Cut(tag, ",")
		if !isValidTag(name) {
			name = ""
		}
		switch {
		case tag == "-" || (!sf.IsExported() && !sf.Anonymous):
			p.byGo[sf.Name] = goField{omit: true}
		case sf.Anonymous && name == "" && ft.Kind() == reflect.Struct:
			p.byGo[sf.Name] = goField{flatten: true, plan: b.build(ft)}
		default:
			if name == "" {
				name = sf.Name
			}
			p.byGo[sf.Name] = goField{seg: escapeSegment(name), plan: b.build(sf.Type)}
		}
	}
}

// lookup returns the index of the field named exactly key, or -1.
func (p *plan) lookup(key []byte) int {
	if p.index != nil {
		if i, ok := p.index[string(key)]; ok {
			return i
		}
		return -1
	}
	for i := range p.fields {
		if p.fields[i].name == string(key) {
			return i
		}
	}
	return -1
}

// jsonField is a member of a struct's JSON object as encoding/json resolves it.
type jsonField struct {
	name    string
	tagged  bool
	index   []int
	typ     reflect.Type // the Go field's own type
	quoted  bool
	blocked bool
}

// jsonFields resolves t's JSON members exactly as encoding/json's typeFields does
// (encode.go): embedded structs explored breadth first, a json tag name wins, Go's
// embedding rules pick the dominant field of each name, and ambiguous names are dropped.
func jsonFields(t reflect.Type) []jsonField {
	type queued struct {
		typ     reflect.Type
		index   []int
		blocked bool
	}
	var fields []jsonField
	current, next := []queued{}, []queued{{typ: t}}
	var count, nextCount map[reflect.Type]int
	visited := map[reflect.Type]bool{}
	for len(next) > 0 {
		current, next = next, current[:0]
		count, nextCount = nextCount, map[reflect.Type]int{}
		for _, f := range current {
			if visited[f.typ] {
				continue
			}
			visited[f.typ] = true
			for i := range f.typ.NumField() {
				sf := f.typ.Field(i)
				if sf.Anonymous {
					et := sf.Type
					if et.Kind() == reflect.Pointer {
						et = et.Elem()
					}
					if !sf.IsExported() && et.Kind() != reflect.Struct {
						continue
					}
				} else if !sf.IsExported() {
					continue
				}
				tag := sf.Tag.Get("json")
				if tag == "-" {
					continue
				}
				name, opts, _ := strings.Cut(tag, ",")
				if !isValidTag(name) {
					name = ""
				}
				index := append(slices.Clip(f.index), i)
				ft := sf.Type
				if ft.Name() == "" && ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
				quoted := false
				if hasOption(opts, "string") {
					switch ft.Kind() {
					case reflect.Bool,
						reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
						reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
						reflect.Float32, reflect.Float64, reflect.String:
						quoted = true
					}
				}
				if name != "" || !sf.Anonymous || ft.Kind() != reflect.Struct {
					jf := jsonField{name: name, tagged: name != "", index: index, typ: sf.Type, quoted: quoted, blocked: f.blocked}
					if jf.name == "" {
						jf.name = sf.Name
					}
					fields = append(fields, jf)
					if count[f.typ] > 1 {
						fields = append(fields, jf) // so that the dominance check sees the duplicate
					}
					continue
				}
				nextCount[ft]++
				if nextCount[ft] == 1 {
					// A nil embedded pointer to an unexported struct cannot be allocated:
					// encoding/json refuses any member promoted through it.
					blocked := f.blocked || (sf.Type.Kind() == reflect.Pointer && !sf.IsExported())
					next = append(next, queued{typ: ft, index: index, blocked: blocked})
				}
			}
		}
	}
	slices.SortFunc(fields, func(a, b jsonField) int {
		if c := strings.Compare(a.name, b.name); c != 0 {
			return c
		}
		if c := cmp.Compare(len(a.index), len(b.index)); c != 0 {
			return c
		}
		if a.tagged != b.tagged {
			if a.tagged {
				return -1
			}
			return +1
		}
		return slices.Compare(a.index, b.index)
	})
	out := fields[:0]
	for advance, i := 0, 0; i < len(fields); i += advance {
		fi := fields[i]
		for advance = 1; i+advance < len(fields) && fields[i+advance].name == fi.name; advance++ {
		}
		if advance > 1 && len(fields[i].index) == len(fields[i+1].index) && fields[i].tagged == fields[i+1].tagged {
			continue // ambiguous: encoding/json drops the name
		}
		out = append(out, fi)
	}
	slices.SortFunc(out, func(a, b jsonField) int { return slices.Compare(a.index, b.index) })
	return out
}

func hasOption(opts, name string) bool {
	for opts != "" {
		var o string
		o, opts, _ = strings.Cut(opts, ",")
		if o == name {
			return true
		}
	}
	return false
}

// isValidTag is encoding/json's rule for a usable name in a json tag.
func isValidTag(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		switch {
		case strings.ContainsRune("!#$%&()*+-./:;<=>?@[]^_{|}~ ", c):
		case !unicode.IsLetter(c) && !unicode.IsDigit(c):
			return false
		}
	}
	return true
}

// escapeSegment escapes a name for a JSON Pointer (RFC 6901): "~" as "~0", "/" as "~1".
func escapeSegment(s string) string {
	if !strings.ContainsAny(s, "~/") {
		return s
	}
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(s)
}

// pointerFor turns a validator namespace below the top-level value (the part after the
// type name: "Code.Coding[0].Code", "[2].Subject") into a JSON Pointer ("/code/coding/0/code")
// by walking p. Segments come only from the Go type (JSON names) and from array indices: at
// a map, an interface or anything the walk cannot follow, the pointer stops, because what
// comes next is a key from the request.
func (p *plan) pointerFor(ns string) string {
	var b strings.Builder
	cur := p
	for ns != "" && cur != nil {
		for cur.kind == kindPtr {
			cur = cur.elem
		}
		switch cur.kind {
		case kindStruct:
			ns = strings.TrimPrefix(ns, ".")
			end := strings.IndexAny(ns, ".[")
			if end < 0 {
				end = len(ns)
			}
			gf, ok := cur.byGo[ns[:end]]
			if !ok || gf.omit {
				return b.String()
			}
			if !gf.flatten {
				b.WriteByte('/')
				b.WriteString(gf.seg)
			}
			cur, ns = gf.plan, ns[end:]
		case kindSlice, kindArray, kindBytes:
			if !strings.HasPrefix(ns, "[") {
				return b.String()
			}
			end := strings.IndexByte(ns, ']')
			if end < 0 {
				return b.String()
			}
			if _, err := strconv.Atoi(ns[1:end]); err != nil {
				return b.String()
			}
			b.WriteByte('/')
			b.WriteString(ns[1:end])
			cur, ns = cur.elem, ns[end+1:]
		default:
			return b.String()
		}
	}
	return b.String()
}
