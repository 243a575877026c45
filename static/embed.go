// Package static embeds the workshop's stylesheet, scripts and vendored
// libraries, so the workshop works offline and from a single binary.
package static

import "embed"

// FS holds every static file.
//
//go:embed *.css *.js *.svg vendor
var FS embed.FS
