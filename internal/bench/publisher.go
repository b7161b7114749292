package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"licensehooks/catalog"
)

// template is one kind of event the publishers send: a catalog event type
// with its sample payload, as the licensing platform would send it.
type template struct {
	Code       string
	ResourceID string
	Payload    json.RawMessage
}

// catalogTemplates returns one template per built-in event type a
// platform may publish (the operational ones are the service's own).
func catalogTemplates() []template {
	var out []template
	c := catalog.New()
	for _, t := range c.All() {
		if c.IsOperational(t.Code) {
			continue
		}
		var v any
		json.Unmarshal(t.Sample, &v)
		rid := findString(v, "entitlementId", "customerId", "id")
		if rid == "" {
			rid = "res_bench"
		}
		out = append(out, template{Code: t.Code, ResourceID: rid, Payload: t.Sample})
	}
	return out
}

// appendEvent appends the JSON of one publish request for seq, about
// resource rid ("" for the template's own).
func appendEvent(dst []byte, n nonce, seq uint64, t *template, rid string) []byte {
	if rid == "" {
		rid = t.ResourceID
	}
	dst = append(dst, `{"eventId":"`...)
	dst = appendEventID(dst, n, seq)
	dst = append(dst, `","eventCode":`...)
	dst = strconv.AppendQuote(dst, t.Code)
	dst = append(dst, `,"resourceId":`...)
	dst = strconv.AppendQuote(dst, rid)
	dst = append(dst, `,"payload":`...)
	dst = append(dst, t.Payload...)
	return append(dst, '}')
}

// publishPlan says what the publishers do.
type publishPlan struct {
	Publishers int
	Batch      int           // events per request; >1 uses /api/v1/events/batch
	Rate       float64       // events per second; 0 = as fast as accepted
	Duration   time.Duration // stop starting requests after this
	MaxEvents  int64         // stop after this many events, whatever the time
}

// publishers run a publishPlan against the API and record every accepted
// event in the ledger. Publisher i talks to node i mod len(apis): with
// several nodes the load is spread round-robin, each publisher keeping its
// connections to one node, as a load balancer would.
type publishers struct {
	apis      []*api
	tenants   []tenantAuth
	templates []template
	nonce     nonce
	ledger    *ledger
	lines     *lines // the resources of an ordered scenario; nil: the templates' own

	seq      atomic.Uint64 // next event sequence number
	slot     atomic.Int64  // next request slot (paces fixed-rate runs)
	requests atomic.Int64
	errs     atomic.Int64
	errMu    sync.Mutex
	firstErr error
}

// run publishes until the plan's time or count is used up, or ctx ends.
func (p *publishers) run(ctx context.Context, plan publishPlan) {
	start := time.Now()
	end := start.Add(plan.Duration)
	var wg sync.WaitGroup
	for i := range plan.Publishers {
		a := p.apis[i%len(p.apis)]
		wg.Go(func() { p.loop(ctx, i, a, plan, start, end) })
	}
	wg.Wait()
}

// loop is publisher pub: it sends one request after another.
func (p *publishers) loop(ctx context.Context, pub int, a *api, plan publishPlan, start, end time.Time) {
	batch := max(plan.Batch, 1)
	var buf []byte
	var res []int32 // the request's resources, when ordered
	var sent int64  // events this publisher sent, which pick its resources
	for ctx.Err() == nil {
		k := p.slot.Add(1) - 1
		if plan.Rate > 0 {
			due := start.Add(time.Duration(float64(k) * float64(batch) / plan.Rate * float64(time.Second)))
			if due.After(end) || !sleepUntil(ctx, due) {
				return
			}
		}
		if time.Now().After(end) {
			return
		}
		first := p.seq.Add(uint64(batch)) - uint64(batch)
		n := min(int64(batch), plan.MaxEvents-int64(first))
		if n <= 0 {
			return
		}
		tenant := int(k % int64(len(p.tenants)))
		res = p.resources(res[:0], pub, sent, int(n))
		sent += n
		buf = p.body(buf[:0], first, int(n), batch > 1, res)
		p.publish(ctx, a, tenant, first, int(n), buf, batch > 1, res)
	}
}

// sleepUntil waits for t; false when ctx ended first.
func sleepUntil(ctx context.Context, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-timer.C:
		return true
	}
}

// resources appends the resources of publisher pub's events sent+0 to
// sent+n-1 to dst; nil when the scenario is not ordered.
func (p *publishers) resources(dst []int32, pub int, sent int64, n int) []int32 {
	if p.lines == nil {
		return nil
	}
	for i := range int64(n) {
		dst = append(dst, p.lines.resource(pub, sent+i))
	}
	return dst
}

