package partcache

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
)

// checksumChunk is the span of each chunk checksum. It is part of the file-name format
// (files written with another span would not verify), so it never changes.
const checksumChunk = 8 << 20

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// A file's checksum is the CRC-32C of the little-endian CRC-32Cs of its 8 MiB chunks, in
// order. Chunks are downloaded in parallel and out of order; this lets each be summed on
// its own, where a plain CRC of the whole file would need them in sequence.
func combineChunkSums(sums []uint32) uint32 {
	buf := make([]byte, 4*len(sums))
	for i, s := range sums {
		binary.LittleEndian.PutUint32(buf[4*i:], s)
	}
	return crc32.Checksum(buf, castagnoli)
}

func chunkCount(size int64) int { return int((size + checksumChunk - 1) / checksumChunk) }

// fileChecksum computes a file's checksum by reading it in order.
func fileChecksum(r io.Reader, size int64) (uint32, int64, error) {
	buf := make([]byte, min(int64(checksumChunk), max(size, 1)))
	var sums []uint32
	var total int64
	for {
		n, err := io.ReadFull(r, buf)
		if n > 0 {
			sums = append(sums, crc32.Checksum(buf[:n], castagnoli))
			total += int64(n)
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return combineChunkSums(sums), total, nil
		}
		if err != nil {
			return 0, total, err
		}
	}
}

// verifyFile checks a file against the size and checksum its name carries.
func verifyFile(path string, size int64, want uint32) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("%w: %v", errCorrupt, err)
	}
	defer f.Close()
	got, n, err := fileChecksum(f, size)
	if err != nil {
		return fmt.Errorf("%w: %v", errCorrupt, err)
	}
	if n != size || got != want {
		return fmt.Errorf("%w: %s holds %d bytes with checksum %08x, its name says %d and %08x",
			errCorrupt, filepath.Base(path), n, got, size, want)
	}
	return nil
}
