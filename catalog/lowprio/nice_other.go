//go:build !linux

package lowprio

import "errors"

func lower(int) {}

// checkNice: only Linux gives each thread its own priority.
func checkNice(int) error {
	return errors.New("lowprio: lowering bulk threads' priority needs Linux")
}
