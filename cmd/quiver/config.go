package main

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/spf13/pflag"
)

// Settings of `quiver serve` come from four places; the first that has one wins:
//
//  1. the command line (--query-timeout 30s),
//  2. the environment (QUIVER_QUERY_TIMEOUT=30s),
//  3. the TOML config file --config names (query-timeout = "30s"),
//  4. the flag's default.
//
// It is generic over the flag set: a flag added to `serve` has its variable and its
// config key with no more code. Empty variables count as unset. QUIVER_* variables
// that name no flag are ignored (QUIVER_SERVER is the clients'); config keys that
// name no flag are an error.

// configFlag names the config file; it is not itself a config key.
const configFlag = "config"

// envPrefix starts the environment variable of every flag.
const envPrefix = "QUIVER_"

// envName is the environment variable of the flag name: QUIVER_QUERY_TIMEOUT for
// query-timeout.
func envName(flag string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// lookupEnv is os.LookupEnv; tests replace it.
var lookupEnv = os.LookupEnv

// applyConfig sets every flag of fs that the command line did not from its
// environment variable, else from the config file.
func applyConfig(fs *pflag.FlagSet, env func(string) (string, bool)) error {
	path, err := configPath(fs, env)
	if err != nil {
		return err
	}
	file := map[string]any{}
	if path != "" {
		if file, err = readConfigFile(path, fs); err != nil {
			return err
		}
	}
	var errs []error
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Changed || !configurable(f.Name) {
			return
		}
		if v, ok := env(envName(f.Name)); ok && v != "" {
			if err := f.Value.Set(v); err != nil {
				errs = append(errs, fmt.Errorf("%s=%q: %w", envName(f.Name), v, err))
			}
			f.Changed = true
			return
		}
		if v, ok := file[f.Name]; ok {
			if err := setFromConfig(f, v); err != nil {
				errs = append(errs, fmt.Errorf("config file %s: %s: %w", path, f.Name, err))
			}
			f.Changed = true
		}
	})
	return errors.Join(errs...)
}

// configPath is --config, else QUIVER_CONFIG.
func configPath(fs *pflag.FlagSet, env func(string) (string, bool)) (string, error) {
	f := fs.Lookup(configFlag)
	if f == nil {
		return "", nil
	}
	if f.Changed {
		return f.Value.String(), nil
	}
	if v, ok := env(envName(configFlag)); ok && v != "" {
		return v, f.Value.Set(v)
	}
	return "", nil
}

// configurable reports whether a flag has a variable and a config key.
func configurable(name string) bool { return name != configFlag && name != "help" }

// readConfigFile reads the TOML file at path into values by flag name. A key is a
// flag's name; _ may stand for - (query_timeout). A key that names no flag of fs is
// an error that names it.
func readConfigFile(path string, fs *pflag.FlagSet) (map[string]any, error) {
	raw := map[string]any{}
	if _, err := toml.DecodeFile(path, &raw); err != nil {
		return nil, fmt.Errorf("config file %s: %w", path, err)
	}
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	values := make(map[string]any, len(raw))
	for _, k := range keys {
		name := strings.ReplaceAll(k, "_", "-")
		if !configurable(name) || fs.Lookup(name) == nil {
			return nil, fmt.Errorf("config file %s: unknown key %q: the keys are the flags of `quiver serve`: %s", path, k, strings.Join(flagNames(fs), ", "))
		}
		if _, dup := values[name]; dup {
			return nil, fmt.Errorf("config file %s: key %q is set twice (as %s and with _)", path, k, name)
		}
		values[name] = raw[k]
	}
	return values, nil
}

// flagNames are the names of fs's configurable flags, in order.
func flagNames(fs *pflag.FlagSet) []string {
	var names []string
	fs.VisitAll(func(f *pflag.Flag) {
		if configurable(f.Name) {
			names = append(names, f.Name)
		}
	})
	return names
}

// setFromConfig sets f from a TOML value: a string as written, a number or boolean
// in its decimal or true/false form, an array only for list flags.
func setFromConfig(f *pflag.Flag, v any) error {
	switch v := v.(type) {
	case string:
		return f.Value.Set(v)
	case int64:
		return f.Value.Set(strconv.FormatInt(v, 10))
	case float64:
		return f.Value.Set(strconv.FormatFloat(v, 'f', -1, 64))
	case bool:
		return f.Value.Set(strconv.FormatBool(v))
	case []any:
		sv, ok := f.Value.(pflag.SliceValue)
		if !ok {
			return fmt.Errorf("a list, but the flag takes one %s", f.Value.Type())
		}
		items := make([]string, len(v))
		for i, item := range v {
			switch item := item.(type) {
			case string:
				items[i] = item
			case int64, float64, bool:
				items[i] = fmt.Sprint(item)
			default:
				return fmt.Errorf("list item %d is a %T", i, item)
			}
		}
		return sv.Replace(items)
	case map[string]any:
		return errors.New("a table, but settings are top-level keys named after the flags")
	}
	return fmt.Errorf("a TOML %T; write the value as a string, as on the command line", v)
}
