package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/png"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	cdpruntime "github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"cacheworkshop/internal/testredis"
)

// repoRoot is the module root, found from this file so the tests work
// whatever directory `go test` runs them from.
var repoRoot = func() string {
	_, file, _, ok := runtime.Caller(0)
	if ok {
		if root := filepath.Dir(filepath.Dir(file)); fileExists(filepath.Join(root, "go.mod")) {
			return root
		}
	}
	abs, _ := filepath.Abs("..")
	return abs
}()

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

var (
	binDir    string
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "cacheworkshop-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// buildBinary compiles the real server once per test run: the tests drive
// exactly what `make run` serves, not an in-process stand-in.
func buildBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		binPath = filepath.Join(binDir, "cacheworkshop")
		cmd := exec.Command("go", "build", "-o", binPath, ".")
		cmd.Dir = repoRoot
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build in %s: %v\n%s", repoRoot, err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// chromiumPath finds the browser, or skips (fails under REQUIRE_BROWSER=1)
// with a message that says how to get it.
func chromiumPath(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("SKIPPED browser test: -short")
	}
	if p := os.Getenv("CHROMIUM_PATH"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("REQUIRE_BROWSER") == "1" {
		t.Fatal("REQUIRE_BROWSER=1 but chromium is not installed (apt-get install chromium)")
	}
	t.Skip("SKIPPED browser test: chromium is not installed (apt-get install chromium); REQUIRE_BROWSER=1 makes this a failure")
	return ""
}

// syncBuffer collects the server's stderr while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// server is the real binary running on a free loopback port.
type server struct {
	URL    string
	stderr *syncBuffer
}

// startServer runs the built binary with its own database and its own
// redis-server. The short SLOW_QUERY_MS and WEATHER_LATENCY_MS keep the
// suite quick while a MISS still visibly pays for its simulated latency.
func startServer(t *testing.T) *server {
	t.Helper()
	bin := buildBinary(t)
	rs := testredis.Start(t)
	addr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(),
		"ADDR="+addr,
		"DATABASE_PATH="+filepath.Join(t.TempDir(), "workshop.db"),
		"REDIS_URL="+rs.URL(),
		"SLOW_QUERY_MS=50",
		"WEATHER_LATENCY_MS=100",
		"CACHE_DEFAULT=memory",
		"DEV=",
	)
	s := &server{URL: "http://" + addr, stderr: &syncBuffer{}}
	cmd.Stdout = s.stderr
	cmd.Stderr = s.stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("server output:\n%s", s.stderr.String())
		}
	})
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("server exited before answering (%v):\n%s", err, s.stderr.String())
		default:
		}
		res, err := client.Get(s.URL + "/")
		if err == nil {
			_ = res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return s
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("server at %s never answered 200 on / (last: %v, %v):\n%s", s.URL, res, err, s.stderr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// browser is one Chromium process shared by the scenarios of a test.
type browser struct {
	ctx  context.Context
	base string
}

// startBrowser launches Chromium with the flags this machine needs and a
// fresh profile.
func startBrowser(t *testing.T, base string) *browser {
	t.Helper()
	path := chromiumPath(t)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("force-color-profile", "srgb"),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 800),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelBrowser(); cancelAlloc() })
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start %s: %v", path, err)
	}
	return &browser{ctx: bctx, base: base}
}

// tab is one scenario's tab, in its own browser context so cookies (the
// mode cookie above all) never leak from one scenario into the next. It
// records every console error, CSP violation and failed resource load.
type tab struct {
	t    *testing.T
	ctx  context.Context
	base string
	*recorder
}

// recorder collects what a tab's pages report, shared by every view of
// the tab (see in).
type recorder struct {
	mu       sync.Mutex
	problems []string
	allowed  []string
	urls     map[network.RequestID]string
	pageURL  string
}

// in is the same tab reporting to subtest t, so a subtest's Fatal stops
// the subtest and not its parent.
func (tb *tab) in(t *testing.T) *tab {
	return &tab{t: t, ctx: tb.ctx, base: tb.base, recorder: tb.recorder}
}

// newTab opens a tab; when the test ends it fails the test on any problem
// the page reported.
func (b *browser) newTab(t *testing.T) *tab {
	t.Helper()
	tb := &tab{t: t, base: b.base, recorder: &recorder{urls: map[network.RequestID]string{}}}
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithNewBrowserContext(), chromedp.WithListener(tb.onEvent))
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 800)); err != nil {
		cancel()
		t.Fatalf("open tab: %v", err)
	}
	// The limit applies to the actions only; the tab itself lives on the
	// untimed context so a timeout reports cleanly instead of killing it.
	tctx, tcancel := context.WithTimeout(ctx, 2*time.Minute)
	tb.ctx = tctx
	t.Cleanup(func() {
		tb.assertClean()
		tcancel()
		cancel()
	})
	return tb
}

