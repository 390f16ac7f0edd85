package console

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"strings"
)

// assetFS holds the console's page: index.html, console.css, console.js, chart.js and
// favicon.svg. They are plain files with no build step; everything the page loads
// comes from this FS, so the server's Content-Security-Policy can stay at
// default-src 'self'.
//
//go:embed assets
var assetFS embed.FS

// Assets serves the console's static files (index.html at "/"). It sets the content
// type from the file extension, answers only GET and HEAD, and tags each file with an
// ETag of its contents under Cache-Control: no-cache, so a browser revalidates (a 304
// when unchanged) and never runs the script of an older binary. The security headers
// are the mounting server's job.
func Assets() http.Handler {
	sub, err := fs.Sub(assetFS, "assets")
	if err != nil {
		// The directory is embedded at build time; fs.Sub fails only on an invalid
		// name, which "assets" is not.
		panic("console: embedded assets: " + err.Error())
	}
	etags := assetETags(sub)
	files := http.FileServerFS(sub)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		name := strings.TrimPrefix(r.URL.Path, "/")
		if name == "" {
			name = "index.html"
		}
		if tag, ok := etags[name]; ok {
			// http.FileServer honours If-None-Match against an ETag set beforehand.
			w.Header().Set("ETag", tag)
			w.Header().Set("Cache-Control", "no-cache")
		}
		files.ServeHTTP(w, r)
	})
}

// assetETags returns a strong ETag (a hash of the contents) for every embedded file.
func assetETags(files fs.FS) map[string]string {
	etags := map[string]string{}
	err := fs.WalkDir(files, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(files, path)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		etags[path] = `"` + hex.EncodeToString(sum[:12]) + `"`
		return nil
	})
	if err != nil {
		panic("console: embedded assets: " + err.Error())
	}
	return etags
}
