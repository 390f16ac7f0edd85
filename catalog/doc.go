// Package catalog is Quiver's dataset store: a directory of Parquet datasets.
//
// It owns dataset names, the Parquet parts, their cached metadata and the atomic put,
// append and drop of a dataset. Its bytes live in a storage.Bucket (catalog/storage):
// Open takes a local directory (catalog/storage/local), OpenBucket any bucket. It
// knows nothing of Flight, gRPC or DuckDB; those layers call it.
package catalog
