package httpapi

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"slices"
	"time"

	"licensehooks"
	"licensehooks/catalog"
	"licensehooks/service"
)

// listenerInput decodes a create or update request and answers every
// problem of it at once: the fields of the wrong type and what the service's
// validation finds in the others.
func (s *Server) listenerInput(w http.ResponseWriter, r *http.Request) (service.ListenerInput, error) {
	b, err := readBody(w, r, maxBodyBytes)
	if err != nil {
		return service.ListenerInput{}, err
	}
	in, problems, err := decodeListener(b)
	if err != nil {
		return in, err
	}
	if len(problems) == 0 {
		return in, nil // the service validates as it acts
	}
	problems, err = mergeProblems(problems, s.cfg.Service.ValidateListener(in))
	if err != nil {
		return in, err
	}
	return in, licensehooks.Invalid(problems...)
}

func (s *Server) createWebhook(w http.ResponseWriter, r *http.Request, c *call) error {
	in, err := s.listenerInput(w, r)
	if err != nil {
		return err
	}
	l, err := s.cfg.Service.CreateListener(r.Context(), c.TenantID, in)
	if err != nil {
		return err
	}
	w.Header().Set("Location", webhooksPath+"/"+l.ID)
	writeJSON(w, http.StatusCreated, toWebhook(l))
	return nil
}

func (s *Server) listWebhooks(w http.ResponseWriter, r *http.Request, c *call) error {
	p, err := parsePage(r.URL.Query())
	if err != nil {
		return err
	}
	ls, total, err := s.cfg.Store.ListListeners(r.Context(), licensehooks.ListenerFilter{TenantID: c.TenantID, Page: p})
	if err != nil {
		return err
	}
	items := make([]webhookModel, len(ls))
	for i, l := range ls {
		items[i] = toWebhook(l)
	}
	writeJSON(w, http.StatusOK, newPage(items, p, total))
	return nil
}

