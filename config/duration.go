package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Day, Week and Year are the calendar-free units inventories use: a day is
// 24 hours, a week 7 days, a year 365 days.
const (
	Day  = 24 * time.Hour
	Week = 7 * Day
	Year = 365 * Day
)

var durationUnits = []struct {
	suffix string
	size   time.Duration
}{
	{"y", Year}, {"w", Week}, {"d", Day}, {"h", time.Hour}, {"m", time.Minute}, {"s", time.Second},
}

// durationHint is the detail shown for any malformed duration.
const durationHint = `A duration is one or more whole numbers each followed by a unit: s, m, h, d (24h), w (7d) or y (365d); for example "90d", "24h", "2w" or "1d12h".`

// ParseDuration reads an inventory duration such as "90d", "24h", "2w",
// "1y" or "1d12h". It accepts no signs, fractions or spaces.
func ParseDuration(s string) (time.Duration, error) {
	if s == "" {
		return 0, fmt.Errorf("empty duration")
	}
	var total time.Duration
	rest := s
	for rest != "" {
		i := 0
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			i++
		}
		if i == 0 {
			return 0, fmt.Errorf("%q is not a duration", s)
		}
		n, err := strconv.ParseInt(rest[:i], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%q is too long a duration", s)
		}
		rest = rest[i:]
		size := time.Duration(0)
		for _, u := range durationUnits {
			if strings.HasPrefix(rest, u.suffix) {
				size = u.size
				rest = rest[len(u.suffix):]
				break
			}
		}
		if size == 0 {
			return 0, fmt.Errorf("%q is not a duration", s)
		}
		if n > int64((1<<63-1)/size) || total+time.Duration(n)*size < total {
			return 0, fmt.Errorf("%q is too long a duration", s)
		}
		total += time.Duration(n) * size
	}
	return total, nil
}

// FormatDuration writes d in the largest units that divide it exactly, the
// inverse of ParseDuration for the durations people write: 90d, 24h, 1y, 1d12h.
func FormatDuration(d time.Duration) string {
	if d == 0 {
		return "0s"
	}
	var b strings.Builder
	if d < 0 {
		b.WriteByte('-')
		d = -d
	}
	for _, u := range durationUnits {
		if u.size == Week && d%Week != 0 {
			continue // "10d" reads better than "1w3d"
		}
		if n := d / u.size; n > 0 {
			b.WriteString(strconv.FormatInt(int64(n), 10))
			b.WriteString(u.suffix)
			d -= n * u.size
		}
	}
	if d > 0 {
		b.WriteString(d.String())
	}
	return b.String()
}
