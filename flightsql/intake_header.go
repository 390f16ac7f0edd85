package flightsql

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow/flight"
)

// The header check: every FlightData a client sends is checked here before arrow-go's
// IPC reader sees it. arrow-go sizes slices from the counts in a header
// (make([]arrow.Field, schema.FieldsLength()) in ipc/metadata.go schemaFromFB, and
// the same for children and custom metadata) and allocates a compressed buffer's
// claimed uncompressed size (ipc/file_reader.go ipcSource.buffer). A count patched to
// four billion is then a fatal out-of-memory, which no recover catches. So no count
// may exceed what the message's bytes could hold, and what a header expands to when
// decoded is bounded too: offsets in a flatbuffer may share a table, so a small
// header can name the same field a million times.
//
// The layouts read (Arrow's Message.fbs and Schema.fbs), by field slot:
//
//	Message         0 version, 1 header_type, 2 header, 3 bodyLength, 4 custom_metadata
//	Schema          0 endianness, 1 fields, 2 custom_metadata, 3 features
//	Field           0 name, 1 nullable, 2 type_type, 3 type, 4 dictionary, 5 children, 6 custom_metadata
//	DictionaryEncoding 0 id, 1 indexType
//	KeyValue        0 key, 1 value
//	Union           0 mode, 1 typeIds
//	RecordBatch     0 length, 1 nodes (16-byte structs), 2 buffers (16-byte structs), 3 compression, 4 variadicBufferCounts
//	DictionaryBatch 0 id, 1 data, 2 isDelta

const (
	// maxHeaderItems bounds what one header decodes to: fields (nested ones
	// included), custom metadata entries and union type codes. A schema of 100,000
	// columns decodes to some tens of MB in arrow-go.
	maxHeaderItems = 100_000
	// maxNesting bounds how deep fields nest: arrow-go's IPC reader stops loading
	// arrays at 64 levels, and decodes schemas recursively without a limit.
	maxNesting = 64
	// maxUncompressedBody bounds what the compressed buffers of one message may
	// expand to: as much as an uncompressed message may hold by default.
	maxUncompressedBody = 256 << 20
	// maxDictionaryBytes bounds the dictionaries one stream keeps alive: deltas
	// accumulate for the whole stream.
	maxDictionaryBytes = 256 << 20
	// emptyColumnRows bounds the rows of a batch that has no body bytes to hold
	// them (a column of type null, a struct without fields): every other layout
	// needs at least one byte per 8 rows.
	emptyColumnRows = 1 << 16
)

// Message header types (MessageHeader in Message.fbs) and metadata versions.
const (
	headerSchema          = 1
	headerDictionaryBatch = 2
	headerRecordBatch     = 3
	metadataV4            = 3
	metadataV5            = 4
	typeUnion             = 14 // Type.Union in Schema.fbs
	maxTypeType           = 26 // Type.LargeListView, the last type in Schema.fbs
)

var headerTypeNames = map[uint8]string{0: "NONE", 1: "Schema", 2: "DictionaryBatch", 3: "RecordBatch", 4: "Tensor", 5: "SparseTensor"}

// headerCheck checks the messages of one stream, in order.
type headerCheck struct {
	n         int            // messages with a header seen
	schema    bool           // the schema message has been seen
	dicts     map[int64]bool // dictionary ids the schema declares
	dictBytes map[int64]int  // body bytes each dictionary keeps alive
}

// check checks one FlightData. A message without a header is allowed only first (a
// descriptor alone): arrow-go's reader skips it there and cannot decode it anywhere
// else.
func (c *headerCheck) check(fd *flight.FlightData) error {
	if len(fd.GetDataHeader()) == 0 {
		if c.n == 0 && len(fd.GetDataBody()) == 0 {
			return nil
		}
		return fmt.Errorf("message %d has no IPC header", c.n+1)
	}
	c.n++
	if err := c.message(fd.GetDataHeader(), fd.GetDataBody()); err != nil {
		return fmt.Errorf("message %d: %w", c.n, err)
	}
	return nil
}

func (c *headerCheck) message(hdr, body []byte) error {
	msg, err := fbRoot(hdr)
	if err != nil {
		return err
	}
	version, err := msg.i16(0)
	if err != nil {
		return err
	}
	if version != metadataV4 && version != metadataV5 {
		return fmt.Errorf("metadata version %d: want V4 or V5 (Arrow 0.8 and later)", int(version)+1)
	}
	typ, err := msg.u8(1)
	if err != nil {
		return err
	}
	bodyLen, err := msg.i64(3)
	if err != nil {
		return err
	}
	// Writers pad the body to 8 bytes; the length may count padding not sent.
	if bodyLen < 0 || bodyLen > int64(len(body)+7)&^7 {
		return fmt.Errorf("%s header claims a body of %d bytes; the message carries %d", headerName(typ), bodyLen, len(body))
	}
	sub, present, err := msg.table(2)
	if err != nil {
		return err
	}
	if !present {
		return fmt.Errorf("%s message without its header table", headerName(typ))
	}
	budget := &decodeBudget{items: maxHeaderItems, strBytes: len(hdr)}
	if err := budget.metadata(msg, 4); err != nil {
		return fmt.Errorf("message metadata: %w", err)
	}
	switch {
	case typ == headerSchema && !c.schema:
		c.schema = true
		c.dicts = map[int64]bool{}
		c.dictBytes = map[int64]int{}
		return c.checkSchema(sub, budget)
	case typ == headerSchema:
		return fmt.Errorf("a second Schema message; a stream has one schema")
	case !c.schema:
		return fmt.Errorf("%s before the Schema message; a stream starts with its schema", headerName(typ))
	case typ == headerRecordBatch:
		return checkBatch(sub, body)
	case typ == headerDictionaryBatch:
		return c.checkDictionary(sub, body)
	}
	return fmt.Errorf("%s message: a stream holds only Schema, DictionaryBatch and RecordBatch messages", headerName(typ))
}

