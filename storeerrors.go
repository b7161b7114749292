package licensehooks

import "strings"

// The errors both store adapters answer, worded here once: an adapter says
// what (a code and a subject), and every store gives API clients the same
// message.

// NotFound is the ENOTFOUND of a thing named in lower case ("listener",
// "tenant of this listener"): "The listener was not found."
func NotFound(subject string) *Error {
	return Errorf(ENOTFOUND, "The %s was not found.", subject)
}

// AlreadyExists is the ECONFLICT of a thing whose id is taken: "A listener
// with this id already exists."
func AlreadyExists(subject string) *Error {
	article := "A"
	if subject != "" && strings.ContainsRune("aeiou", rune(subject[0])) {
		article = "An"
	}
	return Errorf(ECONFLICT, "%s %s with this id already exists.", article, subject)
}

// EventConflict is the ECONFLICT of an event id published again with
// another body (another Hash).
func EventConflict(eventID string) *Error {
	return Errorf(ECONFLICT, "Event %s was already published with a different body.", eventID)
}

// DeliveryBusy is the ECONFLICT of a delivery leased to another worker.
func DeliveryBusy() *Error {
	return Errorf(ECONFLICT, "The delivery is being sent; try again in a moment.")
}

// CheckPublish refuses a PublishEvents call in which a param has no event,
// or both targets and excludes a listener: the whole call is EINVALID and
// nothing is stored (a caller's mistake, not one event's fault).
func CheckPublish(params []PublishParams) error {
	for _, p := range params {
		if p.Event == nil {
			return Errorf(EINVALID, "An event is missing.")
		}
		if p.ListenerID != "" && p.ExcludeListenerID != "" {
			return Errorf(EINVALID, "An event cannot both target a listener and exclude one.")
		}
	}
	return nil
}

// PrepareOutcomes refuses a RecordOutcomes call in which an outcome has no
// attempt (the whole call is EINVALID and nothing is stored), and gives an
// attempt without an id one (att_…).
func PrepareOutcomes(outcomes []Outcome) error {
	for _, o := range outcomes {
		if o.Attempt == nil {
			return Errorf(EINVALID, "An outcome has no attempt.")
		}
	}
	for _, o := range outcomes {
		if o.Attempt.ID == "" {
			o.Attempt.ID = NewID(PrefixAttempt)
		}
	}
	return nil
}

// EventNotCancellable is the ECONFLICT of cancelling an event none of whose
// deliveries is still scheduled.
func EventNotCancellable(eventID string) *Error {
	return Errorf(ECONFLICT, "Event %s has no scheduled delivery left to cancel: it is already being sent, or was sent or cancelled.", eventID)
}
