// Package templates embeds the workshop's HTML templates: layout.html
// wraps every page; each other file defines a page's "title" and "content".
package templates

import "embed"

// FS holds every template file.
//
//go:embed *.html
var FS embed.FS