// onEvent runs in the tab's event loop: it must return quickly.
func (tb *recorder) onEvent(ev any) {
	switch ev := ev.(type) {
	case *cdpruntime.EventConsoleAPICalled:
		if ev.Type == cdpruntime.ConsoleAPICalledTypeError || ev.Type == cdpruntime.ConsoleAPICalledTypeAssert {
			tb.problem("console.%s: %s", ev.Type, argsText(ev.Args))
		}
	case *cdpruntime.EventExceptionThrown:
		tb.problem("uncaught exception: %s", exceptionText(ev.ExceptionDetails))
	case *log.EventEntryAdded:
		// CSP violations and failed loads arrive here as errors.
		if ev.Entry != nil && ev.Entry.Level == log.EntryLevelError {
			tb.problem("console error (%s): %s %s", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL)
		}
	case *network.EventRequestWillBeSent:
		tb.mu.Lock()
		tb.urls[ev.RequestID] = ev.Request.URL
		tb.mu.Unlock()
	case *network.EventLoadingFailed:
		// A request aborted by navigating away is not a broken resource;
		// one blocked (by CSP, say) is.
		if ev.Canceled && ev.BlockedReason == "" {
			return
		}
		tb.mu.Lock()
		u := tb.urls[ev.RequestID]
		tb.mu.Unlock()
		tb.problem("%s failed to load: %s %s %s", ev.Type, u, ev.ErrorText, ev.BlockedReason)
	case *network.EventResponseReceived:
		st := ev.Response.Status
		switch ev.Type {
		case network.ResourceTypeImage, network.ResourceTypeScript, network.ResourceTypeStylesheet, network.ResourceTypeFont:
			if st >= 400 {
				tb.problem("%s answered %d: %s", ev.Type, st, ev.Response.URL)
			}
		case network.ResourceTypeFetch, network.ResourceTypeXHR:
			if st >= 500 {
				tb.problem("%s answered %d: %s", ev.Type, st, ev.Response.URL)
			}
		}
	case *page.EventFrameNavigated:
		if ev.Frame != nil && ev.Frame.ParentID == "" {
			tb.mu.Lock()
			tb.pageURL = ev.Frame.URL
			tb.mu.Unlock()
		}
	}
}

func (tb *recorder) problem(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	tb.mu.Lock()
	defer tb.mu.Unlock()
	for _, a := range tb.allowed {
		if strings.Contains(msg, a) {
			return
		}
	}
	tb.problems = append(tb.problems, msg+" (on "+tb.pageURL+")")
}

// allow tolerates reports containing text, for a failure the scenario
// provokes on purpose (a 422 form answer is logged as a failed load).
func (tb *recorder) allow(text string) {
	tb.mu.Lock()
	tb.allowed = append(tb.allowed, text)
	tb.mu.Unlock()
}

// takeProblems returns and clears what the page reported so far.
func (tb *recorder) takeProblems() []string {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	p := tb.problems
	tb.problems = nil
	return p
}

// pending returns what the page reported so far without clearing it.
func (tb *recorder) pending() []string {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return append([]string(nil), tb.problems...)
}

func (tb *tab) assertClean() {
	tb.t.Helper()
	for _, p := range tb.takeProblems() {
		tb.t.Errorf("browser reported: %s", p)
	}
}

func argsText(args []*cdpruntime.RemoteObject) string {
	parts := make([]string, 0, len(args))
	for _, a := range args {
		switch {
		case len(a.Value) > 0:
			var s string
			if json.Unmarshal(a.Value, &s) == nil {
				parts = append(parts, s)
			} else {
				parts = append(parts, string(a.Value))
			}
		case a.Description != "":
			parts = append(parts, a.Description)
		default:
			parts = append(parts, string(a.Type))
		}
	}
	return strings.Join(parts, " ")
}

func exceptionText(d *cdpruntime.ExceptionDetails) string {
	if d == nil {
		return "(no details)"
	}
	s := d.Text
	if d.Exception != nil && d.Exception.Description != "" {
		s += " " + d.Exception.Description
	}
	return fmt.Sprintf("%s at %s:%d:%d", s, d.URL, d.LineNumber+1, d.ColumnNumber+1)
}

// open navigates to path and requires status want.
func (tb *tab) open(path string, want int) {
	tb.t.Helper()
	res, err := chromedp.Run(tb.ctx, chromedp.NavigateResponse(tb.base+path))
	if err != nil {
		tb.t.Fatalf("open %s: %v", path, err)
	}
	if res.Status != int64(want) {
		tb.t.Fatalf("open %s: got status %d, want %d", path, res.Status, want)
	}
}

