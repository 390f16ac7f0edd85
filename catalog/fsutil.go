package catalog

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/quiverdata/quiver/catalog/storage/local"
)

// Names the store gives its own files. Dataset names never start with '.', so these
// can never collide with a dataset, and a sweep at Open removes any left by a crash.
const (
	tempPrefix   = local.TempPrefix // the local backend writes such keys in place
	trashPrefix  = ".quiver-trash-"
	manifestName = "_quiver_manifest.json"
)

// randomSuffix returns a short random hex string for temporary and part names.
func randomSuffix() string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("crypto/rand failed: %v", err)) // never fails on Linux
	}
	return hex.EncodeToString(b[:])
}

// isInternal reports whether a directory entry is one of the store's own temporary
// or trash entries.
func isInternal(name string) bool {
	return strings.HasPrefix(name, tempPrefix) || strings.HasPrefix(name, trashPrefix)
}
