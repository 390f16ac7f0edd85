// Package flightsql is Quiver's gRPC face: the plain Arrow Flight dataset endpoints of
// the Arrow cookbook recipe and the Arrow Flight SQL service, composed on one
// flight.FlightServiceServer.
//
// Handlers stay thin: they decode the request, call the catalog or the engine and map
// domain errors to gRPC status codes in one place (errors.go). This package holds no
// storage or SQL logic of its own.
package flightsql
