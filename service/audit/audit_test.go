package audit

import (
	"strings"
	"testing"
)

func TestAuditTextIsBounded(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("é", 400) // 800 bytes
	got := Text(long)
	if len(got) > maxText+len("…") || !strings.HasSuffix(got, "…") {
		t.Errorf("len %d", len(got))
	}
	if got := Text("a\xffb"); got != "a\uFFFDb" {
		t.Errorf("invalid UTF-8 kept: %q", got)
	}
}
