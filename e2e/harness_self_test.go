package e2e_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestHarnessCatchesPageProblems proves the problem detector works: each
// page below breaks in one way a learner would see, and the tab must report
// it. Without this, a green browser suite could simply mean nothing was
// listening.
func TestHarnessCatchesPageProblems(t *testing.T) {
	chromiumPath(t)
	const strictCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:"
	pages := map[string]string{
		"/clean":          `<h1>fine</h1><script src="/ok.js"></script>`,
		"/inline-script":  `<h1>x</h1><script>document.title = "ran"</script>`,
		"/inline-style":   `<h1 style="color: red">x</h1>`,
		"/broken-image":   `<img src="/missing.png" alt="missing">`,
		"/broken-css":     `<link rel="stylesheet" href="/missing.css"><h1>x</h1>`,
		"/broken-script":  `<script src="/missing.js"></script>`,
		"/console-error":  `<script src="/error.js"></script>`,
		"/exception":      `<script src="/throw.js"></script>`,
		"/foreign-script": `<script src="http://203.0.113.1/x.js"></script>`,
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/ok.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript")
		_, _ = w.Write([]byte(`document.body.dataset.ok = "1";`))
	})
	mux.HandleFunc("/error.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript")
		_, _ = w.Write([]byte(`console.error("deliberate console error");`))
	})
	mux.HandleFunc("/throw.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript")
		_, _ = w.Write([]byte(`throw new Error("deliberate exception");`))
	})
	for path, body := range pages {
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Security-Policy", strictCSP)
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			_, _ = w.Write([]byte(`<!doctype html><html><head><title>t</title><link rel="icon" href="data:,"></head><body>` + body + `</body></html>`))
		})
	}
	ts := httptest.NewServer(mux)
	defer ts.Close()
	br := startBrowser(t, ts.URL)

	tests := []struct {
		path string
		want string // substring of a reported problem; "" means none
	}{
		{"/clean", ""},
		{"/inline-script", "Content Security Policy"},
		{"/inline-style", "Content Security Policy"},
		{"/broken-image", "/missing.png"},
		{"/broken-css", "/missing.css"},
		{"/broken-script", "/missing.js"},
		{"/console-error", "deliberate console error"},
		{"/exception", "deliberate exception"},
		{"/foreign-script", "Content Security Policy"},
	}
	for _, tt := range tests {
		t.Run(strings.TrimPrefix(tt.path, "/"), func(t *testing.T) {
			tb := br.newTab(t)
			tb.open(tt.path, http.StatusOK)
			if tt.path == "/clean" {
				tb.waitJS("the page's own script to run", 5*time.Second, `document.body.dataset.ok === "1"`)
			}
			// Reports can trail the load event a little.
			var got []string
			deadline := time.Now().Add(3 * time.Second)
			for {
				got = append(got, tb.takeProblems()...)
				if tt.want != "" && containsAny(got, tt.want) || time.Now().After(deadline) {
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
			if tt.want == "" {
				if len(got) != 0 {
					t.Errorf("got problems %v, want none", got)
				}
				return
			}
			if !containsAny(got, tt.want) {
				t.Errorf("got problems %v, want one containing %q", got, tt.want)
			}
			// Later echoes of the same deliberate breakage are expected.
			tb.allow("")
		})
	}
}

func containsAny(list []string, sub string) bool {
	for _, s := range list {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}
