package duck

import (
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"
)

// Units of the date components. Years and months have no fixed length; they are converted
// with the Gregorian averages Knative uses (knative.dev/eventing reads durations with
// github.com/rickb777/date/period, whose DurationApprox does the same).
const (
	day   = 24 * time.Hour
	week  = 7 * day
	year  = 31556952 * time.Second // 365.2425 days
	month = year / 12              // 30.436875 days
)

// maxDigits bounds the digits of one component, so that a hostile value costs nothing to parse.
const maxDigits = 40

// ErrDurationRange is returned (wrapped) for an ISO-8601 duration that is well formed but does
// not fit in a time.Duration (about ±292 years).
var ErrDurationRange = errors.New("duration out of range")

// component is one designator of an ISO-8601 duration, in the order the standard requires.
type component struct {
	designator byte
	unit       time.Duration
	timePart   bool // after the "T"
}

var components = []component{
	{'Y', year, false},
	{'M', month, false},
	{'W', week, false},
	{'D', day, false},
	{'H', time.Hour, true},
	{'M', time.Minute, true},
	{'S', time.Second, true},
}

// ParseDuration parses an ISO-8601 duration such as "PT0.2S", "PT1M30S", "P1DT12H" or "P2W",
// as Knative's delivery fields take them.
//
// The grammar is [sign] "P" [nY] [nM] [nW] [nD] ["T" [nH] [nM] [nS]]: at least one component,
// components in that order, each at most once, the "T" followed by at least one time component.
// A number is decimal digits; the last component written may have a fraction after "." or ","
// ("PT0.5S", "PT1.5H"). A leading "-" makes the duration negative, a leading "+" is allowed.
// Designators are upper-case, as the standard writes them. Years and months are converted with
// the Gregorian averages (365.2425 and 30.436875 days), days are 24 hours and weeks 7 days.
// Fractions below a nanosecond are truncated. A duration beyond the range of time.Duration is
// an error that wraps ErrDurationRange.
func ParseDuration(s string) (time.Duration, error) {
	d, err := parseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid ISO-8601 duration %q: %w", s, err)
	}
	return d, nil
}

func parseDuration(s string) (time.Duration, error) {
	rest := s
	negative := false
	if rest != "" && (rest[0] == '-' || rest[0] == '+') {
		negative = rest[0] == '-'
		rest = rest[1:]
	}
	if rest == "" || rest[0] != 'P' {
		return 0, errors.New(`it must start with "P", as in PT0.2S`)
	}
	rest = rest[1:]
	if rest == "" {
		return 0, errors.New(`"P" must be followed by at least one component, as in PT0.2S`)
	}
	total := new(big.Int)
	next := 0         // index into components of the next allowed designator
	inTime := false   // a "T" was read
	seen := 0         // components read
	timeSeen := 0     // components read after the "T"
	fraction := false // the last component read had a fraction
	for rest != "" {
		if rest[0] == 'T' {
			if inTime {
				return 0, errors.New(`"T" appears twice`)
			}
			inTime = true
			rest = rest[1:]
			if rest == "" {
				return 0, errors.New(`"T" must be followed by at least one of H, M or S`)
			}
			for next < len(components) && !components[next].timePart {
				next++
			}
			continue
		}
		if fraction {
			return 0, errors.New("only the last component may have a fraction")
		}
		intPart, fracPart, designator, tail, err := scanComponent(rest)
		if err != nil {
			return 0, err
		}
		rest = tail
		i := next
		for i < len(components) && (components[i].designator != designator || components[i].timePart != inTime) {
			i++
		}
		if i == len(components) {
			return 0, describeMisplaced(designator, inTime)
		}
		next = i + 1
		seen++
		if inTime {
			timeSeen++
		}
		fraction = fracPart != ""
		total.Add(total, componentNanos(intPart, fracPart, components[i].unit))
	}
	if seen == 0 || inTime && timeSeen == 0 {
		return 0, errors.New("no component")
	}
	if negative {
		total.Neg(total)
	}
	if !total.IsInt64() {
		return 0, ErrDurationRange
	}
	return time.Duration(total.Int64()), nil
}