func headerName(typ uint8) string {
	if n, ok := headerTypeNames[typ]; ok {
		return n
	}
	return fmt.Sprintf("MessageHeader(%d)", typ)
}

// decodeBudget is what a header may still decode to.
type decodeBudget struct {
	items    int // fields, metadata entries, type codes
	strBytes int // bytes of names, keys and values: each is copied once per use
}

func (b *decodeBudget) take(items, strBytes int) error {
	b.items -= items
	b.strBytes -= strBytes
	switch {
	case b.items < 0:
		return fmt.Errorf("the header decodes to more than %d fields, metadata entries and type codes", maxHeaderItems)
	case b.strBytes < 0:
		return fmt.Errorf("the header's names and metadata decode to more bytes than the header has (a table used many times)")
	}
	return nil
}

// metadata checks the custom_metadata vector in slot of t.
func (b *decodeBudget) metadata(t fbTable, slot int) error {
	v, err := t.vector(slot, 4)
	if err != nil {
		return err
	}
	if err := b.take(v.n, 0); err != nil {
		return err
	}
	for j := 0; j < v.n; j++ {
		kv, err := v.tableAt(j)
		if err != nil {
			return fmt.Errorf("metadata entry %d: %w", j, err)
		}
		k, err := kv.str(0)
		if err != nil {
			return fmt.Errorf("metadata entry %d key: %w", j, err)
		}
		val, err := kv.str(1)
		if err != nil {
			return fmt.Errorf("metadata entry %d value: %w", j, err)
		}
		if err := b.take(0, k+val); err != nil {
			return err
		}
	}
	return nil
}

// checkSchema checks a Schema table and notes the dictionary ids it declares.
func (c *headerCheck) checkSchema(s fbTable, b *decodeBudget) error {
	if err := b.metadata(s, 2); err != nil {
		return fmt.Errorf("schema metadata: %w", err)
	}
	if _, err := s.vector(3, 8); err != nil {
		return fmt.Errorf("schema features: %w", err)
	}
	fields, err := s.vector(1, 4)
	if err != nil {
		return fmt.Errorf("schema fields: %w", err)
	}
	return c.checkFields(fields, b, 1, "")
}

func (c *headerCheck) checkFields(fields fbVector, b *decodeBudget, depth int, parent string) error {
	if depth > maxNesting {
		return fmt.Errorf("field %snests more than %d levels deep", parent, maxNesting)
	}
	if err := b.take(fields.n, 0); err != nil {
		return err
	}
	for j := 0; j < fields.n; j++ {
		path := fmt.Sprintf("%s%d", parent, j)
		f, err := fields.tableAt(j)
		if err == nil {
			err = c.checkField(f, b, depth, path)
		}
		if err != nil {
			return fmt.Errorf("field %s: %w", path, err)
		}
	}
	return nil
}

func (c *headerCheck) checkField(f fbTable, b *decodeBudget, depth int, path string) error {
	name, err := f.str(0)
	if err != nil {
		return fmt.Errorf("name: %w", err)
	}
	if err := b.take(0, name); err != nil {
		return err
	}
	if err := b.metadata(f, 6); err != nil {
		return fmt.Errorf("metadata: %w", err)
	}
	typ, err := f.u8(2)
	if err != nil {
		return err
	}
	if typ == 0 || typ > maxTypeType {
		return fmt.Errorf("type %d is not an Arrow type", typ)
	}
	t, present, err := f.table(3)
	if err != nil {
		return fmt.Errorf("type: %w", err)
	}
	if !present {
		return fmt.Errorf("no type table")
	}
	if typ == typeUnion {
		ids, err := t.vector(1, 4)
		if err != nil {
			return fmt.Errorf("union type ids: %w", err)
		}
		if err := b.take(ids.n, 0); err != nil {
			return err
		}
	}
	dict, present, err := f.table(4)
	if err != nil {
		return fmt.Errorf("dictionary: %w", err)
	}
	if present {
		id, err := dict.i64(0)
		if err != nil {
			return fmt.Errorf("dictionary id: %w", err)
		}
		if _, _, err := dict.table(1); err != nil {
			return fmt.Errorf("dictionary index type: %w", err)
		}
		if c.dicts[id] {
			return fmt.Errorf("dictionary id %d is used twice", id)
		}
		c.dicts[id] = true
	}
	children, err := f.vector(5, 4)
	if err != nil {
		return fmt.Errorf("children: %w", err)
	}
	return c.checkFields(children, b, depth+1, path+".")
}

