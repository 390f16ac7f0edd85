package observe

import "encoding/binary"

// The IPC message header of a FlightData (data_header) is an Arrow Message
// flatbuffer, without the continuation marker and length prefix of the IPC stream
// format. recordBatchRows reads one field of it in place:
//
//	table Message     { version: short; header: MessageHeader (union: type, value); bodyLength: long; custom_metadata }
//	table RecordBatch { length: long; nodes; buffers; compression; variadicBufferCounts }
//
// Headers come from clients, so every load is bounds-checked: a malformed header
// yields ok == false, never a panic.

// messageHeaderRecordBatch is MessageHeader.RecordBatch in Arrow's Message.fbs.
const messageHeaderRecordBatch = 3

// recordBatchRows returns the length of the record batch the IPC message header b
// describes; ok is false when b is not a RecordBatch message (a schema, a dictionary
// batch, nothing) or is malformed.
func recordBatchRows(b []byte) (rows int64, ok bool) {
	msg, ok := rootTable(b)
	if !ok {
		return 0, false
	}
	typ, present, ok := msg.field(1, 1)
	if !present || !ok || b[typ] != messageHeaderRecordBatch {
		return 0, false
	}
	hdr, present, ok := msg.field(2, 4)
	if !present || !ok {
		return 0, false
	}
	rb, ok := tableAt(b, hdr+int(binary.LittleEndian.Uint32(b[hdr:])))
	if !ok {
		return 0, false
	}
	n, present, ok := rb.field(0, 8)
	switch {
	case !ok:
		return 0, false
	case !present:
		return 0, true // the default, 0
	}
	rows = int64(binary.LittleEndian.Uint64(b[n:]))
	if rows < 0 {
		return 0, false
	}
	return rows, true
}

// fbTable is a flatbuffer table: its position and its vtable's, in b.
type fbTable struct {
	b          []byte
	pos, vtab  int
	vtabFields int // number of field slots the vtable has
}

// rootTable is the table the root offset at the start of b points to.
func rootTable(b []byte) (fbTable, bool) {
	if len(b) < 4 {
		return fbTable{}, false
	}
	return tableAt(b, int(binary.LittleEndian.Uint32(b)))
}

// tableAt reads the table at pos: an int32 at pos, the vtable at pos minus it.
func tableAt(b []byte, pos int) (fbTable, bool) {
	if pos < 0 || pos > len(b)-4 {
		return fbTable{}, false
	}
	vtab := pos - int(int32(binary.LittleEndian.Uint32(b[pos:])))
	if vtab < 0 || vtab > len(b)-4 {
		return fbTable{}, false
	}
	size := int(binary.LittleEndian.Uint16(b[vtab:]))
	if size < 4 || vtab+size > len(b) {
		return fbTable{}, false
	}
	return fbTable{b: b, pos: pos, vtab: vtab, vtabFields: (size - 4) / 2}, true
}

// field returns the position of field i, width bytes long. present is false when
// the table does not have the field (its default applies); ok is false when it
// would run past the end of b.
func (t fbTable) field(i, width int) (pos int, present, ok bool) {
	if i >= t.vtabFields {
		return 0, false, true
	}
	off := int(binary.LittleEndian.Uint16(t.b[t.vtab+4+2*i:]))
	if off == 0 {
		return 0, false, true
	}
	p := t.pos + off
	if p+width > len(t.b) {
		return 0, true, false
	}
	return p, true, true
}