// scanComponent reads digits, an optional fraction and a designator letter.
func scanComponent(s string) (intPart, fracPart string, designator byte, rest string, err error) {
	i := 0
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	intPart = s[:i]
	if i < len(s) && (s[i] == '.' || s[i] == ',') {
		j := i + 1
		for j < len(s) && isDigit(s[j]) {
			j++
		}
		fracPart = s[i+1 : j]
		if fracPart == "" {
			return "", "", 0, "", fmt.Errorf("%q: a decimal sign must be followed by digits", s[:j])
		}
		i = j
	}
	if intPart == "" {
		if i < len(s) {
			return "", "", 0, "", fmt.Errorf("%q: expected a number before the designator", s[:i+1])
		}
		return "", "", 0, "", fmt.Errorf("expected a number, found %q", s)
	}
	if len(intPart)+len(fracPart) > maxDigits {
		return "", "", 0, "", fmt.Errorf("a number has more than %d digits: %w", maxDigits, ErrDurationRange)
	}
	if i == len(s) {
		return "", "", 0, "", fmt.Errorf("%q has no designator (Y, M, W, D, H, M or S)", s)
	}
	return intPart, fracPart, s[i], s[i+1:], nil
}

func describeMisplaced(designator byte, inTime bool) error {
	switch designator {
	case 'Y', 'W', 'D':
		if inTime {
			return fmt.Errorf("%q belongs before the \"T\"", designator)
		}
	case 'H', 'S':
		if !inTime {
			return fmt.Errorf("%q belongs after a \"T\", as in PT%c", designator, designator)
		}
	case 'M':
	default:
		if designator >= 'a' && designator <= 'z' {
			return fmt.Errorf("unknown designator %q (designators are upper-case)", designator)
		}
		return fmt.Errorf("unknown designator %q", designator)
	}
	return fmt.Errorf("%q is out of order or repeated (the order is Y M W D T H M S)", designator)
}

// componentNanos returns (intPart.fracPart) × unit in nanoseconds, the fraction truncated.
func componentNanos(intPart, fracPart string, unit time.Duration) *big.Int {
	u := big.NewInt(int64(unit))
	n, _ := new(big.Int).SetString(intPart, 10)
	n.Mul(n, u)
	if fracPart != "" {
		f, _ := new(big.Int).SetString(fracPart, 10)
		f.Mul(f, u)
		f.Quo(f, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(len(fracPart))), nil))
		n.Add(n, f)
	}
	return n
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// FormatDuration writes d as an ISO-8601 duration with hours, minutes and seconds only, the
// seconds with as many decimals as they need: 200ms is "PT0.2S", 90s is "PT1M30S", 0 is "PT0S",
// -1s is "-PT1S". ParseDuration(FormatDuration(d)) is d for every d.
func FormatDuration(d time.Duration) string {
	var b strings.Builder
	u := uint64(d)
	if d < 0 {
		b.WriteByte('-')
		u = uint64(-(d + 1)) + 1 // |d|, also for math.MinInt64
	}
	b.WriteString("PT")
	h := u / uint64(time.Hour)
	u -= h * uint64(time.Hour)
	m := u / uint64(time.Minute)
	u -= m * uint64(time.Minute)
	sec := u / uint64(time.Second)
	ns := u - sec*uint64(time.Second)
	if h > 0 {
		b.WriteString(strconv.FormatUint(h, 10) + "H")
	}
	if m > 0 {
		b.WriteString(strconv.FormatUint(m, 10) + "M")
	}
	if sec > 0 || ns > 0 || h == 0 && m == 0 {
		b.WriteString(strconv.FormatUint(sec, 10))
		if ns > 0 {
			frac := strings.TrimRight(fmt.Sprintf("%09d", ns), "0")
			b.WriteString("." + frac)
		}
		b.WriteByte('S')
	}
	return b.String()
}
