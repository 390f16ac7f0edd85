package integration

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/chromedp/cdproto/browser"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/quiverdata/quiver/flightsql/auth"
)

// The console's browser tests drive Debian's headless Chromium through chromedp
// against a real `quiver serve --http-addr`. Each page is saved as a full-page PNG in
// $QUIVER_SCREENSHOTS/<test> when that is set, else in the test's artifact directory
// (kept with `go test -artifacts`); the paths are logged.

// chromiumPath finds the browser: $CHROME, else /usr/bin/chromium. Without one the
// test is skipped loudly, except under CI=true, where a missing browser is a failure
// (.ci/run installs it).
func chromiumPath(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("drives a browser; skipped under -short")
	}
	path := os.Getenv("CHROME")
	if path == "" {
		path = "/usr/bin/chromium"
	}
	if _, err := os.Stat(path); err != nil {
		msg := fmt.Sprintf("!!! NO BROWSER: %s not found (%v); the console's browser tests did NOT run. "+
			"Install it with `apt-get install chromium` or point $CHROME at a Chromium.", path, err)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return path
}

// browserSeed writes the datasets the console tests look at into root: sales.parquet
// (120 rows: id 1..120, city from five, amount = (id-1)%40 * 2.5) and payroll (2 rows).
func browserSeed(t *testing.T, root string) {
	t.Helper()
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "city", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "amount", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	cities := []string{"Berlin", "Lisbon", "Oslo", "Paris", "Rome"}
	for i := range 120 {
		b.Field(0).(*array.Int64Builder).Append(int64(i + 1))
		b.Field(1).(*array.StringBuilder).Append(cities[i%len(cities)])
		b.Field(2).(*array.Float64Builder).Append(float64(i%40) * 2.5)
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	writeParquetFile(t, filepath.Join(root, "sales.parquet"), rec)
	writeParquetFile(t, filepath.Join(root, "payroll"), events(t, 7, 8))
}

// browserUsers is the auth file of the tests with a login: alice reads every dataset,
// bob only sales*. The passwords are "pw-<name>".
func browserUsers(t *testing.T, dir string) string {
	t.Helper()
	var sb strings.Builder
	for _, u := range []struct{ name, datasets string }{{"alice", ""}, {"bob", `datasets = ["sales*"]`}} {
		hash, err := auth.HashPassword("pw-"+u.name, 4)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&sb, "[[user]]\nname = %q\npassword_hash = %q\npermission = \"read\"\n%s\n\n", u.name, hash, u.datasets)
	}
	path := filepath.Join(dir, "auth.toml")
	if err := os.WriteFile(path, []byte(sb.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

var browserConsoleAddr = regexp.MustCompile(`http://(127\.0\.0\.1:\d+)`)

// startBrowserConsole runs `quiver serve` with the console on 127.0.0.1:0 over a seeded root
// and returns the console's base URL.
func startBrowserConsole(t *testing.T, args ...string) string {
	t.Helper()
	root := newBinaryRoot(t)
	if env := s3EnvOf(root.Root); env != nil {
		dir := t.TempDir()
		browserSeed(t, dir)
		uploadTree(t, env.bkt, dir) // copied into the bucket, as a user would
	} else {
		browserSeed(t, root.Root)
	}
	p := root.serve(t, append([]string{"--http-addr", "127.0.0.1:0"}, args...)...)
	deadline := time.Now().Add(30 * time.Second)
	for {
		if m := browserConsoleAddr.FindStringSubmatch(p.logText()); m != nil {
			return "http://" + m[1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("no http:// console address logged within 30s:\n%s", p.logText())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// consoleBrowser is one headless Chromium tab on the console.
type consoleBrowser struct {
	t         *testing.T
	ctx       context.Context
	base      string // the console's URL
	shots     string // where screenshots go
	downloads string
	errs      chan string // uncaught page exceptions
	loaded    bool        // the console has been loaded once
}

// newConsoleBrowser starts Chromium (or skips the test, see chromiumPath) before the
// test spends time on a server; the caller sets base.
func newConsoleBrowser(t *testing.T) *consoleBrowser {
	t.Helper()
	exe := chromiumPath(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.WindowSize(1280, 900),
		chromedp.DisableGPU,
	)
	if os.Geteuid() == 0 {
		// Chromium refuses to start as root with its sandbox on (CI containers).
		opts = append(opts, chromedp.NoSandbox)
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(allocCtx)
	ctx, cancelTime := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() { cancelTime(); cancelTab(); cancelAlloc() })

	b := &consoleBrowser{t: t, ctx: ctx, downloads: t.TempDir(), errs: make(chan string, 16)}
	if dir := os.Getenv("QUIVER_SCREENSHOTS"); dir != "" {
		b.shots = filepath.Join(dir, strings.ReplaceAll(t.Name(), "/", "_"))
	} else {
		b.shots = t.ArtifactDir()
	}
	if err := os.MkdirAll(b.shots, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		t.Fatalf("start Chromium %s: %v", exe, err)
	}
	if _, err := chromedp.CallBrowser(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: b.downloads, EventsEnabled: new(true),
	}); err != nil {
		t.Fatalf("set download behaviour: %v", err)
	}
	// Uncaught exceptions and security messages (a Content-Security-Policy refusal)
	// fail the test: the page must run whole under the server's strict policy.
	exceptions := chromedp.Events(ctx, runtime.ExceptionThrown)
	entries := chromedp.Events(ctx, cdplog.EntryAdded)
	report := func(msg string) {
		select {
		case b.errs <- msg:
		default:
		}
	}
	go func() {
		for ev, err := range exceptions {
			if err != nil {
				return
			}
			msg := ev.ExceptionDetails.Text
			if ev.ExceptionDetails.Exception != nil {
				msg += " " + ev.ExceptionDetails.Exception.Description
			}
			report("uncaught exception: " + msg)
		}
	}()
	go func() {
		for ev, err := range entries {
			if err != nil {
				return
			}
			if e := ev.Entry; e.Source == cdplog.EntrySourceSecurity || (e.Source == cdplog.EntrySourceJavascript && e.Level == cdplog.EntryLevelError) {
				report(fmt.Sprintf("%s %s: %s (%s)", e.Source, e.Level, e.Text, e.URL))
			}
		}
	}()
	t.Cleanup(func() {
		select {
		case msg := <-b.errs:
			t.Errorf("the page logged %s", msg)
		default:
		}
	})
	return b
}

// do runs actions and fails the test on error, naming what it was doing.
func (b *consoleBrowser) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

// open shows a route ("#/sql") and waits until the page has rendered view. The first
// call loads the console; later ones change location.hash, as a link does.
func (b *consoleBrowser) open(route, view string) {
	b.t.Helper()
	if !b.loaded {
		b.do("load the console at "+route, chromedp.Navigate(b.base+"/"+route))
		b.loaded = true
	} else {
		// Setting the hash it already has changes nothing: then the page shown is it.
		pageEval[bool](b, fmt.Sprintf(`(() => {
			if (location.hash === %[1]q) return false;
			document.getElementById("main").dataset.ready = "stale";
			location.hash = %[1]q;
			return true;
		})()`, route))
	}
	b.waitView(view)
}

// markStale clears the page's ready mark, so that a following waitView sees the page
// that an action is about to render and not the one still shown.
func (b *consoleBrowser) markStale() {
	b.t.Helper()
	pageEval[chromedp.Void](b, `document.getElementById("main").dataset.ready = "stale"`)
}

// click clicks the element sel and waits for view to be rendered.
func (b *consoleBrowser) click(sel, view string) {
	b.t.Helper()
	b.markStale()
	b.do("click "+sel, chromedp.Click(chromedp.CSS(sel)))
	b.waitView(view)
}

// waitView waits until the main area shows view and has finished loading it.
func (b *consoleBrowser) waitView(view string) {
	b.t.Helper()
	b.do("wait for the "+view+" page", chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`main[data-view=%q][data-ready="true"]`, view))))
}

// pageEval evaluates a JavaScript expression and decodes its value into T.
func pageEval[T any](b *consoleBrowser, expr string) T {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// cells returns the text of every body cell of the table matching sel.
func (b *consoleBrowser) cells(sel string) [][]string {
	b.t.Helper()
	return pageEval[[][]string](b, fmt.Sprintf(`[...document.querySelectorAll(%q)].map(r => [...r.cells].map(c => c.textContent))`, sel+" tbody tr"))
}

func (b *consoleBrowser) text(sel string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.TextContent(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("text of %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

// screenshot saves the whole page as name.png and logs its path.
func (b *consoleBrowser) screenshot(name string) {
	b.t.Helper()
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	path := filepath.Join(b.shots, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("screenshot: %s", path)
}

// runSQL types sql into the editor, runs it with Ctrl+Enter and waits for the result.
func (b *consoleBrowser) runSQL(sql string) {
	b.t.Helper()
	b.do("type "+sql,
		chromedp.Evaluate[chromedp.Void](`document.getElementById("sql-editor").value = ""`),
		chromedp.SendKeys(chromedp.ID("sql-editor"), sql),
		chromedp.Evaluate[chromedp.Void](`document.getElementById("main").dataset.ready = "stale"`),
		chromedp.Focus(chromedp.ID("sql-editor")),
		chromedp.KeyEvent(kb.Enter, chromedp.KeyModifiers(chromedp.ModifierCtrl)),
	)
	b.waitView("sql")
}

// setSelect picks value in a <select> and fires its change event, as a user would.
func (b *consoleBrowser) setSelect(id, value string) {
	b.t.Helper()
	pageEval[chromedp.Void](b, fmt.Sprintf(`(() => { const s = document.getElementById(%q); s.value = %q; s.dispatchEvent(new Event("change")); })()`, id, value))
}

// download clicks a download button and returns the bytes of the saved file.
func (b *consoleBrowser) download(buttonID string) []byte {
	b.t.Helper()
	progress := chromedp.BrowserEvents(b.ctx, browser.DownloadProgress)
	b.do("click "+buttonID, chromedp.Click(chromedp.ID(buttonID)))
	for ev, err := range progress {
		if err != nil {
			b.t.Fatalf("waiting for the download of %s: %v", buttonID, err)
		}
		switch ev.State {
		case browser.DownloadProgressStateCompleted:
			data, err := os.ReadFile(filepath.Join(b.downloads, ev.GUID))
			if err != nil {
				b.t.Fatalf("read the download: %v", err)
			}
			return data
		case browser.DownloadProgressStateCanceled:
			b.t.Fatalf("the download of %s was cancelled", buttonID)
		}
	}
	b.t.Fatalf("no download from %s", buttonID)
	return nil
}

// chartBars returns the number of bars of the drawn chart and the sum of the counts
// their tooltips name ("label: value").
func (b *consoleBrowser) chartBars() (int, float64) {
	b.t.Helper()
	titles := pageEval[[]string](b, `[...document.querySelectorAll("#chart svg rect.bar title")].map(t => t.textContent)`)
	var sum float64
	for _, title := range titles {
		i := strings.LastIndex(title, ": ")
		v, err := strconv.ParseFloat(title[i+2:], 64)
		if i < 0 || err != nil {
			b.t.Fatalf("bar tooltip %q does not end in a value", title)
		}
		sum += v
	}
	return len(titles), sum
}

func wantTable(t *testing.T, what string, got, want [][]string) {
	t.Helper()
	if !slices.EqualFunc(got, want, slices.Equal[[]string]) {
		t.Fatalf("%s:\n got %q\nwant %q", what, got, want)
	}
}