// body builds one request: a single event, or {"events":[…]} for a batch;
// res, when not nil, gives each event's resource.
func (p *publishers) body(dst []byte, first uint64, n int, batch bool, res []int32) []byte {
	if batch {
		dst = append(dst, `{"events":[`...)
	}
	for i := range n {
		if i > 0 {
			dst = append(dst, ',')
		}
		seq := first + uint64(i)
		rid := ""
		if res != nil {
			rid = p.lines.ids[res[i]]
		}
		dst = appendEvent(dst, p.nonce, seq, &p.templates[seq%uint64(len(p.templates))], rid)
	}
	if batch {
		dst = append(dst, "]}"...)
	}
	return dst
}

// publish sends one request, retrying a failed one with the same eventIds
// (publishing is idempotent on eventId), and records what was accepted
// (res: the events' resources, nil when not ordered).
func (p *publishers) publish(ctx context.Context, a *api, tenant int, first uint64, n int, body []byte, batch bool, res []int32) {
	path := "/api/v1/events"
	if batch {
		path += "/batch"
	}
	var raw []byte
	var err error
	for try := range 4 {
		if try > 0 && !sleepUntil(ctx, time.Now().Add(time.Duration(try)*250*time.Millisecond)) {
			break
		}
		p.requests.Add(1)
		err = a.call(ctx, p.tenants[tenant], http.MethodPost, path, body, http.StatusAccepted, &raw)
		var ae *apiError
		if err == nil || (errors.As(err, &ae) && ae.Status < 500 && ae.Status != http.StatusTooManyRequests) {
			break
		}
	}
	if err == nil {
		err = p.record(tenant, first, n, raw, time.Now().UnixNano(), res)
	}
	if err != nil && ctx.Err() == nil {
		p.errs.Add(1)
		p.errMu.Lock()
		if p.firstErr == nil {
			p.firstErr = err
		}
		p.errMu.Unlock()
	}
}

// publishAnswer is one event's result: {eventId, deliveries} where
// deliveries is a count or the list of delivery ids.
type publishAnswer struct {
	EventID    string          `json:"eventId"`
	Deliveries json.RawMessage `json:"deliveries"`
	Error      json.RawMessage `json:"error"`
}

func (a publishAnswer) count() int {
	var n int
	if json.Unmarshal(a.Deliveries, &n) == nil {
		return n
	}
	var ids []json.RawMessage
	if json.Unmarshal(a.Deliveries, &ids) == nil {
		return len(ids)
	}
	return -1
}

// record enters the accepted events of one answer in the ledger, each with
// its resource when res is not nil.
func (p *publishers) record(tenant int, first uint64, n int, raw []byte, at int64, res []int32) error {
	answers, err := decodePublishAnswers(raw)
	if err != nil {
		return err
	}
	accepted := 0
	for _, a := range answers {
		seq, ok := parseEventID(p.nonce, a.EventID)
		if !ok || seq < first || seq >= first+uint64(n) || len(a.Error) > 0 && string(a.Error) != "null" {
			continue
		}
		line := int32(noLine)
		if res != nil {
			line = res[seq-first]
		}
		p.ledger.acceptInLine(seq, tenant, at, a.count(), line)
		accepted++
	}
	if accepted != n {
		return fmt.Errorf("publish: %d of %d events accepted: %s", accepted, n, truncate(string(raw), 300))
	}
	return nil
}

// decodePublishAnswers reads the answer of a single publish ({eventId,
// deliveries}) or of a batch (an array of those, bare or as the first array
// field of an object such as {"items":[…]}).
func decodePublishAnswers(raw []byte) ([]publishAnswer, error) {
	var one publishAnswer
	if json.Unmarshal(raw, &one) == nil && one.EventID != "" {
		return []publishAnswer{one}, nil
	}
	var list []publishAnswer
	if json.Unmarshal(raw, &list) == nil {
		return list, nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return nil, fmt.Errorf("publish answer: %w", err)
	}
	for _, v := range obj {
		if json.Unmarshal(v, &list) == nil && len(list) > 0 {
			return list, nil
		}
	}
	return nil, fmt.Errorf("publish answer: no results in %s", truncate(string(raw), 200))
}

// failure returns the count and first error of the failed requests.
func (p *publishers) failure() (int64, error) {
	p.errMu.Lock()
	defer p.errMu.Unlock()
	return p.errs.Load(), p.firstErr
}
