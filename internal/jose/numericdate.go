package jose

import (
	"errors"
	"math"
	"strconv"
	"time"
)

// ErrNumericDate is the error NumericDate.UnmarshalJSON returns for anything but a JSON
// number between 0 and 1e11. json.Unmarshal returns it unwrapped; callers map it to their
// own missing-or-invalid-claim error with errors.Is.
var ErrNumericDate = errors.New("jose: NumericDate is not a number of seconds since the epoch")

// NumericDate is an RFC 7519 NumericDate: a JSON number of seconds since the epoch, which
// may have a fraction. A date written as a string, a negative one and one after the year
// 5138 are refused with ErrNumericDate. The time is in UTC. A *NumericDate field is nil
// when the member is absent or null.
type NumericDate struct{ time.Time }

// UnmarshalJSON implements json.Unmarshaler.
func (d *NumericDate) UnmarshalJSON(b []byte) error {
	if len(b) == 0 || (b[0] != '-' && (b[0] < '0' || b[0] > '9')) {
		return ErrNumericDate
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil || f < 0 || f > 1e11 || math.IsNaN(f) {
		return ErrNumericDate
	}
	sec, frac := math.Modf(f)
	d.Time = time.Unix(int64(sec), int64(frac*1e9)).UTC()
	return nil
}
