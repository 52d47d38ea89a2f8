package setting

import (
	"errors"
	"io/fs"
	"testing"
)

// Render names every field of an error tree (joined, nested) with the
// names given, and errors.Is still reaches the errors below.
func TestRender(t *testing.T) {
	t.Parallel()
	const a, b Field = "pkg.A", "pkg.B"
	err := errors.Join(
		Errorf("both %s and %s are set: set only one", a, b),
		Errorf("%s: cannot read %s: %w", b, "/x", Errorf("%s is %w", a, fs.ErrNotExist)),
		errors.New("plain"),
	)
	names := map[Field]string{a: "--a", b: "B_VAR"}
	got := Render(err, func(f Field) string { return names[f] })
	want := "both --a and B_VAR are set: set only one\nB_VAR: cannot read /x: --a is file does not exist\nplain"
	if got.Error() != want {
		t.Errorf("Render:\n%s\nwant\n%s", got, want)
	}
	if !errors.Is(got, fs.ErrNotExist) {
		t.Error("errors.Is does not see through the rendered error")
	}
	if err.Error() != "both pkg.A and pkg.B are set: set only one\npkg.B: cannot read /x: pkg.A is file does not exist\nplain" {
		t.Errorf("unrendered: %s", err)
	}
	if f := Errorf("%s and %s", a, b).Fields(); len(f) != 2 || f[0] != a || f[1] != b {
		t.Errorf("Fields = %v", f)
	}
	if Render(nil, nil) != nil {
		t.Error("Render(nil) is not nil")
	}
}
