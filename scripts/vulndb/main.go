//go:build ignore

// Command vulndb builds an offline Go vulnerability database for govulncheck.
//
// govulncheck normally reads its database from the network. This program
// builds the same thing from the golang.org/x/vulndb module, which the Go
// module proxy serves and which carries every published OSV entry under
// data/osv. The output directory follows the database's v1 layout, so
// govulncheck reads it with -db file:///path:
//
//	index/db.json       {"modified": ...}
//	index/modules.json  [{"path": ..., "vulns": [{"id": ..., "modified": ...}]}]
//	ID/GO-YYYY-NNNN.json one OSV entry each, copied byte for byte
//
// # Choices
//
// The entries in the module carry a zero "modified" time (the hosted
// database fills it in from its own history), so index/db.json records the
// time of the x/vulndb commit instead: the newest data the database can hold.
//
// The optional "fixed" hint of the modules index is left out. govulncheck
// uses it only to skip reading entries that are already fixed at the
// module's version; without it, govulncheck reads every entry of a used
// module and decides with its own version matching, so nothing is hidden.
//
// # Usage
//
//	go run scripts/vulndb/main.go -version v0.0.0-20261105234957-e22db6528018 -out DIR
//
// DIR must not exist yet; it is written through a temporary sibling
// directory and renamed into place, so a half-built database is never seen.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

const modulePath = "golang.org/x/vulndb"

