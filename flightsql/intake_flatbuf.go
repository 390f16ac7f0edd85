package flightsql

import (
	"encoding/binary"
	"fmt"
)

// A bounds-checked reader of the flatbuffers in IPC message headers. arrow-go reads
// them with the flatbuffers runtime, which trusts every offset and every vector
// length it finds; headers come from clients, so the intake walks them with this
// reader first. Every load checks that what it reads lies inside the buffer, so a
// malformed header yields an error, never a panic or an allocation.

// fbTable is a flatbuffer table: its position and its vtable's in b.
type fbTable struct {
	b         []byte
	pos, vtab int
	slots     int // number of field slots the vtable has
}

// fbRoot is the table the root offset at the start of b points to.
func fbRoot(b []byte) (fbTable, error) {
	if len(b) < 4 {
		return fbTable{}, fmt.Errorf("the header is %d bytes, too short for a flatbuffer", len(b))
	}
	return fbTableAt(b, int(binary.LittleEndian.Uint32(b)))
}

// fbTableAt reads the table at pos: an int32 at pos, the vtable at pos minus it.
func fbTableAt(b []byte, pos int) (fbTable, error) {
	if pos < 0 || pos > len(b)-4 {
		return fbTable{}, fmt.Errorf("table offset %d is outside the %d-byte header", pos, len(b))
	}
	vtab := pos - int(int32(binary.LittleEndian.Uint32(b[pos:])))
	if vtab < 0 || vtab > len(b)-4 {
		return fbTable{}, fmt.Errorf("vtable offset %d is outside the %d-byte header", vtab, len(b))
	}
	size := int(binary.LittleEndian.Uint16(b[vtab:]))
	inline := int(binary.LittleEndian.Uint16(b[vtab+2:]))
	if size < 4 || size%2 != 0 || vtab+size > len(b) {
		return fbTable{}, fmt.Errorf("vtable at %d claims %d bytes; the header has %d", vtab, size, len(b))
	}
	if inline < 4 || pos+inline > len(b) {
		return fbTable{}, fmt.Errorf("table at %d claims %d bytes; the header has %d", pos, inline, len(b))
	}
	return fbTable{b: b, pos: pos, vtab: vtab, slots: (size - 4) / 2}, nil
}

// field returns the position of field slot i, whose value is size bytes; present is
// false when the table does not have it (the field takes its default).
func (t fbTable) field(slot, size int) (pos int, present bool, err error) {
	if slot >= t.slots {
		return 0, false, nil
	}
	off := int(binary.LittleEndian.Uint16(t.b[t.vtab+4+2*slot:]))
	if off == 0 {
		return 0, false, nil
	}
	// The field must lie in the header. Not necessarily inside the table's inline
	// size: Go's flatbuffers builder shares a vtable between tables whose field
	// offsets match without comparing their sizes (vtableEqual), so arrow-go writes
	// DictionaryEncoding tables whose 8-byte id ends past the size their shared
	// vtable claims (seen from polars' write_database through ADBC). flatbuffers'
	// own verifier checks fields against the buffer too.
	if t.pos+off+size > len(t.b) {
		return 0, false, fmt.Errorf("field %d of the table at %d lies outside the header", slot, t.pos)
	}
	return t.pos + off, true, nil
}

// u8, i16, i64 read scalar fields; absent fields read as 0 (every default this
// file relies on is 0).
func (t fbTable) u8(slot int) (uint8, error) {
	p, ok, err := t.field(slot, 1)
	if !ok || err != nil {
		return 0, err
	}
	return t.b[p], nil
}

func (t fbTable) i16(slot int) (int16, error) {
	p, ok, err := t.field(slot, 2)
	if !ok || err != nil {
		return 0, err
	}
	return int16(binary.LittleEndian.Uint16(t.b[p:])), nil
}

func (t fbTable) i64(slot int) (int64, error) {
	p, ok, err := t.field(slot, 8)
	if !ok || err != nil {
		return 0, err
	}
	return int64(binary.LittleEndian.Uint64(t.b[p:])), nil
}

// indirect follows the uoffset stored in field slot i.
func (t fbTable) indirect(slot int) (target int, present bool, err error) {
	p, ok, err := t.field(slot, 4)
	if !ok || err != nil {
		return 0, false, err
	}
	target = p + int(binary.LittleEndian.Uint32(t.b[p:]))
	if target > len(t.b)-4 {
		return 0, false, fmt.Errorf("field %d of the table at %d points outside the header", slot, t.pos)
	}
	return target, true, nil
}

// table is the sub-table of field slot i.
func (t fbTable) table(slot int) (sub fbTable, present bool, err error) {
	p, ok, err := t.indirect(slot)
	if !ok || err != nil {
		return fbTable{}, false, err
	}
	sub, err = fbTableAt(t.b, p)
	return sub, err == nil, err
}

// fbVector is a vector in a flatbuffer: n elements of size bytes from start.
type fbVector struct {
	b           []byte
	start, n    int
	elementSize int
}

// vector is the vector of field slot i, checked to fit in the header: a length
// patched beyond what the bytes hold is an error here, not an allocation later.
func (t fbTable) vector(slot, elementSize int) (fbVector, error) {
	p, ok, err := t.indirect(slot)
	if !ok || err != nil {
		return fbVector{}, err
	}
	n := uint64(binary.LittleEndian.Uint32(t.b[p:]))
	if room := uint64(len(t.b) - p - 4); n*uint64(elementSize) > room {
		return fbVector{}, fmt.Errorf("a vector at byte %d claims %d elements of %d bytes; the %d-byte header has room for %d",
			p, n, elementSize, len(t.b), room/uint64(elementSize))
	}
	return fbVector{b: t.b, start: p + 4, n: int(n), elementSize: elementSize}, nil
}

// str is the length of the string in field slot i (0 when absent).
func (t fbTable) str(slot int) (int, error) {
	v, err := t.vector(slot, 1)
	return v.n, err
}

// tableAt is the table that element j of a vector of tables points to.
func (v fbVector) tableAt(j int) (fbTable, error) {
	p := v.start + 4*j
	return fbTableAt(v.b, p+int(binary.LittleEndian.Uint32(v.b[p:])))
}

// i64At is element j of a vector of longs or of structs starting with longs: word w
// of element j, 8 bytes each.
func (v fbVector) i64At(j, w int) int64 {
	return int64(binary.LittleEndian.Uint64(v.b[v.start+j*v.elementSize+8*w:]))
}
