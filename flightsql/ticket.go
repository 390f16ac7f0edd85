package flightsql

import (
	"fmt"

	"github.com/quiverdata/quiver/catalog"
)

// datasetFromTicket decodes a plain Flight ticket: the dataset name's bytes, as the
// Arrow cookbook's server issues them.
func datasetFromTicket(b []byte) (string, error) {
	name := string(b)
	if err := catalog.ValidateName(name); err != nil {
		return "", fmt.Errorf("%w: ticket is neither a dataset name nor a Flight SQL ticket: %w", errInvalidRequest, err)
	}
	return name, nil
}
