package numericdate

import (
	"errors"
	"testing"
	"time"
)

func TestUnmarshalJSON(t *testing.T) {
	tests := []struct {
		in   string
		want time.Time
		err  bool
	}{
		{"0", time.Unix(0, 0), false},
		{"1700000000", time.Unix(1700000000, 0), false},
		{"-1", time.Unix(-1, 0), false},
		{"1700000000.5", time.Unix(1700000000, 5e8), false},
		{"1099511627776", time.Unix(Max, 0), false},
		{"-1099511627776", time.Unix(-Max, 0), false},
		{"1099511627777", time.Time{}, true},
		{"-1099511627777", time.Time{}, true},
		{"1099511627776.5", time.Time{}, true},
		{`"1700000000"`, time.Time{}, true},
		{"true", time.Time{}, true},
		{"null", time.Time{}, true},
		{"", time.Time{}, true},
		{"1e400", time.Time{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			var d Date
			err := d.UnmarshalJSON([]byte(tt.in))
			if tt.err {
				if !errors.Is(err, ErrType) {
					t.Fatalf("got %v, want ErrType", err)
				}
				return
			}
			if err != nil || !d.Time().Equal(tt.want) {
				t.Fatalf("got %v, %v; want %v", d.Time(), err, tt.want)
			}
		})
	}
}

func TestNilTime(t *testing.T) {
	var d *Date
	if got := d.Time(); !got.IsZero() {
		t.Fatalf("got %v for a nil Date, want the zero time", got)
	}
}
