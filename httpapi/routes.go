package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"licensehooks"
	"licensehooks/auth"
)

// call is what an authenticated operation knows of its caller.
type call struct {
	TenantID string
	Claims   *auth.Claims
}

// handlerFunc serves one operation; an error it returns is answered as an
// ApiError by one function.
type handlerFunc func(w http.ResponseWriter, r *http.Request, c *call) error

// route is one operation: its method and path (Go ServeMux pattern, spelled
// as the OpenAPI document spells the path), operationId, and the scope it
// needs ("" for a public endpoint, which also needs no N-TenantId; several
// separated by spaces: any one of them).
type route struct {
	method, pattern string
	operationID     string
	scope           string
	h               handlerFunc
}

const (
	webhooksPath  = "/api/v1/account/webhooks"
	listenerPath  = webhooksPath + "/{webhookListenerId}"
	deliveriesDir = "/api/v1/account/deliveries"
)

func (s *Server) routeTable() []route {
	admin, key, pub := licensehooks.ScopeWebhooksAdmin, licensehooks.ScopeAPIAdmin, licensehooks.ScopeEventsPublish
	ops := licensehooks.ScopeTenantsAdmin
	// A platform's publisher and an account admin both manage schedules
	// and cancel delayed events.
	pubOrAdmin := pub + " " + admin
	return []route{
		{"POST", "/oauth/token", "OAuth_Token", "", s.token},
		{"POST", "/protocol/openid-connect/token", "OAuth_TokenOpenIDConnect", "", s.token},
		{"GET", "/healthz", "Health_Get", "", s.health},
		{"GET", "/readyz", "Ready_Get", "", s.ready},
		{"GET", "/metrics", "Metrics_Get", "", s.metrics},
		{"GET", "/openapi.json", "OpenAPI_Get", "", s.openAPI},
		{"GET", "/docs", "Docs_Get", "", s.docs},

		{"POST", webhooksPath, "Webhooks_Create", admin, s.createWebhook},
		{"GET", webhooksPath, "Webhooks_GetList", admin, s.listWebhooks},
		{"GET", listenerPath, "Webhooks_Get", admin, s.getWebhook},
		{"PUT", listenerPath, "Webhooks_Update", admin, s.updateWebhook},
		{"DELETE", listenerPath, "Webhooks_Delete", admin, s.deleteWebhook},
		{"POST", listenerPath + "/test", "Webhooks_Test", admin, s.testWebhook},
		{"GET", webhooksPath + "/events", "Webhooks_GetEventList", admin, s.eventTypes},
		{"GET", "/api/v1/account/key", "Keys_Get", key, s.accountKey},

		{"GET", listenerPath + "/secret", "Webhooks_GetSecret", admin, s.getSecret},
		{"POST", listenerPath + "/secret/rotate", "Webhooks_RotateSecret", admin, s.rotateSecret},
		{"GET", listenerPath + "/deliveries", "Webhooks_GetDeliveries", admin, s.listenerDeliveries},
		{"POST", listenerPath + "/recover", "Webhooks_Recover", admin, s.recoverWebhook},
		{"POST", listenerPath + "/replay", "Webhooks_Replay", admin, s.replayWebhook},
		{"GET", deliveriesDir, "Deliveries_GetList", admin, s.listDeliveries},
		{"GET", deliveriesDir + "/{deliveryId}", "Deliveries_Get", admin, s.getDelivery},
		{"POST", deliveriesDir + "/{deliveryId}/resend", "Deliveries_Resend", admin, s.resend},
		{"POST", deliveriesDir + "/resend", "Deliveries_ResendMatching", admin, s.resendMatching},
		{"GET", "/api/v1/account/events", "Events_GetList", admin, s.listEvents},
		{"GET", "/api/v1/account/events/{eventId}", "Events_Get", admin, s.getEvent},
		{"POST", "/api/v1/events", "Events_Publish", pub, s.publish},
		{"POST", "/api/v1/events/batch", "Events_PublishBatch", pub, s.publishBatch},
		{"POST", "/api/v1/account/events/{eventId}/cancel", "Events_Cancel", pubOrAdmin, s.cancelEvent},
		{"PUT", schedulesPath + "/{resourceId}", "Schedules_Put", pubOrAdmin, s.putSchedule},
		{"GET", schedulesPath + "/{resourceId}", "Schedules_Get", pubOrAdmin, s.getSchedule},
		{"DELETE", schedulesPath + "/{resourceId}", "Schedules_Delete", pubOrAdmin, s.deleteSchedule},
		{"GET", schedulesPath, "Schedules_GetList", pubOrAdmin, s.listSchedules},
		{"POST", schedulesPath + "/batch", "Schedules_PutBatch", pubOrAdmin, s.putSchedules},
		{"GET", "/api/v1/account/schedules-settings", "ScheduleSettings_Get", pubOrAdmin, s.getScheduleSettings},
		{"PUT", "/api/v1/account/schedules-settings", "ScheduleSettings_Put", pubOrAdmin, s.putScheduleSettings},

		{"POST", tenantsPath, "Tenants_Create", ops, s.createTenant},
		{"GET", tenantsPath, "Tenants_GetList", ops, s.listTenants},
		{"GET", tenantPath, "Tenants_Get", ops, s.getTenant},
		{"PATCH", tenantPath, "Tenants_Update", ops, s.updateTenant},
		{"DELETE", tenantPath, "Tenants_Delete", ops, s.deleteTenant},
		{"POST", tenantPath + "/credentials", "Tenants_CreateCredential", ops, s.createCredential},
		{"GET", tenantPath + "/credentials", "Tenants_GetCredentials", ops, s.listCredentials},
		{"DELETE", tenantPath + "/credentials/{clientId}", "Tenants_RevokeCredential", ops, s.revokeCredential},
		{"POST", tenantPath + "/portal-links", "Tenants_CreatePortalLink", ops, s.createPortalLink},
	}
}

