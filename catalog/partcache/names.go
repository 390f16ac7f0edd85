package partcache

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
)

// File names in the cache directory:
//
//	<id>-<size>-<crc32c>.part   a complete, fsynced copy of one object version
//	dl-*.tmp                    a download in progress (deleted at Open)
//	LOCK                        held with flock by the process that owns the directory
//
// id is a hash of the bucket's name, the key and the version, so the directory needs no
// index: a file's name says which entry it is and how to check it.
const (
	partSuffix  = ".part"
	tempPattern = "dl-*.tmp"
	tempPrefix  = "dl-"
	tempSuffix  = ".tmp"
	lockName    = "LOCK"
	idLen       = 32 // hex digits: 128 bits of SHA-256
)

// entryID names one version of one object of one bucket.
func entryID(bucket, key, version string) string {
	h := sha256.New()
	// Lengths first, so no two different triples hash the same bytes.
	fmt.Fprintf(h, "%d:%s\x00%d:%s\x00%d:%s", len(bucket), bucket, len(key), key, len(version), version)
	return hex.EncodeToString(h.Sum(nil))[:idLen]
}

func fileName(id string, size int64, crc uint32) string {
	return fmt.Sprintf("%s-%d-%08x%s", id, size, crc, partSuffix)
}

// parseFileName reads a part file's name; ok is false for any other name.
func parseFileName(name string) (id string, size int64, crc uint32, ok bool) {
	rest, found := strings.CutSuffix(name, partSuffix)
	if !found {
		return "", 0, 0, false
	}
	fields := strings.Split(rest, "-")
	if len(fields) != 3 || len(fields[0]) != idLen || len(fields[2]) != 8 {
		return "", 0, 0, false
	}
	if _, err := hex.DecodeString(fields[0]); err != nil {
		return "", 0, 0, false
	}
	size, err := strconv.ParseInt(fields[1], 10, 64)
	if err != nil || size < 0 || strconv.FormatInt(size, 10) != fields[1] {
		return "", 0, 0, false
	}
	c, err := strconv.ParseUint(fields[2], 16, 32)
	if err != nil {
		return "", 0, 0, false
	}
	return fields[0], size, uint32(c), true
}
