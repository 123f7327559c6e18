package validate

import (
	"bytes"
	"encoding/base64"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// scanner checks a JSON text against a plan in one pass, before encoding/json decodes it:
// strict RFC 8259 syntax, valid UTF-8 and no unpaired surrogate or NUL in strings, a depth
// limit, no duplicate member names at any depth, only the exact member names of each
// struct, and values that their Go types hold without loss. When it accepts a text,
// encoding/json decodes it into the planned type without silently dropping, merging or
// rounding anything (custom unmarshalers aside).
//
// It recurses once per level of nesting and stops at maxDepth, so the Go stack it uses is
// bounded by the configuration, never by the input.
type scanner struct {
	data     []byte
	pos      int
	depth    int
	maxDepth int
	keys     [][]byte // member names of the maps and generic objects being scanned
}

// scanError is a refusal and where it happened: segs are the JSON Pointer segments from
// the innermost value outwards, each already escaped.
type scanError struct {
	reason *Error
	segs   []string
}

// at adds the segment of the value that encloses where e happened.
func (e *scanError) at(seg string) *scanError {
	e.segs = append(e.segs, seg)
	return e
}

// cut forgets the segments below a map or generic object: they would follow a member name
// taken from the request, which is never echoed. The pointer then names the object.
func (e *scanError) cut() *scanError {
	e.segs = e.segs[:0]
	return e
}

func (e *scanError) pointer() string {
	segs := e.segs
	if len(segs) > maxPointerSegments { // keep the outermost: the pointer names an ancestor
		segs = segs[len(segs)-maxPointerSegments:]
	}
	n := 0
	for _, s := range segs {
		n += len(s) + 1
	}
	b := make([]byte, 0, n)
	for i := len(segs) - 1; i >= 0; i-- {
		b = append(b, '/')
		b = append(b, segs[i]...)
	}
	return string(b)
}

// maxPointerSegments bounds the pointers of refusals: a problem nested deeper is
// reported at its ancestor this many levels down, so that a deeply nested body does not
// get a response as long as itself.
const maxPointerSegments = 32

func fail(reason *Error) *scanError { return &scanError{reason: reason} }

// scan checks data against p.
func scan(data []byte, p *plan, maxDepth int) *scanError {
	s := scanner{data: data, maxDepth: maxDepth}
	if bytes.HasPrefix(data, []byte("\xef\xbb\xbf")) {
		return fail(ErrSyntax) // a byte order mark is not JSON (RFC 8259 §8.1)
	}
	s.space()
	if s.pos == len(s.data) {
		return fail(ErrEmptyBody)
	}
	if s.data[s.pos] == 'n' {
		return fail(ErrType) // a body of null is never a value
	}
	if err := s.value(p); err != nil {
		return err
	}
	s.space()
	if s.pos != len(s.data) {
		return fail(ErrTrailingData)
	}
	return nil
}

func (s *scanner) space() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// peek returns the next byte, or 0 at the end.
func (s *scanner) peek() byte {
	if s.pos < len(s.data) {
		return s.data[s.pos]
	}
	return 0
}

// literal consumes lit (true, false, null) or fails with ErrSyntax.
func (s *scanner) literal(lit string) *scanError {
	if len(s.data)-s.pos < len(lit) || string(s.data[s.pos:s.pos+len(lit)]) != lit {
		return fail(ErrSyntax)
	}
	s.pos += len(lit)
	return nil
}

// mismatch is the refusal of a value that starts with c where something else was expected:
// ErrType when c starts a JSON value, ErrSyntax when it does not.
func mismatch(c byte) *scanError {
	switch c {
	case '"', '{', '[', 't', 'f', 'n', '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		return fail(ErrType)
	}
	return fail(ErrSyntax)
}

// value checks the value at s.pos against p. A nil p accepts any JSON value.
func (s *scanner) value(p *plan) *scanError {
	s.space()
	c := s.peek()
	if c == 'n' {
		if err := s.literal("null"); err != nil {
			return err
		}
		if p != nil && !p.nullable {
			return fail(ErrType)
		}
		return nil
	}
	if p == nil {
		return s.anyValue(c)
	}
	for p.kind == kindPtr {
		p = p.elem
	}
	switch p.kind {
	case kindAny, kindRaw:
		return s.anyValue(c)
	case kindBool:
		switch c {
		case 't':
			return s.literal("true")
		case 'f':
			return s.literal("false")
		}
	case kindString, kindText:
		if c == '"' {
			_, _, _, err := s.str()
			return err
		}
	case kindNumber, kindInt, kindUint, kindFloat:
		if c == '-' || (c >= '0' && c <= '9') {
			start, isInt, err := s.number()
			if err != nil {
				return err
			}
			if !numberFits(p, s.data[start:s.pos], isInt) {
				return fail(ErrType)
			}
			return nil
		}
	case kindBytes:
		switch c {
		case '"':
			return s.base64()
		case '[':
			return s.array(p.elem, -1)
		}
	case kindSlice:
		if c == '[' {
			return s.array(p.elem, -1)
		}
	case kindArray:
		if c == '[' {
			return s.array(p.elem, p.length)
		}
	case kindMap:
		if c == '{' {
			return s.object(p.key, p.bits, p.elem)
		}
	case kindStruct:
		if c == '{' {
			return s.structObject(p)
		}
	}
	return mismatch(c) // kindNone, or a value of the wrong type
}

// anyValue checks any JSON value starting with c.
func (s *scanner) anyValue(c byte) *scanError {
	switch c {
	case '{':
		return s.object(kindString, 0, nil)
	case '[':
		return s.array(nil, -1)
	case '"':
		_, _, _, err := s.str()
		return err
	case 't':
		return s.literal("true")
	case 'f':
		return s.literal("false")
	case 'n':
		return s.literal("null")
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		_, _, err := s.number()
		return err
	}
	return fail(ErrSyntax)
}

// enter steps into an object or array.
func (s *scanner) enter() *scanError {
	s.depth++
	if s.depth > s.maxDepth {
		return fail(ErrTooDeep)
	}
	s.pos++
	return nil
}

// structObject checks an object against the fields of a struct.
func (s *scanner) structObject(p *plan) *scanError {
	if err := s.enter(); err != nil || s.empty('}') {
		return err
	}
	var seenBits uint64
	var seenMore []bool
	if len(p.fields) > 64 {
		seenMore = make([]bool, len(p.fields))
	}
	for {
		s.space()
		if s.peek() != '"' {
			return fail(ErrSyntax)
		}
		start, end, escaped, err := s.str()
		if err != nil {
			return err
		}
		key := s.data[start:end]
		if escaped {
			key = unescape(key)
		}
		i := p.lookup(key)
		if i < 0 {
			return fail(ErrUnknownField)
		}
		f := &p.fields[i]
		if seenMore != nil {
			if seenMore[i] {
				return fail(ErrDuplicateKey).at(f.seg)
			}
			seenMore[i] = true
		} else {
			if seenBits&(1<<i) != 0 {
				return fail(ErrDuplicateKey).at(f.seg)
			}
			seenBits |= 1 << i
		}
		if f.blocked {
			return fail(ErrType).at(f.seg)
		}
		if err := s.colon(); err != nil {
			return err
		}
		if f.quoted {
			err = s.quoted(f.plan)
		} else {
			err = s.value(f.plan)
		}
		if err != nil {
			return err.at(f.seg)
		}
		if done, err := s.next('}'); done || err != nil {
			return err
		}
	}
}

// smallObject is the number of member names up to which duplicates are found by
// comparing each new name with the earlier ones; larger objects use a map.
const smallObject = 32

// object checks a map (keys of the given kind, values per elem) or, with a nil elem, a
// generic object. Member names are never part of an error's pointer.
func (s *scanner) object(key kind, bits int, elem *plan) *scanError {
	if err := s.enter(); err != nil || s.empty('}') {
		return err
	}
	base := len(s.keys) // the names pushed here are popped on success; a refusal ends the scan
	var many map[string]struct{}
	for {
		s.space()
		if s.peek() != '"' {
			return fail(ErrSyntax)
		}
		start, end, escaped, err := s.str()
		if err != nil {
			return err
		}
		k := s.data[start:end]
		if escaped {
			k = unescape(k)
		}
		switch key {
		case kindInt:
			if !canonicalInt(k, bits, true) {
				return fail(ErrType)
			}
		case kindUint:
			if !canonicalInt(k, bits, false) {
				return fail(ErrType)
			}
		}
		if many != nil {
			if _, dup := many[string(k)]; dup {
				return fail(ErrDuplicateKey)
			}
			many[string(k)] = struct{}{}
		} else {
			for _, have := range s.keys[base:] {
				if bytes.Equal(have, k) {
					return fail(ErrDuplicateKey)
				}
			}
			s.keys = append(s.keys, k)
			if len(s.keys)-base > smallObject {
				many = make(map[string]struct{}, 2*smallObject)
				for _, have := range s.keys[base:] {
					many[string(have)] = struct{}{}
				}
			}
		}
		if err := s.colon(); err != nil {
			return err
		}
		if err := s.value(elem); err != nil {
			return err.cut()
		}
		if done, err := s.next('}'); done || err != nil {
			s.keys = s.keys[:base]
			return err
		}
	}
}

// array checks an array whose elements follow elem (nil: any value) and of which there
// may be at most max (negative: no limit).
func (s *scanner) array(elem *plan, max int) *scanError {
	if err := s.enter(); err != nil || s.empty(']') {
		return err
	}
	for i := 0; ; i++ {
		if max >= 0 && i >= max {
			return fail(ErrType).at(strconv.Itoa(i)) // encoding/json would drop it
		}
		if err := s.value(elem); err != nil {
			return err.at(strconv.Itoa(i))
		}
		if done, err := s.next(']'); done || err != nil {
			return err
		}
	}
}

// empty reports whether the object or array just entered is empty, consuming its
// closing byte, close, and stepping back out if so.
func (s *scanner) empty(close byte) bool {
	s.space()
	if s.peek() != close {
		return false
	}
	s.pos++
	s.depth--
	return true
}

// colon consumes the colon after a member name.
func (s *scanner) colon() *scanError {
	s.space()
	if s.peek() != ':' {
		return fail(ErrSyntax)
	}
	s.pos++
	return nil
}

// next consumes what follows a member or element: a comma, or close, which ends the
// object or array and reports done.
func (s *scanner) next(close byte) (done bool, err *scanError) {
	s.space()
	switch s.peek() {
	case ',':
		s.pos++
		return false, nil
	case close:
		s.pos++
		s.depth--
		return true, nil
	}
	return false, fail(ErrSyntax)
}

// str checks the string at s.pos and returns the bounds of its content and whether it has
// escapes.
func (s *scanner) str() (start, end int, escaped bool, err *scanError) {
	data := s.data
	i := s.pos + 1
	start = i
	for {
		for i < len(data) && data[i] >= 0x20 && data[i] < 0x80 && data[i] != '"' && data[i] != '\\' {
			i++
		}
		if i >= len(data) {
			s.pos = i
			return 0, 0, false, fail(ErrSyntax)
		}
		switch c := data[i]; {
		case c == '"':
			s.pos = i + 1
			return start, i, escaped, nil
		case c == '\\':
			escaped = true
			if i+1 >= len(data) {
				return 0, 0, false, fail(ErrSyntax)
			}
			switch data[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
				continue
			case 'u':
			default:
				return 0, 0, false, fail(ErrSyntax)
			}
			r, ok := hex4(data[i+2:])
			if !ok {
				return 0, 0, false, fail(ErrSyntax)
			}
			i += 6
			switch {
			case r == 0:
				return 0, 0, false, fail(ErrNUL)
			case r >= 0xd800 && r < 0xdc00: // a high surrogate: a low one must follow
				if len(data)-i >= 6 && data[i] == '\\' && data[i+1] == 'u' {
					if lo, ok := hex4(data[i+2:]); ok && lo >= 0xdc00 && lo <= 0xdfff {
						i += 6
						continue
					}
				}
				return 0, 0, false, fail(ErrInvalidUTF8)
			case r >= 0xdc00 && r <= 0xdfff:
				return 0, 0, false, fail(ErrInvalidUTF8)
			}
		case c < 0x20:
			return 0, 0, false, fail(ErrSyntax) // control characters must be escaped
		default:
			r, size := utf8.DecodeRune(data[i:])
			if r == utf8.RuneError && size == 1 {
				return 0, 0, false, fail(ErrInvalidUTF8)
			}
			i += size
		}
	}
}

// hex4 decodes four hex digits.
func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// unescape decodes the content of a string that str accepted.
func unescape(raw []byte) []byte {
	out := make([]byte, 0, len(raw))
	for i := 0; i < len(raw); {
		c := raw[i]
		if c != '\\' {
			out = append(out, c)
			i++
			continue
		}
		switch raw[i+1] {
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, _ := hex4(raw[i+2:])
			i += 6
			if utf16.IsSurrogate(r) { // str guarantees the low half follows
				lo, _ := hex4(raw[i+2:])
				r = utf16.DecodeRune(r, lo)
				i += 6
			}
			out = utf8.AppendRune(out, r)
			continue
		default: // '"', '\\', '/'
			out = append(out, raw[i+1])
		}
		i += 2
	}
	return out
}

// base64 checks a string holding standard base64, as encoding/json decodes into []byte.
func (s *scanner) base64() *scanError {
	start, end, escaped, err := s.str()
	if err != nil {
		return err
	}
	b := s.data[start:end]
	if escaped {
		b = unescape(b)
	}
	if _, err := base64.StdEncoding.Decode(make([]byte, base64.StdEncoding.DecodedLen(len(b))), b); err != nil {
		return fail(ErrType)
	}
	return nil
}

// number checks the number at s.pos and returns where it starts and whether it is an
// integer literal (no fraction, no exponent).
func (s *scanner) number() (start int, isInt bool, err *scanError) {
	data := s.data
	i := s.pos
	start = i
	if i < len(data) && data[i] == '-' {
		i++
	}
	switch {
	case i < len(data) && data[i] == '0':
		i++
	case i < len(data) && data[i] >= '1' && data[i] <= '9':
		for i < len(data) && data[i] >= '0' && data[i] <= '9' {
			i++
		}
	default:
		return 0, false, fail(ErrSyntax)
	}
	isInt = true
	if i < len(data) && data[i] == '.' {
		i++
		isInt = false
		if i >= len(data) || data[i] < '0' || data[i] > '9' {
			return 0, false, fail(ErrSyntax)
		}
		for i < len(data) && data[i] >= '0' && data[i] <= '9' {
			i++
		}
	}
	if i < len(data) && (data[i] == 'e' || data[i] == 'E') {
		i++
		isInt = false
		if i < len(data) && (data[i] == '+' || data[i] == '-') {
			i++
		}
		if i >= len(data) || data[i] < '0' || data[i] > '9' {
			return 0, false, fail(ErrSyntax)
		}
		for i < len(data) && data[i] >= '0' && data[i] <= '9' {
			i++
		}
	}
	s.pos = i
	return start, isInt, nil
}

// quoted checks the value of a field with the ",string" option: a JSON string holding
// the literal of a bool, number or string (or null where the field is nullable).
func (s *scanner) quoted(p *plan) *scanError {
	s.space()
	c := s.peek()
	if c == 'n' {
		return s.value(p)
	}
	for p.kind == kindPtr {
		p = p.elem
	}
	if c != '"' {
		return mismatch(c)
	}
	start, end, escaped, err := s.str()
	if err != nil {
		return err
	}
	content := s.data[start:end]
	if escaped {
		content = unescape(content)
	}
	switch p.kind {
	case kindBool:
		if string(content) == "true" || string(content) == "false" {
			return nil
		}
	case kindInt, kindUint, kindFloat:
		inner := scanner{data: content}
		if len(content) > 0 && (content[0] == '-' || (content[0] >= '0' && content[0] <= '9')) {
			if _, isInt, err := inner.number(); err == nil && inner.pos == len(content) && numberFits(p, content, isInt) {
				return nil
			}
		}
	case kindString:
		inner := scanner{data: content}
		if len(content) > 0 && content[0] == '"' {
			_, _, _, err := inner.str()
			if err != nil {
				return err
			}
			if inner.pos == len(content) {
				return nil
			}
		}
	}
	return fail(ErrType)
}

// numberFits reports whether a number literal (valid JSON) decodes into p's kind without
// loss.
func numberFits(p *plan, lit []byte, isInt bool) bool {
	switch p.kind {
	case kindInt:
		return isInt && intFits(lit, p.bits, true)
	case kindUint:
		return isInt && intFits(lit, p.bits, false)
	case kindFloat:
		return floatExact(lit, p.bits)
	}
	return true // json.Number keeps the text
}

// intFits reports whether an integer literal (valid JSON, no fraction or exponent) fits a
// signed or unsigned integer of the given bits. "-0" is not an unsigned integer, as for
// strconv.ParseUint.
func intFits(lit []byte, bits int, signed bool) bool {
	neg := lit[0] == '-'
	if neg {
		if !signed {
			return false
		}
		lit = lit[1:]
	}
	var n uint64
	for _, c := range lit {
		d := uint64(c - '0')
		if n > (1<<64-1-d)/10 {
			return false
		}
		n = n*10 + d
	}
	if signed {
		limit := uint64(1) << (bits - 1)
		return n < limit || (neg && n == limit)
	}
	return bits == 64 || n < 1<<bits
}

// canonicalInt reports whether a map key is an integer in its one canonical form (no
// sign but a leading minus, no leading zero, not "-0") that fits: two different keys then
// never decode to the same integer.
func canonicalInt(k []byte, bits int, signed bool) bool {
	d := k
	if len(d) > 0 && d[0] == '-' {
		d = d[1:]
	}
	if len(d) == 0 || (d[0] == '0' && len(d) > 1) || (len(d) < len(k) && string(d) == "0") {
		return false
	}
	for _, c := range d {
		if c < '0' || c > '9' {
			return false
		}
	}
	return intFits(k, bits, signed)
}

// floatExact reports whether a number literal (valid JSON) is held exactly by a float of
// the given bits, in this sense: the float nearest to it, written back in its shortest
// form (strconv.FormatFloat with precision -1), denotes the same decimal number. So 0.1 and
// 1.5e300 are accepted; 1e400 (out of range), 1e-400 (underflows to zero),
// 9007199254740993 (2^53+1, which becomes 2^53) and 3.14159265358979323846 (more digits
// than a float64 holds) are refused. Zero in any spelling is accepted.
func floatExact(lit []byte, bits int) bool {
	safe, most, minExp, maxExp := 15, 17, -300, 300 // float64: DBL_DIG, shortest form, normal range
	if bits == 32 {
		safe, most, minExp, maxExp = 6, 9, -30, 30
	}
	var buf [24]byte
	n, exp, digits := decimal(lit, buf[:0])
	switch {
	case n == 0:
		return true
	case n > most:
		return false // the shortest form of a float never has more digits
	case n <= safe && exp > minExp && exp < maxExp:
		return true // every decimal of at most DBL_DIG (FLT_DIG) digits round-trips
	}
	f, err := strconv.ParseFloat(string(lit), bits)
	if err != nil || f == 0 {
		return false
	}
	var out [32]byte
	var buf2 [24]byte
	n2, exp2, digits2 := decimal(strconv.AppendFloat(out[:0], f, 'e', -1, bits), buf2[:0])
	return n == n2 && exp == exp2 && bytes.Equal(digits, digits2)
}

// decimal reads a number literal as 0.d1d2…dn × 10^exp with d1 ≠ 0 and dn ≠ 0: it returns
// n (0 for zero), exp, and up to cap(buf) of the digits. It accepts what JSON and
// strconv.FormatFloat(…, 'e', …) write. Exponents beyond ±10⁶ are clamped.
func decimal(lit []byte, buf []byte) (n, exp int, digits []byte) {
	i := 0
	if i < len(lit) && lit[i] == '-' {
		i++
	}
	point := -1
	intDigits := 0
	leading := true
	zerosAfterLead := 0 // leading zeros skipped
	trailing := 0       // zeros seen since the last non-zero digit
	for ; i < len(lit); i++ {
		c := lit[i]
		if c == '.' {
			point = intDigits
			continue
		}
		if c < '0' || c > '9' {
			break
		}
		if point < 0 {
			intDigits++
		}
		if leading {
			if c == '0' {
				zerosAfterLead++
				continue
			}
			leading = false
		}
		if c == '0' {
			trailing++
			continue
		}
		for ; trailing > 0; trailing-- {
			n++
			if len(buf) < cap(buf) {
				buf = append(buf, '0')
			}
		}
		n++
		if len(buf) < cap(buf) {
			buf = append(buf, c)
		}
	}
	if n == 0 {
		return 0, 0, buf
	}
	if point < 0 {
		point = intDigits
	}
	e := 0
	if i < len(lit) && (lit[i] == 'e' || lit[i] == 'E') {
		i++
		neg := false
		if i < len(lit) && (lit[i] == '+' || lit[i] == '-') {
			neg = lit[i] == '-'
			i++
		}
		for ; i < len(lit); i++ {
			if e < 1_000_000 {
				e = e*10 + int(lit[i]-'0')
			}
		}
		if neg {
			e = -e
		}
	}
	return n, point - zerosAfterLead + e, buf
}