// TenantHeader names the account an API call acts on.
const TenantHeader = "N-TenantId"

// wrap adds authentication, the tenant and scope checks, and error writing.
// A request refused before its handler runs is answered at once, without
// reading its body, and its connection is closed.
func (s *Server) wrap(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := checkURL(r); err != nil {
			refuseBody(w, r)
			s.writeError(w, r, err)
			return
		}
		c := &call{}
		if rt.scope != "" {
			var err error
			if c, err = s.authorize(w, r, rt.scope); err != nil {
				refuseBody(w, r)
				s.writeError(w, r, err)
				return
			}
		}
		body := r.Body
		if err := rt.h(w, r, c); err != nil {
			if b, ok := body.(*timedBody); ok {
				if eof, timedOut := b.state(); timedOut {
					w.Header().Set("Connection", "close")
					writeJSON(w, http.StatusRequestTimeout, apiError{ErrorCode: licensehooks.EBADREQUEST,
						Error: fmt.Sprintf("The request body did not arrive in time: send each %d KiB within %s.", BodyTimeoutPer>>10, s.cfg.BodyTimeout)})
					return
				} else if !eof {
					refuseBody(w, r)
				}
			}
			s.writeError(w, r, err)
		}
	})
}

// authorize checks, in order: a valid Bearer token (401) (for the operator
// API, an operator token holding tenants:admin (403), and no more), the N-TenantId
// header (400), that the token may act for that tenant (403), that it holds
// scope (403), and, for an operator token, that the tenant exists (404).
// Only the last reads the store; a tenant token is trusted as issued.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request, scope string) (*call, error) {
	token, ok := bearerToken(r)
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer realm="licensehooks"`)
		return nil, licensehooks.Errorf(licensehooks.EUNAUTHORIZED, "An access token is required: send Authorization: Bearer <token> from POST /oauth/token.")
	}
	claims, err := s.cfg.Auth.Verify(token)
	if err != nil {
		w.Header().Set("WWW-Authenticate", `Bearer realm="licensehooks", error="invalid_token", error_description="The access token is invalid or expired."`)
		return nil, err
	}
	if scope == licensehooks.ScopeTenantsAdmin { // the operator API: no N-TenantId, an operator's token
		if !claims.Operator() || !claims.HasScope(scope) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="licensehooks", error="insufficient_scope", scope="`+scope+`"`)
			return nil, licensehooks.Errorf(licensehooks.EFORBIDDEN,
				"This operation needs an operator credential holding the scope %s (licensehooks credential create --operator).", scope)
		}
		return &call{Claims: claims}, nil
	}
	tenantID := strings.TrimSpace(r.Header.Get(TenantHeader))
	if tenantID == "" {
		return nil, &licensehooks.Error{Code: licensehooks.EBADREQUEST, Message: "The N-TenantId header is required: it names the account the call acts on.",
			Fields: []licensehooks.FieldError{{Field: TenantHeader, Message: "The N-TenantId header is required.", Code: "required"}}}
	}
	if !licensehooks.ValidText(tenantID) {
		return nil, &licensehooks.Error{Code: licensehooks.EBADREQUEST, Message: "The N-TenantId header must be valid UTF-8 text.",
			Fields: []licensehooks.FieldError{{Field: TenantHeader, Message: "The N-TenantId header must be valid UTF-8 text.", Code: "invalid_text"}}}
	}
	if !claims.MayActFor(tenantID) {
		return nil, licensehooks.Errorf(licensehooks.EFORBIDDEN, "The access token may not act for the account %s.", tenantID)
	}
	if !slices.ContainsFunc(strings.Fields(scope), claims.HasScope) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="licensehooks", error="insufficient_scope", scope="`+scope+`"`)
		if strings.Contains(scope, " ") {
			return nil, licensehooks.Errorf(licensehooks.EFORBIDDEN, "This operation needs one of the scopes %s, which the access token does not hold.",
				strings.Join(strings.Fields(scope), " or "))
		}
		return nil, licensehooks.Errorf(licensehooks.EFORBIDDEN, "This operation needs the scope %s, which the access token does not hold.", scope)
	}
	if claims.Operator() {
		if err := s.tenantExists(r.Context(), tenantID); err != nil {
			return nil, err
		}
	}
	return &call{TenantID: tenantID, Claims: claims}, nil
}

// checkURL refuses a URL whose query cannot be decoded (a bad %XX escape
// would otherwise drop its pair silently, and the filter or page size with
// it), or whose path or query, unescaped, is not valid UTF-8 or holds a
// NUL: no id or filter can be such text, and PostgreSQL would refuse to
// compare with it.
func checkURL(r *http.Request) error {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return licensehooks.Errorf(licensehooks.EBADREQUEST,
			"The query string cannot be decoded (%s); write a literal %% as %%25 and separate parameters with &.", strings.TrimPrefix(err.Error(), "net/url: "))
	}
	ok := licensehooks.ValidText(r.URL.Path)
	for k, vs := range q {
		ok = ok && licensehooks.ValidText(k)
		for _, v := range vs {
			ok = ok && licensehooks.ValidText(v)
		}
	}
	if !ok {
		return licensehooks.Errorf(licensehooks.EBADREQUEST, "The URL must be valid UTF-8 text without NUL characters, %%XX escapes included.")
	}
	return nil
}

func (s *Server) tenantExists(ctx context.Context, tenantID string) error {
	_, err := s.cfg.Store.GetTenant(ctx, tenantID)
	if licensehooks.ErrorCode(err) == licensehooks.ENOTFOUND {
		return licensehooks.Errorf(licensehooks.ENOTFOUND, "The account %s does not exist.", tenantID)
	}
	return err
}

// bearerToken returns the token of an "Authorization: Bearer" header (the
// scheme is case-insensitive, RFC 9110 §11.1).
func bearerToken(r *http.Request) (string, bool) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}
