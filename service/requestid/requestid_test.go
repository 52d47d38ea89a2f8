package requestid

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

// A sane caller id is kept and echoed; anything else is replaced by a
// random one; the handler sees the same id as the caller.
func TestMiddleware(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ sent, want string }{
		{"abc-123", "abc-123"},
		{"", ""},
		{"has space", ""},
		{strings.Repeat("x", 129), ""},
		{"ünï", ""},
	} {
		var seen string
		h := Middleware(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { seen = From(r.Context()) }))
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		if c.sent != "" {
			r.Header.Set(Header, c.sent)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		got := w.Header().Get(Header)
		if c.want != "" && got != c.want || c.want == "" && !regexp.MustCompile(`^[0-9a-f]{24}$`).MatchString(got) || seen != got {
			t.Errorf("sent %q: echoed %q, handler saw %q", c.sent, got, seen)
		}
	}
}
