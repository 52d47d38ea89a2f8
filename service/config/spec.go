package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/lktoken/lktoken/service/setting"
)

// spec is the declaration of one setting: its flag, its variable, what it
// fills (value: the field, its default and its parser), the field id that
// errors name it by, and its help. specs lists them all.
type spec struct {
	// flag is the flag's name without dashes; "" for a setting that is
	// environment only (secrets: a flag would show in the process list).
	flag string
	// env is the environment variable.
	env string
	// field is what errors call the setting; "" means config's own id,
	// "config." + env. A domain package's field (keys.FieldSecretFile) lets
	// that package's errors name the setting.
	field setting.Field
	// value fills the destination field: the default, then the user's text.
	value value
	help  string
	// secret: an error never quotes the value.
	secret bool

	// raw is the text the user set and origin where it came from.
	raw    string
	origin origin
}

// origin is where a setting's value came from.
type origin int

const (
	fromDefault origin = iota
	fromEnv
	fromFlag
)

// id is the field errors name the setting by.
func (s *spec) id() setting.Field {
	if s.field != "" {
		return s.field
	}
	return setting.Field("config." + s.env)
}

// name is what the user knows the setting by: the flag when it came from
// the flag, otherwise the variable; a switch left unset goes by its flag
// (one runs "with --dev").
func (s *spec) name() string {
	if s.origin == fromFlag || (s.origin == fromDefault && s.flag != "" && s.IsBoolFlag()) {
		return "--" + s.flag
	}
	return s.env
}

// Set records a flag's value (flag.Value); it is parsed with everything
// else, so that all the errors are reported at once.
func (s *spec) Set(v string) error { s.raw, s.origin = v, fromFlag; return nil }

// String is the flag's current text (flag.Value).
func (s *spec) String() string {
	if s == nil || s.secret {
		return ""
	}
	return s.raw
}

// IsBoolFlag lets a switch go without a value: --dev means --dev=true.
func (s *spec) IsBoolFlag() bool {
	_, ok := s.value.(*typed[bool])
	return ok
}

// value is a typed destination with its default and parser.
type value interface {
	// reset stores the default.
	reset()
	// parse stores the value of the user's text, or says why it cannot.
	parse(raw string) error
	// describe is the default and the bounds as --help shows them.
	describe() string
	// dst is the destination, to find a spec by the field it fills.
	dst() any
}

// typed is a value of type T.
type typed[T any] struct {
	to   *T
	def  T
	read func(string) (T, error)
	// show is the default as --help shows it ("" for none); bounds the
	// range, e.g. "from 1m to 24h".
	show, bounds string
}

func (v *typed[T]) reset() { *v.to = v.def }
func (v *typed[T]) parse(raw string) error {
	x, err := v.read(raw)
	if err != nil {
		return err
	}
	*v.to = x
	return nil
}
func (v *typed[T]) dst() any { return v.to }
func (v *typed[T]) describe() string {
	var parts []string
	if v.show != "" {
		parts = append(parts, "default "+v.show)
	}
	if v.bounds != "" {
		parts = append(parts, v.bounds)
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

// text is a string setting with default def.
func text(to *string, def string) *typed[string] {
	return &typed[string]{to: to, def: def, show: def, read: func(s string) (string, error) { return s, nil }}
}

// trimmed is a string setting without surrounding space.
func trimmed(to *string, def string) *typed[string] {
	return &typed[string]{to: to, def: def, show: def, read: func(s string) (string, error) { return strings.TrimSpace(s), nil }}
}

// oneOf is a string setting that must be one of choices (case-insensitive).
func oneOf(to *string, def string, choices ...string) *typed[string] {
	return &typed[string]{to: to, def: def, show: def, read: func(s string) (string, error) {
		s = strings.ToLower(s)
		for _, c := range choices {
			if s == c {
				return s, nil
			}
		}
		return "", fmt.Errorf("must be %s or %s", strings.Join(choices[:len(choices)-1], ", "), choices[len(choices)-1])
	}}
}

// boolean is a switch.
func boolean(to *bool, def bool) *typed[bool] {
	return &typed[bool]{to: to, def: def, show: strconv.FormatBool(def), read: func(s string) (bool, error) {
		b, err := strconv.ParseBool(s)
		if err != nil {
			return false, fmt.Errorf("must be true or false")
		}
		return b, nil
	}}
}

// whole is a whole number from lo to hi; unit ("bytes") is said in errors.
func whole(to *int, def, lo, hi int, unit string) *typed[int] {
	what := "a whole number"
	if unit != "" {
		what += " of " + unit
	}
	return &typed[int]{to: to, def: def, show: strconv.Itoa(def), bounds: fmt.Sprintf("from %d to %d", lo, hi),
		read: func(s string) (int, error) {
			n, err := strconv.Atoi(s)
			if err != nil || n < lo || n > hi {
				return 0, fmt.Errorf("must be %s from %d to %d", what, lo, hi)
			}
			return n, nil
		}}
}

// duration is a duration from lo to hi, written as Go writes them ("90s",
// "1h") or as bare seconds ("3600"); zero is allowed only when lo is 0.
func duration(to *time.Duration, def, lo, hi time.Duration) *typed[time.Duration] {
	return &typed[time.Duration]{to: to, def: def, show: short(def), bounds: "from " + short(lo) + " to " + short(hi),
		read: func(s string) (time.Duration, error) {
			d, err := parseDuration(s)
			if err != nil || d < lo || d > hi {
				return 0, fmt.Errorf("must be a duration from %s to %s, such as %s", short(lo), short(hi), short(def))
			}
			return d, nil
		}}
}

// list is a setting parsed by read, shown with default def.
func list[T any](to *T, def T, show string, read func(string) (T, error)) *typed[T] {
	return &typed[T]{to: to, def: def, show: show, read: read}
}

// parseDuration accepts Go durations ("90s", "1h") and bare seconds ("3600").
func parseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if n, err := strconv.ParseUint(s, 10, 32); err == nil {
		return time.Duration(n) * time.Second, nil
	}
	return time.ParseDuration(s)
}

// short writes d as a user would: 1h, 90s, 1m30s, 500ms, 0.
func short(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	if s == "0s" {
		return "0"
	}
	return s
}
