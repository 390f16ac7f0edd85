// Package partcache is the local read-through cache of immutable parts: the engine's
// DuckDB has no httpfs, so parts that live in object storage are read from local copies
// that this package downloads, keeps within a byte budget and evicts.
//
// Invariants:
//   - An entry is keyed by bucket, key and version (S3: the ETag), so the cache can never
//     serve bytes of another version: a part that changed is a different entry, and a
//     download that finds a version other than the one asked for fails with
//     storage.ErrConflict.
//   - A file appears under its final name only complete and fsynced (temp file, fsync,
//     rename, directory fsync). Its name carries its size and CRC-32C; files found at
//     Open are checked against both before they are first served, so a truncated or
//     corrupt file left by a crash or a bad disk is deleted and downloaded again, never
//     served. Temp files from an interrupted download are deleted at Open.
//   - Concurrent Gets of one entry share one download (singleflight). A download whose
//     every waiter has given up is cancelled.
//   - The budget (Options.MaxBytes) counts finished and in-progress entries. Eviction
//     takes least-recently-used entries that nobody holds; an entry is held from Get
//     until its release func is called, and a held entry's file is never deleted. While
//     held entries alone exceed the budget, the cache goes over it rather than pull a
//     file from under a reader, and comes back under as they are released.
//   - One process owns a cache directory at a time (an exclusive flock on its LOCK file):
//     two processes evicting each other's files under readers would break the above.
//
// It is not a general object cache: it serves whole immutable objects as local files for
// readers that need a path. Recency is kept in memory; after a restart, entries found on
// disk are ordered by their file times (download order).
package partcache
