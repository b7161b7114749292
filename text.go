package licensehooks

import (
	"strings"
	"unicode/utf8"
)

// ValidText reports whether s can be stored as text by every store: valid
// UTF-8 without NUL characters (PostgreSQL refuses both). Input is checked
// with it at the edges, so both stores answer alike: a clear 4xx, never a
// storage error.
func ValidText(s string) bool {
	return utf8.ValidString(s) && !strings.Contains(s, "\x00")
}