// checkBatch checks a RecordBatch table against the body it describes.
func checkBatch(rb fbTable, body []byte) error {
	// Every layout but the empty ones holds at least 8 rows per body byte.
	maxRows := max(int64(len(body))*8, emptyColumnRows)
	rows, err := rb.i64(0)
	if err != nil {
		return err
	}
	if rows < 0 || rows > maxRows {
		return fmt.Errorf("the batch claims %d rows; its %d-byte body can hold at most %d", rows, len(body), maxRows)
	}
	nodes, err := rb.vector(1, 16)
	if err != nil {
		return fmt.Errorf("field nodes: %w", err)
	}
	for j := 0; j < nodes.n; j++ {
		n, nulls := nodes.i64At(j, 0), nodes.i64At(j, 1)
		if n < 0 || n > maxRows || nulls < 0 || nulls > n {
			return fmt.Errorf("field node %d claims %d values and %d nulls; the %d-byte body can hold at most %d values", j, n, nulls, len(body), maxRows)
		}
	}
	bufs, err := rb.vector(2, 16)
	if err != nil {
		return fmt.Errorf("buffers: %w", err)
	}
	for j := 0; j < bufs.n; j++ {
		off, n := bufs.i64At(j, 0), bufs.i64At(j, 1)
		if off < 0 || n < 0 || off > int64(len(body)) || n > int64(len(body))-off {
			return fmt.Errorf("buffer %d (offset %d, length %d) is outside the %d-byte body", j, off, n, len(body))
		}
	}
	variadic, err := rb.vector(4, 8)
	if err != nil {
		return fmt.Errorf("variadic buffer counts: %w", err)
	}
	total := int64(0)
	for j := 0; j < variadic.n; j++ {
		n := variadic.i64At(j, 0)
		if n < 0 || n > int64(bufs.n)-total {
			return fmt.Errorf("variadic buffer count %d is %d; the batch has %d buffers", j, n, bufs.n)
		}
		total += n
	}
	comp, present, err := rb.table(3)
	if err != nil {
		return fmt.Errorf("compression: %w", err)
	}
	if present {
		return checkCompressed(comp, bufs, body)
	}
	return nil
}

// checkCompressed checks the uncompressed sizes that prefix each compressed buffer:
// arrow-go allocates them before decompressing.
func checkCompressed(comp fbTable, bufs fbVector, body []byte) error {
	codec, err := comp.u8(0)
	if err != nil {
		return err
	}
	method, err := comp.u8(1)
	if err != nil {
		return err
	}
	if codec > 1 || method != 0 {
		return fmt.Errorf("compression codec %d, method %d: want LZ4_FRAME (0) or ZSTD (1), BUFFER (0)", codec, method)
	}
	var total int64
	for j := 0; j < bufs.n; j++ {
		off, n := bufs.i64At(j, 0), bufs.i64At(j, 1)
		if n == 0 {
			continue
		}
		if n < 8 {
			return fmt.Errorf("compressed buffer %d is %d bytes, shorter than its 8-byte length prefix", j, n)
		}
		size := int64(0)
		for k := 7; k >= 0; k-- {
			size = size<<8 | int64(body[off+int64(k)])
		}
		if size == -1 {
			continue // stored uncompressed
		}
		if size < 0 || size > maxUncompressedBody-total {
			return fmt.Errorf("compressed buffer %d claims %d bytes uncompressed; a message may expand to at most %d", j, size, maxUncompressedBody)
		}
		total += size
	}
	return nil
}

// checkDictionary checks a DictionaryBatch: a dictionary the schema declares, and
// its data as a batch.
func (c *headerCheck) checkDictionary(d fbTable, body []byte) error {
	id, err := d.i64(0)
	if err != nil {
		return err
	}
	if !c.dicts[id] {
		return fmt.Errorf("dictionary batch for id %d, which no field of the schema declares", id)
	}
	delta, err := d.u8(2)
	if err != nil {
		return err
	}
	data, present, err := d.table(1)
	if err != nil {
		return fmt.Errorf("dictionary %d data: %w", id, err)
	}
	if !present {
		return fmt.Errorf("dictionary %d without data", id)
	}
	if err := checkBatch(data, body); err != nil {
		return fmt.Errorf("dictionary %d: %w", id, err)
	}
	if delta == 0 {
		c.dictBytes[id] = 0 // a replacement frees what the old one held
	}
	c.dictBytes[id] += len(body)
	sum := 0
	for _, n := range c.dictBytes {
		sum += n
	}
	if sum > maxDictionaryBytes {
		return fmt.Errorf("the stream's dictionaries hold more than %d bytes", maxDictionaryBytes)
	}
	return nil
}
