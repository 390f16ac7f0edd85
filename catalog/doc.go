// Package catalog is Quiver's dataset store: a directory of Parquet datasets.
//
// It owns dataset names, the Parquet parts on disk, their cached metadata and the
// atomic put, append and drop of a dataset. It knows nothing of Flight, gRPC or DuckDB;
// those layers call it.
package catalog
