// Package numericdate decodes the NumericDate of JSON Web Tokens (RFC 7519
// §2): a JSON number of seconds since the epoch, with an optional fraction.
// The token's own claims (exp, nbf, iat, auth_time) and a DPoP proof's iat
// are read with it, so both refuse the same values.
package numericdate

import (
	"errors"
	"math"
	"strconv"
	"time"
)

// Max bounds dates to ±2^40 seconds (about 36,800 years either side of
// 1970), which time.Time and int64 hold with room to spare.
const Max = 1 << 40

// ErrType is returned for a value that is not a NumericDate: a string, a
// boolean, null read as a date, a non-finite or out-of-range number.
var ErrType = errors.New("not a NumericDate")

// Date is a decoded NumericDate. Use a *Date field so that an absent claim
// stays nil.
type Date struct{ t time.Time }

// UnmarshalJSON decodes a JSON number of seconds since the epoch, refusing
// anything else (see [ErrType]).
func (d *Date) UnmarshalJSON(b []byte) error {
	if len(b) == 0 || !(b[0] == '-' || (b[0] >= '0' && b[0] <= '9')) {
		return ErrType
	}
	if n, err := strconv.ParseInt(string(b), 10, 64); err == nil {
		if n < -Max || n > Max {
			return ErrType
		}
		d.t = time.Unix(n, 0)
		return nil
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < -Max || f > Max {
		return ErrType
	}
	sec, frac := math.Modf(f)
	d.t = time.Unix(int64(sec), int64(frac*1e9))
	return nil
}

// Time returns the date, or the zero time for a nil Date (an absent claim).
func (d *Date) Time() time.Time {
	if d == nil {
		return time.Time{}
	}
	return d.t
}
