package console

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"licensehooks"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticFiles embed.FS

// assetVersion changes whenever an embedded asset does, so asset URLs can
// be cached for long without a stale stylesheet after an upgrade.
var assetVersion = func() string {
	h := sha256.New()
	fs.WalkDir(staticFiles, "static", func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := staticFiles.ReadFile(path)
			h.Write(b)
		}
		return nil
	})
	return hex.EncodeToString(h.Sum(nil))[:12]
}()

// staticHandler serves the embedded assets.
func staticHandler() http.Handler {
	files := http.FileServerFS(staticFiles)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("v") == assetVersion {
			w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			w.Header().Set("Cache-Control", "no-cache")
		}
		files.ServeHTTP(w, r)
	})
}

// pageSet holds one template set per page: the shared layout and partials
// cloned, with the page's own "content" added.
type pageSet map[string]*template.Template

var pageNames = []string{"signin", "tenant", "tenants", "tenantadmin", "tenantdelete", "webhooks", "listener", "form", "delete",
	"logs", "delivery", "upcoming", "events", "keys", "error", "signedout", "event", "search", "resend"}

func parsePages() (pageSet, error) {
	base, err := template.New("").Funcs(funcs).ParseFS(templateFiles, "templates/layout.html", "templates/partials.html")
	if err != nil {
		return nil, fmt.Errorf("console: parse layout: %w", err)
	}
	set := make(pageSet, len(pageNames))
	for _, name := range pageNames {
		t, err := template.Must(base.Clone()).ParseFS(templateFiles, "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("console: parse page %s: %w", name, err)
		}
		set[name] = t
	}
	return set, nil
}

// view is what every page template receives: the frame (title, navigation,
// who is signed in) and the page's own Data.
type view struct {
	Title    string
	Nav      string // the active navigation item
	SignedIn bool
	Operator bool
	// TenantsAdmin: an operator credential that manages tenants, which
	// the operator pages need.
	TenantsAdmin bool
	// ReadOnly: a read-only portal session, whose pages show no control
	// that changes something (the server refuses those anyway).
	ReadOnly bool
	ClientID string
	Tenant   *licensehooks.Tenant
	CSRF     string
	Flash    string
	Version  string
	// Refresh: a URL the page leads to on its own once loaded (the
	// returnUrl after a portal session's sign-out).
	Refresh string
	Data    any
	// AppVersion is the binary's version, for the footer.
	AppVersion string
}

