package console_test

import (
	"context"
	"fmt"
	"iter"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"
)

// chromiumPath is Debian's Chromium, which the browser tests drive.
const chromiumPath = "/usr/bin/chromium"

// stepTimeout bounds one step, so a broken page fails fast with a picture
// instead of hanging the suite.
const stepTimeout = 15 * time.Second

// pageLoad is the event that ends a navigation.
var pageLoad = page.LoadEventFired

// browser is a headless Chromium tab on the console, with helpers that
// save a screenshot and the page's HTML when a step fails.
type browser struct {
	t         *testing.T
	ctx       context.Context
	base      string
	artifacts string
	target    target.ID // the frame's target, for a browser attached to a frame

	mu       sync.Mutex
	problems []string // script errors and CSP violations the pages caused
}

// newBrowser starts Chromium, or skips when it is not installed, unless
// LICENSEHOOKS_BROWSER_TESTS=1 makes the browser tests mandatory (CI).
func newBrowser(t *testing.T, base string) *browser {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("LICENSEHOOKS_BROWSER_TESTS") == "1" {
			t.Fatalf("LICENSEHOOKS_BROWSER_TESTS=1 but Chromium is missing (apt-get install -y chromium): %v", err)
		}
		t.Skipf("Chromium not installed at %s: %v", chromiumPath, err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath), chromedp.NoSandbox, chromedp.DisableGPU,
		// Without these, Chromium keeps trying to reach the network at start.
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-component-update", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelCtx(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	b := &browser{t: t, ctx: ctx, base: base, artifacts: artifactsDir(t)}
	go b.watchConsole(chromedp.Console(ctx))
	return b
}

// watchConsole keeps the errors pages write to the console: uncaught script
// errors and browser errors such as a Content-Security-Policy violation.
// Failed loads (the 403 and 404 pages the test opens on purpose) are not
// problems.
func (b *browser) watchConsole(messages iter.Seq2[chromedp.ConsoleMessage, error]) {
	for m, err := range messages {
		if err != nil {
			return
		}
		if (m.Type == chromedp.ConsoleError || m.IsException()) && m.Source != "network" {
			b.mu.Lock()
			b.problems = append(b.problems, m.String())
			b.mu.Unlock()
		}
	}
}

// checkConsole fails the test if any page logged an error.
func (b *browser) checkConsole() {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.problems) > 0 {
		b.t.Errorf("the pages logged errors:\n  %s", strings.Join(b.problems, "\n  "))
	}
}

// artifactsDir is $LICENSEHOOKS_ARTIFACTS, or a temporary directory that is
// removed when the test passes and kept (and named) when it fails.
func artifactsDir(t *testing.T) string {
	if d := os.Getenv("LICENSEHOOKS_ARTIFACTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	d, err := os.MkdirTemp("", "licensehooks-console-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if !t.Failed() {
			os.RemoveAll(d)
		}
	})
	return d
}

// step runs actions with a deadline; a failure ends the test with the
// screenshot and HTML of the page as it was.
func (b *browser) step(name string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.fail(name, err)
	}
}

// run runs one action that returns a value.
func run[T any](b *browser, name string, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		b.fail(name, err)
	}
	return v
}

// fail saves the page and ends the test naming the files.
func (b *browser) fail(step string, err error) {
	b.t.Helper()
	png, html := b.save("failed-" + slug(b.t.Name()+"-"+step))
	b.t.Fatalf("%s: %v\n  screenshot: %s\n  page HTML:  %s", step, err, png, html)
}

// failf is fail for a check that did not hold.
func (b *browser) failf(step, format string, args ...any) {
	b.t.Helper()
	b.fail(step, fmt.Errorf(format, args...))
}

// save writes a PNG screenshot of the whole page and the page's HTML.
func (b *browser) save(name string) (pngPath, htmlPath string) {
	return b.saveWith(name, chromedp.FullScreenshot(100))
}

// saveWith writes the screenshot capture takes and the page's HTML.
func (b *browser) saveWith(name string, capture chromedp.Action[[]byte]) (pngPath, htmlPath string) {
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	pngPath = filepath.Join(b.artifacts, name+".png")
	htmlPath = filepath.Join(b.artifacts, name+".html")
	if shot, err := chromedp.Run(ctx, capture); err == nil {
		os.WriteFile(pngPath, shot, 0o644)
	} else {
		pngPath = "(no screenshot: " + err.Error() + ")"
	}
	if html, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.documentElement.outerHTML`)); err == nil {
		os.WriteFile(htmlPath, []byte(html), 0o644)
	} else {
		htmlPath = "(no HTML: " + err.Error() + ")"
	}
	return pngPath, htmlPath
}

// shot saves a screenshot of a page of a successful run, for people to look at.
func (b *browser) shot(name string) {
	b.t.Helper()
	start := time.Now()
	png, _ := b.save(name)
	b.t.Logf("screenshot %s (%v)", png, time.Since(start).Round(time.Millisecond))
}

// shotTop saves what the window shows of a very long page: a full-page
// capture of those takes seconds, and the top says what the page is.
func (b *browser) shotTop(name string) {
	b.t.Helper()
	png, _ := b.saveWith(name, chromedp.CaptureScreenshot())
	b.t.Logf("screenshot %s (the window's part)", png)
}

// open navigates to a path of the console.
func (b *browser) open(path string) {
	b.t.Helper()
	b.step("open "+path, chromedp.Navigate(b.base+path))
}

// clickAndLoad clicks an element that submits a form or follows a link,
// and waits until the next page has loaded.
func (b *browser) clickAndLoad(sel string) {
	b.t.Helper()
	run(b, "click "+sel+" and load", chromedp.WaitEvent(pageLoad, nil, chromedp.Click(chromedp.CSS(sel))))
}

// text returns the visible text of the first element matching sel.
func (b *browser) text(sel string) string {
	b.t.Helper()
	return run(b, "read "+sel, chromedp.Text(chromedp.CSS(sel)))
}

// expectText checks that sel's visible text holds want, in any case (the
// stylesheet capitalises some labels).
func (b *browser) expectText(sel, want string) {
	b.t.Helper()
	if got := b.text(sel); !strings.Contains(strings.ToLower(got), strings.ToLower(want)) {
		b.failf("check "+sel, "text %q does not contain %q", got, want)
	}
}

// eval evaluates a JavaScript expression in the page.
func eval[T any](b *browser, expr string) T {
	b.t.Helper()
	return run(b, "evaluate "+expr, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
}

// waitJS waits until a JavaScript predicate holds on the current page.
func (b *browser) waitJS(what, predicate string) {
	b.t.Helper()
	if b.target != "" {
		b.waitInFrame(what, predicate)
		return
	}
	b.step("wait until "+what, chromedp.Poll[chromedp.Void](predicate,
		chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(10*time.Second)))
}

// eventually reloads path until a JavaScript predicate holds on it: for
// what the dispatcher does in the background.
func (b *browser) eventually(what, path, predicate string) {
	b.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b.open(path)
		if eval[bool](b, "!!("+predicate+")") {
			return
		}
		if time.Now().After(deadline) {
			b.failf("wait until "+what, "%s did not become true on %s", predicate, path)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// location returns the path and query of the current page.
func (b *browser) location() string {
	b.t.Helper()
	return strings.TrimPrefix(run(b, "read location", chromedp.Location()), b.base)
}

func slug(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		return '-'
	}, s)
}