// click clicks the first visible element matching sel and waits for the
// page it leads to, which must answer want.
func (tb *tab) click(sel string, want int) {
	tb.t.Helper()
	res, err := chromedp.RunResponse(tb.ctx, chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible))
	if err != nil {
		tb.t.Fatalf("click %s: %v", sel, err)
	}
	if res == nil {
		tb.t.Fatalf("click %s: no page loaded", sel)
	}
	if res.Status != int64(want) {
		tb.t.Fatalf("click %s: got status %d, want %d (%s)", sel, res.Status, want, res.URL)
	}
}

// reload reloads the page as the browser's reload button does.
func (tb *tab) reload() {
	tb.t.Helper()
	res, err := chromedp.RunResponse(tb.ctx, chromedp.Reload())
	if err != nil {
		tb.t.Fatalf("reload: %v", err)
	}
	if res == nil || res.Status != http.StatusOK {
		tb.t.Fatalf("reload: got %v, want status 200", res)
	}
}

// do runs actions that return nothing.
func (tb *tab) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	if err := chromedp.Do(tb.ctx, actions...); err != nil {
		tb.t.Fatalf("%s: %v", what, err)
	}
}

// eval evaluates a JavaScript expression in the page (DevTools evaluation
// is not subject to the page's CSP).
func eval[T any](tb *tab, js string) T {
	tb.t.Helper()
	v, err := chromedp.Run(tb.ctx, chromedp.Evaluate[T](js))
	if err != nil {
		tb.t.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// found is a text lookup that can say the element is missing.
type found struct {
	OK   bool   `json:"ok"`
	Text string `json:"text"`
}

// text is the trimmed text of the first element matching sel; the test
// fails if there is none.
func (tb *tab) text(sel string) string {
	tb.t.Helper()
	f := eval[found](tb, `(() => { const e = document.querySelector(`+jsString(sel)+`);
		return e ? {ok: true, text: e.textContent.replace(/\s+/g, " ").trim()} : {ok: false, text: ""}; })()`)
	if !f.OK {
		tb.t.Fatalf("no element %s on %s", sel, tb.location())
	}
	return f.Text
}

// has reports whether an element matching sel exists.
func (tb *tab) has(sel string) bool {
	tb.t.Helper()
	return eval[bool](tb, `document.querySelector(`+jsString(sel)+`) !== null`)
}

// value is the current value of a form control.
func (tb *tab) value(sel string) string {
	tb.t.Helper()
	f := eval[found](tb, `(() => { const e = document.querySelector(`+jsString(sel)+`);
		return e ? {ok: true, text: e.value} : {ok: false, text: ""}; })()`)
	if !f.OK {
		tb.t.Fatalf("no form control %s on %s", sel, tb.location())
	}
	return f.Text
}

func (tb *tab) location() string {
	tb.t.Helper()
	return eval[string](tb, `location.href`)
}

// path is the current URL's path and query, without the origin.
func (tb *tab) path() string {
	tb.t.Helper()
	return strings.TrimPrefix(tb.location(), tb.base)
}

// outcome is the per-request bar's verdict: HIT, MISS or BYPASS.
func (tb *tab) outcome() string {
	tb.t.Helper()
	f := eval[found](tb, `(() => { const e = document.querySelector("section.reqbar");
		return e ? {ok: true, text: e.dataset.outcome || ""} : {ok: false, text: ""}; })()`)
	if !f.OK {
		tb.t.Fatalf("no section.reqbar on %s", tb.location())
	}
	return f.Text
}

// traceRows opens the trace panel by clicking its summary, as a learner
// does, and returns its table's cells row by row.
func (tb *tab) traceRows() [][]string {
	tb.t.Helper()
	if !eval[bool](tb, `document.querySelector("details.trace").open`) {
		tb.do("open the trace panel", chromedp.Click(chromedp.CSS("details.trace > summary"), chromedp.NodeVisible))
	}
	if !eval[bool](tb, `document.querySelector("details.trace").open`) {
		tb.t.Fatalf("clicking the trace summary did not open the panel on %s", tb.location())
	}
	return eval[[][]string](tb, `[...document.querySelectorAll("details.trace tbody tr")]
		.map(tr => [...tr.cells].map(c => c.textContent.trim()))`)
}

// pageLookup is the outcome the trace panel shows for the page cache.
func (tb *tab) pageLookup() string {
	tb.t.Helper()
	rows := tb.traceRows()
	for _, r := range rows {
		if len(r) >= 4 && r[0] == "page" {
			return r[3]
		}
	}
	tb.t.Fatalf("trace panel on %s has no page lookup row: %v", tb.location(), rows)
	return ""
}

// mode is the page's mode as the browser shows it: the body class and the
// switch link marked current, which must agree.
func (tb *tab) mode() string {
	tb.t.Helper()
	type modeInfo struct {
		Body    string `json:"body"`
		Current string `json:"current"`
		Count   int    `json:"count"`
	}
	m := eval[modeInfo](tb, `(() => {
		const cur = [...document.querySelectorAll('nav.modes a.mode-link[aria-current="true"]')];
		const body = [...document.body.classList].find(c => c.startsWith("mode-")) || "";
		return {body: body.replace(/^mode-/, ""), current: cur.length ? cur[0].dataset.mode : "", count: cur.length};
	})()`)
	if m.Count != 1 || m.Body != m.Current {
		tb.t.Fatalf("mode on %s is inconsistent: body class mode-%s, %d current switch links (first %q)", tb.location(), m.Body, m.Count, m.Current)
	}
	return m.Body
}

// waitJS polls a boolean expression until it holds. Errors while the page
// is between documents count as "not yet".
func (tb *tab) waitJS(what string, timeout time.Duration, js string) {
	tb.t.Helper()
	deadline := time.Now().Add(timeout)
	var lastErr error
	for {
		ok, err := chromedp.Run(tb.ctx, chromedp.Evaluate[bool](js))
		if err == nil && ok {
			return
		}
		lastErr = err
		// A page that already broke (a script that did not load, an
		// exception) will not get there: say why now, not at the timeout.
		if p := tb.pending(); len(p) > 0 {
			tb.t.Fatalf("gave up waiting for %s on %s: the page reported %s", what, tb.safeLocation(), strings.Join(p, "; "))
		}
		if time.Now().After(deadline) || tb.ctx.Err() != nil {
			tb.t.Fatalf("waited %v for %s on %s (last error: %v)", timeout, what, tb.safeLocation(), lastErr)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (tb *tab) safeLocation() string {
	loc, err := chromedp.Run(tb.ctx, chromedp.Evaluate[string](`location.href`))
	if err != nil {
		return "(unknown page)"
	}
	return loc
}

// requireBuilt fails a demo scenario whose page shows a placeholder
// instead of the demo.
func (tb *tab) requireBuilt(page string) {
	tb.t.Helper()
	if eval[bool](tb, `document.querySelector("main").textContent.includes("Coming soon")`) {
		tb.t.Fatalf("%s shows a \"Coming soon\" placeholder instead of the demo", page)
	}
}

// screenshotDir is where every page's full-page screenshot goes (ignored
// by git).
var screenshotDir = filepath.Join(repoRoot, "e2e", "screenshots")

// shot saves a full-page screenshot and fails the test if it is blank.
func (tb *tab) shot(name string) {
	tb.t.Helper()
	buf, err := chromedp.Run(tb.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		tb.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.MkdirAll(screenshotDir, 0o755); err != nil {
		tb.t.Fatal(err)
	}
	p := filepath.Join(screenshotDir, name+".png")
	if err := os.WriteFile(p, buf, 0o644); err != nil {
		tb.t.Fatal(err)
	}
	if err := notBlank(buf); err != nil {
		tb.t.Errorf("screenshot %s of %s: %v", p, tb.location(), err)
	}
}

// notBlank decodes a PNG and requires a real page's variety: enough
// distinct colours and enough pixels that are not background white.
func notBlank(buf []byte) error {
	img, err := png.Decode(bytes.NewReader(buf))
	if err != nil {
		return fmt.Errorf("not a PNG: %w", err)
	}
	colours, nonWhite, total := pixelStats(img)
	switch {
	case total == 0:
		return errors.New("empty image")
	case colours < 16:
		return fmt.Errorf("looks blank: only %d distinct colours", colours)
	case nonWhite*100 < total:
		return fmt.Errorf("looks blank: only %d of %d pixels are not white", nonWhite, total)
	}
	return nil
}

func pixelStats(img image.Image) (colours, nonWhite, total int) {
	seen := map[uint32]bool{}
	b := img.Bounds()
	// Every third pixel each way is plenty to tell a page from a blank.
	for y := b.Min.Y; y < b.Max.Y; y += 3 {
		for x := b.Min.X; x < b.Max.X; x += 3 {
			var r8, g8, b8 uint32
			if rgba, ok := img.(*image.NRGBA); ok {
				i := rgba.PixOffset(x, y)
				r8, g8, b8 = uint32(rgba.Pix[i]), uint32(rgba.Pix[i+1]), uint32(rgba.Pix[i+2])
			} else {
				r, g, bl, _ := img.At(x, y).RGBA()
				r8, g8, b8 = r>>8, g>>8, bl>>8
			}
			seen[r8<<16|g8<<8|b8] = true
			total++
			if r8 < 245 || g8 < 245 || b8 < 245 {
				nonWhite++
			}
		}
	}
	return len(seen), nonWhite, total
}