// render executes a page into a buffer first, so a template failure is a
// clean 500 page, never half a page.
func (c *Console) render(w http.ResponseWriter, status int, page string, v view) {
	v.Version, v.AppVersion = assetVersion, c.cfg.Version
	var buf bytes.Buffer
	if err := c.pages[page].ExecuteTemplate(&buf, "layout", v); err != nil {
		c.log.Error("console: render page", "page", page, "err", err)
		http.Error(w, "Internal error.", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store") // pages show secrets and live state
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// errorPage renders a page that explains a failure; q is nil when nobody is
// signed in (or it is not known yet).
func (c *Console) errorPage(w http.ResponseWriter, r *http.Request, q *request, status int, title, message string) {
	v := view{Title: title, Data: struct {
		Status  int
		Message string
	}{status, message}}
	if q != nil {
		v = q.view(title, "", v.Data)
	}
	c.render(w, status, "error", v)
}

// fail turns an error of a handler into the page a person can act on:
// internal details are logged, never shown.
func (c *Console) fail(q *request, err error) {
	switch code := licensehooks.ErrorCode(err); code {
	case licensehooks.ENOTFOUND:
		c.errorPage(q.w, q.r, q, http.StatusNotFound, "Not found", "It does not exist, or it was deleted.")
	case licensehooks.EINVALID, licensehooks.EBADREQUEST, licensehooks.ECONFLICT, licensehooks.EFORBIDDEN, licensehooks.EUNAVAILABLE:
		c.errorPage(q.w, q.r, q, httpStatus(code), "The action could not be done", licensehooks.ErrorMessage(err))
	default:
		c.log.Error("console: request failed", "method", q.r.Method, "path", q.r.URL.Path, "err", err)
		c.errorPage(q.w, q.r, q, http.StatusInternalServerError, "Something went wrong",
			"The server could not do this. Try again; if it keeps failing, the server log has the details.")
	}
}

// httpStatus maps an error code to a status.
func httpStatus(code string) int {
	switch code {
	case licensehooks.ENOTFOUND:
		return http.StatusNotFound
	case licensehooks.EINVALID:
		return http.StatusUnprocessableEntity
	case licensehooks.EBADREQUEST:
		return http.StatusBadRequest
	case licensehooks.ECONFLICT:
		return http.StatusConflict
	case licensehooks.EUNAUTHORIZED:
		return http.StatusUnauthorized
	case licensehooks.EFORBIDDEN:
		return http.StatusForbidden
	case licensehooks.EUNAVAILABLE:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// writeJSON answers the script's fetch calls.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// wantsJSON tells the script's fetch calls from plain form posts.
func wantsJSON(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "application/json")
}

// jsonError answers a fetch call with an error a person can read.
func (c *Console) jsonError(w http.ResponseWriter, err error) {
	code := licensehooks.ErrorCode(err)
	if code == licensehooks.EINTERNAL {
		c.log.Error("console: request failed", "err", err)
	}
	writeJSON(w, httpStatus(code), map[string]string{"error": licensehooks.ErrorMessage(err)})
}

// Time formats: the console shows UTC everywhere, and says so.
const (
	timeLayout  = "2006-01-02 15:04:05 UTC"
	inputLayout = "2006-01-02T15:04" // <input type="datetime-local">
)

var funcs = template.FuncMap{
	"utc": func(t any) string {
		switch t := t.(type) {
		case time.Time:
			if t.IsZero() {
				return "—"
			}
			return t.UTC().Format(timeLayout)
		case *time.Time:
			if t == nil || t.IsZero() {
				return "—"
			}
			return t.UTC().Format(timeLayout)
		}
		return ""
	},
	"iso":           func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"when":          when,
	"ms":            formatDuration,
	"pretty":        prettyJSON,
	"rate":          formatRate,
	"add":           func(a, b int) int { return a + b },
	"sub":           func(a, b int) int { return a - b },
	"pairs":         pairs,
	"statusText":    http.StatusText,
	"headerList":    headerList,
	"resourceLabel": resourceLabel,
	"plural": func(n int, one, many string) string {
		if n == 1 {
			return one
		}
		return many
	},
	"contains":  func(list []string, s string) bool { return slices.Contains(list, s) },
	"kindLabel": kindLabel,
	"kindWords": kindWords,
	"pageURL":   pageURL,
}

// when writes a time as a <time> element: UTC in its text, which the
// script turns into the browser's time zone (and "5 min ago" when
// recent), and UTC on hover. A zero time is a dash.
func when(t any) template.HTML {
	var tm time.Time
	switch t := t.(type) {
	case time.Time:
		tm = t
	case *time.Time:
		if t != nil {
			tm = *t
		}
	}
	if tm.IsZero() {
		return "—"
	}
	u := template.HTMLEscapeString(tm.UTC().Format(timeLayout))
	return template.HTML(`<time class="js-time" datetime="` + tm.UTC().Format(time.RFC3339Nano) + `" title="` + u + `">` + u + `</time>`)
}

// formatDuration writes a latency in milliseconds, or seconds when long.
func formatDuration(d time.Duration) string {
	switch {
	case d <= 0:
		return "—"
	case d < 10*time.Millisecond:
		return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 1, 64) + " ms"
	case d < 10*time.Second:
		return strconv.FormatInt(d.Milliseconds(), 10) + " ms"
	}
	return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) + " s"
}

// formatRate writes a success rate; a negative rate means no attempts.
func formatRate(r float64) string {
	switch {
	case r < 0:
		return "no attempts"
	case r == 100 || r == 0:
		return strconv.FormatFloat(r, 'f', 0, 64) + " %"
	}
	return strconv.FormatFloat(r, 'f', 1, 64) + " %"
}

// prettyJSON indents JSON for reading; anything else is shown as is.
func prettyJSON(b []byte) string {
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		return string(b)
	}
	return out.String()
}

// header is one header line, for tables.
type header struct{ Name, Value string }

// headerList flattens headers in name order, for a stable display.
func headerList(h http.Header) []header {
	var out []header
	for _, name := range slices.Sorted(maps.Keys(h)) {
		for _, v := range h[name] {
			out = append(out, header{name, v})
		}
	}
	return out
}

// pairs lists a listener's custom headers in name order.
func pairs(m map[string]string) []header {
	out := make([]header, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, header{k, m[k]})
	}
	return out
}

// resourceLabel names a resource type for headings.
func resourceLabel(t string) string {
	switch t {
	case "customer":
		return "Customer"
	case "entitlement":
		return "Entitlement"
	case "entitlementGroup":
		return "Entitlement group"
	case "webhook":
		return "Operational (sent by licensehooks)"
	case "":
		return "Other"
	}
	return t
}

// pageURL returns the current list URL with another page number.
func pageURL(base url.Values, path string, page int) string {
	q := url.Values{}
	for k, v := range base {
		q[k] = v
	}
	q.Set("page", strconv.Itoa(page))
	return path + "?" + q.Encode()
}
