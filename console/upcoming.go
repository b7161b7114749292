package console

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"licensehooks"
)

// upcomingPageSize is how many reminders the Upcoming page lists at once.
const upcomingPageSize = 25

type upcomingData struct {
	Entitlement string // the search, as entered
	Rows        []*licensehooks.Reminder
	Pager       pager
}

// upcomingPage lists the tenant's next expiry reminders, soonest first,
// searchable by entitlement id.
func (c *Console) upcomingPage(q *request) error {
	d := upcomingData{Entitlement: strings.TrimSpace(q.r.URL.Query().Get("entitlement"))}
	f := licensehooks.ReminderFilter{TenantID: q.tenantID(), ResourceID: d.Entitlement,
		Page: licensehooks.Page{Number: pageNumber(q.r), Size: upcomingPageSize}}
	rows, total, err := c.cfg.Store.ListReminders(q.r.Context(), f)
	if err != nil {
		return fmt.Errorf("list reminders: %w", err)
	}
	d.Rows = rows
	keep := url.Values{}
	if d.Entitlement != "" {
		keep.Set("entitlement", d.Entitlement)
	}
	d.Pager = newPager("/upcoming", keep, f.Page.Number, upcomingPageSize, total, len(rows))
	c.render(q.w, http.StatusOK, "upcoming", q.view("Upcoming", "upcoming", d))
	return nil
}
