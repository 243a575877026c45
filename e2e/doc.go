// Package e2e holds the workshop's end-to-end tests: they build the real
// server binary, start it with its own SQLite file and its own redis-server,
// and drive Debian's Chromium through it the way a learner clicks through
// the workshop. Any console error, CSP violation or broken image, script or
// stylesheet fails the scenario that caused it.
//
// Run them with `go test -v ./e2e/`. Without Chromium they skip with a
// message starting "SKIPPED browser test:", unless REQUIRE_BROWSER=1 makes
// that a failure. Screenshots of every page visited go to e2e/screenshots/
// (ignored by git); `SCREENSHOTS_DIR=docs/screenshots go test -run
// TestScreenshots ./e2e/` writes the README's 1280x800 screenshots.
package e2e
