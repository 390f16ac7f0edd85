package console

import (
	"embed"
	"io/fs"
	"net/http"
)

// assetFS holds the console's page: index.html, console.css and console.js. They are
// plain files with no build step; everything the page loads comes from this FS, so the
// server's Content-Security-Policy can stay at default-src 'self'.
//
//go:embed assets
var assetFS embed.FS

// Assets serves the console's static files (index.html at "/"). It sets the content
// type from the file extension and answers only GET and HEAD; the security headers are
// the mounting server's job.
func Assets() http.Handler {
	sub, err := fs.Sub(assetFS, "assets")
	if err != nil {
		// The directory is embedded at build time; fs.Sub fails only on an invalid
		// name, which "assets" is not.
		panic("console: embedded assets: " + err.Error())
	}
	files := http.FileServerFS(sub)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		files.ServeHTTP(w, r)
	})
}
