// Command cti-adapter connects a CRM to telephony. See README.md.
package main

import (
	"os"

	"github.com/cti-adapter/cti-adapter/adapter/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr))
}