func (s *Server) getWebhook(w http.ResponseWriter, r *http.Request, c *call) error {
	l, err := s.cfg.Store.GetListener(r.Context(), c.TenantID, r.PathValue("webhookListenerId"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toWebhook(l))
	return nil
}

func (s *Server) updateWebhook(w http.ResponseWriter, r *http.Request, c *call) error {
	in, err := s.listenerInput(w, r)
	if err != nil {
		return err
	}
	if _, err := s.cfg.Service.UpdateListener(r.Context(), c.TenantID, r.PathValue("webhookListenerId"), in); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) deleteWebhook(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := s.cfg.Service.DeleteListener(r.Context(), c.TenantID, r.PathValue("webhookListenerId")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// testWebhook answers once the test call has been made, whatever the
// listener answered: the attempt is in the log.
// testWebhook is the Zentitle2 Test without a body (or with {}); with
// {eventCode, payload?} it sends an example of that event type instead
// (the catalog's sample unless a payload is given). Never retried.
func (s *Server) testWebhook(w http.ResponseWriter, r *http.Request, c *call) error {
	b, err := readBody(w, r, maxEventBytes)
	if err != nil {
		return err
	}
	var in service.ExampleInput
	if len(bytes.TrimSpace(b)) > 0 {
		var req struct {
			EventCode string          `json:"eventCode"`
			Payload   json.RawMessage `json:"payload"`
		}
		if err := unmarshal(b, &req); err != nil {
			return err
		}
		in = service.ExampleInput{EventCode: req.EventCode, Payload: req.Payload}
	}
	if _, _, err := s.cfg.Service.SendExample(r.Context(), c.TenantID, r.PathValue("webhookListenerId"), in); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) eventTypes(w http.ResponseWriter, r *http.Request, _ *call) error {
	all := s.cfg.Catalog.All()
	items := make([]eventTypeModel, len(all))
	contract := catalog.ResourceTypes()
	for i, t := range all {
		items[i] = eventTypeModel{Code: t.Code, Description: t.Description}
		if slices.Contains(contract, t.ResourceType) {
			items[i].Type = t.ResourceType
		}
	}
	writeJSON(w, http.StatusOK, struct {
		Items         []eventTypeModel `json:"items"`
		ElementsTotal int              `json:"elementsTotal"`
	}{items, len(items)})
	return nil
}

// accountKey serves the public half of the account's N-Signature key as a
// JWK (base64url without padding), from which receivers verify.
func (s *Server) accountKey(w http.ResponseWriter, r *http.Request, c *call) error {
	t, err := s.cfg.Store.GetTenant(r.Context(), c.TenantID)
	if err != nil {
		return err
	}
	pub, err := t.RSAPublicKey()
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, jwkModel{
		Kty: "RSA",
		N:   base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
		E:   base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
	})
	return nil
}

func toSecret(sec service.Secret) secretModel {
	return secretModel{Secret: sec.Current, PreviousSecret: sec.Previous, PreviousSecretExpiresAt: sec.PreviousExpiresAt}
}

func (s *Server) getSecret(w http.ResponseWriter, r *http.Request, c *call) error {
	sec, err := s.cfg.Service.ListenerSecret(r.Context(), c.TenantID, r.PathValue("webhookListenerId"))
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, toSecret(sec))
	return nil
}

// rotateSecret rotates a listener's secret; an optional body
// {"overlap": "1h"} says how long the old one keeps signing (0s to 24h,
// 24h when absent).
func (s *Server) rotateSecret(w http.ResponseWriter, r *http.Request, c *call) error {
	b, err := readBody(w, r, maxBodyBytes)
	if err != nil {
		return err
	}
	overlap := service.SecretOverlap
	if len(bytes.TrimSpace(b)) > 0 {
		var req struct {
			Overlap *string `json:"overlap"`
		}
		if err := unmarshal(b, &req); err != nil {
			return err
		}
		if req.Overlap != nil {
			d, perr := time.ParseDuration(*req.Overlap)
			if perr != nil {
				return licensehooks.Invalid(licensehooks.FieldError{Field: "overlap", Code: "invalid_duration",
					Message: fmt.Sprintf("overlap %q is not a duration: give 24h, 1h or 0s (end the old secret now).", *req.Overlap)})
			}
			overlap = d
		}
	}
	sec, err := s.cfg.Service.RotateSecretOverlap(r.Context(), c.TenantID, r.PathValue("webhookListenerId"), overlap)
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, toSecret(sec))
	return nil
}

func (s *Server) recoverWebhook(w http.ResponseWriter, r *http.Request, c *call) error {
	var req struct {
		Since string `json:"since"`
	}
	if err := decodeJSON(w, r, maxBodyBytes, &req); err != nil {
		return err
	}
	since, ferr := timeField("since", req.Since)
	if ferr != nil {
		return licensehooks.Invalid(*ferr)
	}
	n, err := s.cfg.Service.Recover(r.Context(), c.TenantID, r.PathValue("webhookListenerId"), since)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, struct {
		Recovered int `json:"recovered"`
	}{n})
	return nil
}

func (s *Server) replayWebhook(w http.ResponseWriter, r *http.Request, c *call) error {
	var req struct {
		Since string `json:"since"`
		Until string `json:"until"`
	}
	if err := decodeJSON(w, r, maxBodyBytes, &req); err != nil {
		return err
	}
	since, ferr := timeField("since", req.Since)
	if ferr != nil {
		return licensehooks.Invalid(*ferr)
	}
	until, ferr := timeField("until", req.Until)
	if ferr != nil {
		return licensehooks.Invalid(*ferr)
	}
	res, err := s.cfg.Service.Replay(r.Context(), c.TenantID, r.PathValue("webhookListenerId"), since, until)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, struct {
		Replayed int  `json:"replayed"`
		More     bool `json:"more"`
	}{res.Replayed, res.More})
	return nil
}
