package wire

import (
	"encoding/json"
	"strings"
)

// PartsTicketPrefix starts a DoGet ticket for some parts of one version of a dataset:
// one endpoint of a dataset's FlightInfo when the dataset is split across several
// endpoints (and nodes). PartsTicket as JSON follows it. Like RawParquetTicketPrefix
// the NUL bytes keep it apart from dataset names and Flight SQL tickets.
const PartsTicketPrefix = "\x00quiver:parts\x00"

// PartsTicket names parts First to First+Count-1 (in read order) of version Version
// of dataset Dataset. Decoded from a ticket it is client bytes: nothing in it is
// checked but its JSON form (DecodePartsTicket).
type PartsTicket struct {
	Dataset string `json:"dataset"`
	Version string `json:"version"`
	First   int    `json:"first"`
	Count   int    `json:"count"`
}

// Encode returns the ticket's bytes.
func (p PartsTicket) Encode() []byte {
	b, _ := json.Marshal(p) // cannot fail: strings and ints only
	return append([]byte(PartsTicketPrefix), b...)
}

// DecodePartsTicket decodes a ticket that starts with PartsTicketPrefix. isParts
// reports whether it does; ok whether the rest is a PartsTicket as JSON, with no
// other fields and nothing after it.
func DecodePartsTicket(t []byte) (p PartsTicket, isParts, ok bool) {
	rest, isParts := strings.CutPrefix(string(t), PartsTicketPrefix)
	if !isParts {
		return PartsTicket{}, false, false
	}
	dec := json.NewDecoder(strings.NewReader(rest))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil || dec.More() {
		return PartsTicket{}, true, false
	}
	return p, true, true
}