func main() {
	version := flag.String("version", "", "version of "+modulePath+" to build from (required)")
	out := flag.String("out", "", "directory to write the database to (required, must not exist)")
	flag.Parse()
	if *version == "" || *out == "" {
		fmt.Fprintln(os.Stderr, "usage: go run scripts/vulndb/main.go -version VERSION -out DIR")
		os.Exit(2)
	}
	start := time.Now()
	stats, err := build(*version, *out)
	if err != nil {
		fmt.Fprintf(os.Stderr, "vulndb: %v\n", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "vulndb: wrote %d entries for %d modules (data as of %s) to %s in %s\n",
		stats.entries, stats.modules, stats.modified.Format(time.RFC3339), *out,
		time.Since(start).Round(time.Millisecond))
}

// download is what `go mod download -json` prints for one module.
type download struct {
	Dir   string
	Info  string
	Error string
}

// entry is the part of an OSV entry the index needs.
type entry struct {
	ID       string    `json:"id"`
	Modified time.Time `json:"modified"`
	Affected []struct {
		Package struct {
			Name      string `json:"name"`
			Ecosystem string `json:"ecosystem"`
		} `json:"package"`
	} `json:"affected"`
}

type moduleVuln struct {
	ID       string    `json:"id"`
	Modified time.Time `json:"modified"`
}

type moduleMeta struct {
	Path  string       `json:"path"`
	Vulns []moduleVuln `json:"vulns"`
}

type buildStats struct {
	entries, modules int
	modified         time.Time
}

func build(version, out string) (buildStats, error) {
	if _, err := os.Stat(out); err == nil {
		return buildStats{}, fmt.Errorf("output directory %s already exists", out)
	}
	dl, err := fetch(version)
	if err != nil {
		return buildStats{}, err
	}
	commitTime, err := infoTime(dl.Info)
	if err != nil {
		return buildStats{}, err
	}
	src := filepath.Join(dl.Dir, "data", "osv")
	names, err := filepath.Glob(filepath.Join(src, "*.json"))
	if err != nil {
		return buildStats{}, fmt.Errorf("failed to list %s: %w", src, err)
	}
	if len(names) == 0 {
		return buildStats{}, fmt.Errorf("no OSV entries in %s: this version of %s carries no data", src, modulePath)
	}

	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return buildStats{}, fmt.Errorf("failed to create parent of %s: %w", out, err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(out), ".vulndb-build-")
	if err != nil {
		return buildStats{}, fmt.Errorf("failed to create build directory: %w", err)
	}
	defer os.RemoveAll(tmp) // no-op after the rename below
	for _, d := range []string{"ID", "index"} {
		if err := os.Mkdir(filepath.Join(tmp, d), 0o755); err != nil {
			return buildStats{}, fmt.Errorf("failed to create %s: %w", d, err)
		}
	}

	modules := map[string]*moduleMeta{}
	dbModified := commitTime
	for _, name := range names {
		raw, err := os.ReadFile(name)
		if err != nil {
			return buildStats{}, fmt.Errorf("failed to read %s: %w", name, err)
		}
		var e entry
		if err := json.Unmarshal(raw, &e); err != nil {
			return buildStats{}, fmt.Errorf("failed to parse %s: %w", name, err)
		}
		if e.ID == "" || filepath.Base(name) != e.ID+".json" || strings.ContainsAny(e.ID, `/\`) {
			return buildStats{}, fmt.Errorf("entry %s has id %q, want the file's name", name, e.ID)
		}
		if e.Modified.After(dbModified) {
			dbModified = e.Modified
		}
		seen := map[string]bool{}
		for _, a := range e.Affected {
			path := a.Package.Name
			if path == "" {
				return buildStats{}, fmt.Errorf("entry %s has an affected package without a name", e.ID)
			}
			if seen[path] {
				continue
			}
			seen[path] = true
			m := modules[path]
			if m == nil {
				m = &moduleMeta{Path: path}
				modules[path] = m
			}
			m.Vulns = append(m.Vulns, moduleVuln{ID: e.ID, Modified: e.Modified})
		}
		if err := os.WriteFile(filepath.Join(tmp, "ID", e.ID+".json"), raw, 0o644); err != nil {
			return buildStats{}, fmt.Errorf("failed to write entry %s: %w", e.ID, err)
		}
	}

	index := make([]*moduleMeta, 0, len(modules))
	for _, m := range modules {
		sort.Slice(m.Vulns, func(i, j int) bool { return m.Vulns[i].ID < m.Vulns[j].ID })
		index = append(index, m)
	}
	sort.Slice(index, func(i, j int) bool { return index[i].Path < index[j].Path })
	if err := writeJSON(filepath.Join(tmp, "index", "modules.json"), index); err != nil {
		return buildStats{}, err
	}
	db := struct {
		Modified time.Time `json:"modified"`
	}{dbModified.UTC()}
	if err := writeJSON(filepath.Join(tmp, "index", "db.json"), db); err != nil {
		return buildStats{}, err
	}
	if err := os.Rename(tmp, out); err != nil {
		return buildStats{}, fmt.Errorf("failed to move database into %s: %w", out, err)
	}
	return buildStats{entries: len(names), modules: len(index), modified: dbModified}, nil
}

// fetch downloads the module through the go command (and so through the
// module proxy and checksum database) into the module cache.
func fetch(version string) (download, error) {
	// Run outside any module so the project's go.mod is neither read nor changed.
	dir, err := os.MkdirTemp("", "vulndb-fetch-")
	if err != nil {
		return download{}, fmt.Errorf("failed to create temporary directory: %w", err)
	}
	defer os.RemoveAll(dir)
	cmd := exec.Command("go", "mod", "download", "-json", modulePath+"@"+version)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GO111MODULE=on", "GOFLAGS=-mod=mod")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	var dl download
	if err := json.Unmarshal(stdout.Bytes(), &dl); err != nil {
		if runErr != nil {
			return download{}, fmt.Errorf("failed to download %s@%s: %w: %s", modulePath, version, runErr, strings.TrimSpace(stderr.String()))
		}
		return download{}, fmt.Errorf("failed to parse go mod download output: %w", err)
	}
	if dl.Error != "" {
		return download{}, fmt.Errorf("failed to download %s@%s: %s", modulePath, version, dl.Error)
	}
	if runErr != nil {
		return download{}, fmt.Errorf("failed to download %s@%s: %w: %s", modulePath, version, runErr, strings.TrimSpace(stderr.String()))
	}
	if dl.Dir == "" {
		return download{}, errors.New("go mod download reported no module directory")
	}
	return dl, nil
}

// infoTime reads the commit time from the module's .info file.
func infoTime(path string) (time.Time, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return time.Time{}, fmt.Errorf("failed to read module info: %w", err)
	}
	var info struct{ Time time.Time }
	if err := json.Unmarshal(raw, &info); err != nil {
		return time.Time{}, fmt.Errorf("failed to parse module info %s: %w", path, err)
	}
	return info.Time, nil
}

func writeJSON(path string, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("failed to encode %s: %w", filepath.Base(path), err)
	}
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		return fmt.Errorf("failed to write %s: %w", path, err)
	}
	return nil
}
