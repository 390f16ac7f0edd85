package console

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestAssetsServesFiles(t *testing.T) {
	srv := httptest.NewServer(Assets())
	t.Cleanup(srv.Close)

	cases := []struct {
		path        string
		contentType string
		contains    string
	}{
		{"/", "text/html; charset=utf-8", `<script src="console.js"`},
		{"/index.html", "", ""}, // FileServer redirects to "/"
		{"/console.js", "text/javascript; charset=utf-8", `"use strict"`},
		{"/chart.js", "text/javascript; charset=utf-8", "QuiverChart"},
		{"/console.css", "text/css; charset=utf-8", "body"},
		{"/favicon.svg", "image/svg+xml", "<svg"},
	}
	for _, c := range cases {
		t.Run(c.path, func(t *testing.T) {
			client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			}}
			resp, err := client.Get(srv.URL + c.path)
			if err != nil {
				t.Fatalf("GET %s: %v", c.path, err)
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatalf("read %s: %v", c.path, err)
			}
			if c.contentType == "" {
				if resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != "./" {
					t.Fatalf("GET %s: status %d location %q, want 301 to ./", c.path, resp.StatusCode, resp.Header.Get("Location"))
				}
				return
			}
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("GET %s: status %d, want 200", c.path, resp.StatusCode)
			}
			if got := resp.Header.Get("Content-Type"); got != c.contentType {
				t.Errorf("GET %s: Content-Type %q, want %q", c.path, got, c.contentType)
			}
			if !strings.Contains(string(body), c.contains) {
				t.Errorf("GET %s: body lacks %q", c.path, c.contains)
			}
		})
	}
}

func TestAssetsRefusesOtherMethodsAndMissingFiles(t *testing.T) {
	srv := httptest.NewServer(Assets())
	t.Cleanup(srv.Close)

	resp, err := http.Post(srv.URL+"/", "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatalf("POST /: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST /: status %d Allow %q, want 405 with Allow: GET, HEAD", resp.StatusCode, resp.Header.Get("Allow"))
	}

	resp, err = http.Get(srv.URL + "/no-such-file.js")
	if err != nil {
		t.Fatalf("GET missing: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET missing file: status %d, want 404", resp.StatusCode)
	}
}

func TestAssetsRevalidate(t *testing.T) {
	srv := httptest.NewServer(Assets())
	t.Cleanup(srv.Close)

	for _, path := range []string{"/", "/console.js"} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		resp.Body.Close()
		etag := resp.Header.Get("ETag")
		if len(etag) < 10 || !strings.HasPrefix(etag, `"`) || resp.Header.Get("Cache-Control") != "no-cache" {
			t.Fatalf("GET %s: ETag %q, Cache-Control %q; want a strong ETag and no-cache", path, etag, resp.Header.Get("Cache-Control"))
		}
		req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		req.Header.Set("If-None-Match", etag)
		resp, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("revalidate %s: %v", path, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotModified {
			t.Errorf("GET %s with If-None-Match %s: status %d, want 304", path, etag, resp.StatusCode)
		}
	}
	idx, _ := http.Get(srv.URL + "/")
	idx.Body.Close()
	js, _ := http.Get(srv.URL + "/console.js")
	js.Body.Close()
	if idx.Header.Get("ETag") == js.Header.Get("ETag") {
		t.Errorf("index.html and console.js share the ETag %s", idx.Header.Get("ETag"))
	}
}

func TestIndexHasNoInlineScript(t *testing.T) {
	// The server's CSP forbids inline script; the page must load all its code from
	// console.js.
	data, err := assetFS.ReadFile("assets/index.html")
	if err != nil {
		t.Fatalf("read index.html: %v", err)
	}
	html := string(data)
	for _, bad := range []string{"<script>", "onclick=", "onload=", "javascript:", "http://", "https://"} {
		if strings.Contains(strings.ToLower(html), bad) {
			t.Errorf("index.html contains %q; the CSP allows only same-origin files", bad)
		}
	}
}
