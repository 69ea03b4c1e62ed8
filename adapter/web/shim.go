package web

import (
	"bytes"
	"fmt"
	"io/fs"
	"sort"
)

// ShimDir holds the parts of the JS shim: files that, concatenated in name order, are the one
// classic script served as /static/cti.js (a CRM page loads one file; the source stays in files
// a reader can take in). The parts are not served on their own.
const ShimDir = "shim"

// AssembleShim returns the shim: every ShimDir/*.js of files, in name order, joined.
func AssembleShim(files fs.FS) ([]byte, error) {
	names, err := fs.Glob(files, ShimDir+"/*.js")
	if err != nil || len(names) == 0 {
		return nil, fmt.Errorf("web: no %s/*.js in the embedded files (%v)", ShimDir, err)
	}
	sort.Strings(names)
	var b bytes.Buffer
	for _, n := range names {
		part, err := fs.ReadFile(files, n)
		if err != nil {
			return nil, err
		}
		b.Write(part)
	}
	return b.Bytes(), nil
}
